// 10 — the event WebSocket: authentication at the handshake, Origin check
// for cookie tickets, ping/pong, security notices, and closing within
// seconds of sign-out, revocation or expiry.  (WC-TICKET, PS-IA-f,
// PS-COM-c, RG-COMM-a)
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, parseSetCookies } from './lib/server.mjs';

let srv, admin, sec, wendy;
const open = [];
before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	wendy = await srv.createUser(admin.ticket, 'acme', 'wendy.ws');
});
after(async () => {
	for (const c of open)
		c.close();
	await srv?.dispose();
});

async function connect(opts) {
	const c = await srv.openWs(opts);
	open.push(c);
	return c;
}

async function refused(opts, what) {
	let c;
	try {
		c = await srv.openWs(opts);
	} catch (e) {
		return e;
	}
	open.push(c);
	// some servers accept and close at once; that is still no usable socket,
	// but it must not deliver a hello
	const hello = await c.next((m) => m.type === 'hello', 1500).catch(() => null);
	assert.fail(`${what}: the handshake was accepted${hello ? ' and said hello' : ''}`);
}

const fresh = async (extra) => srv.ticketFor('acme', 'wendy.ws', extra);

test('a bearer ticket opens the socket: hello first, then ping -> pong', async () => {
	const t = await srv.login('acme', 'wendy.ws', wendy.password);
	assertStatus(t, 200);
	const c = await connect({ token: t.json.ticket });
	const hello = await c.next((m) => m.type === 'hello', 5000, 'hello');
	assert.equal(hello.user_id, wendy.id);
	assert.equal(hello.session_expires_at, t.json.expires_at);
	c.send({ type: 'ping' });
	const pong = await c.next((m) => m.type === 'pong', 5000, 'pong');
	assert.deepEqual(pong, { type: 'pong' });
	// answering a server ping with pong is accepted silently; junk gets an error but keeps the socket
	c.send({ type: 'pong' });
	c.send('not json');
	await c.next((m) => m.type === 'error', 5000, 'error message');
	c.send({ type: 'ping' });
	await c.next((m) => m.type === 'pong', 5000, 'pong after junk');
	assert.equal(c.closeInfo, null, 'still open');
	c.close();
});

test('no ticket, a forged ticket or a restricted ticket: the handshake is refused', async () => {
	await refused({}, 'no ticket');
	await refused({ token: crypto.randomBytes(32).toString('base64url') }, 'forged ticket');
	await refused({ token: 'x' }, 'malformed ticket');
	await refused({ headers: { authorization: 'Basic YTpi' } }, 'basic auth');
	// a password_change ticket is not a full session
	const u = await srv.post('/api/v1/users', { username: 'rex.restricted' }, { token: admin.ticket });
	const l = await srv.login('acme', 'rex.restricted', u.json.initial_password);
	assertError(l, 403, 'password_change_required');
	await refused({ token: l.json.ticket }, 'password_change ticket');
	// a signed-out ticket
	const t = await fresh();
	assert.equal((await srv.post('/api/v1/auth/logout', undefined, { token: t })).status, 204);
	await refused({ token: t }, 'signed-out ticket');
});

test('a cookie ticket needs the server\'s own Origin', async () => {
	const r = await srv.login('acme', 'wendy.ws', wendy.password, { session: 'cookie' });
	assertStatus(r, 200);
	const cookie = `bw_ticket=${parseSetCookies(r.headers).bw_ticket.value}`;
	for (const origin of ['https://evil.example', 'http://127.0.0.1:' + srv.port, `https://127.0.0.1:${srv.port}.evil.example`,
		'https://localhost:' + srv.port + '@evil.example', 'null']) {
		await refused({ cookie, origin }, `cookie with Origin ${origin}`);
	}
	await refused({ cookie }, 'cookie without Origin');
	const ok = await connect({ cookie, origin: srv.origin() });
	const hello = await ok.next((m) => m.type === 'hello', 5000, 'hello');
	assert.equal(hello.user_id, wendy.id);
	ok.close();
});

test('sign-out: the socket gets session_ended (signed_out) and close 4001 within 10 s', async () => {
	const t = await fresh();
	const c = await connect({ token: t });
	await c.next((m) => m.type === 'hello');
	const t0 = Date.now();
	assert.equal((await srv.post('/api/v1/auth/logout', undefined, { token: t })).status, 204);
	const ended = await c.next((m) => m.type === 'session_ended', 10000, 'session_ended');
	assert.equal(ended.reason, 'signed_out');
	const info = await c.waitClose(10000);
	assert.equal(info.code, 4001);
	assert.ok(Date.now() - t0 < 10000);
});

test('revocation by the secadmin closes every socket of the user (reason revoked)', async () => {
	const t1 = await fresh();
	const t2 = await fresh();
	const c1 = await connect({ token: t1 });
	const c2 = await connect({ token: t2 });
	await c1.next((m) => m.type === 'hello');
	await c2.next((m) => m.type === 'hello');
	// another user's socket must stay open
	const adminSock = await connect({ token: admin.ticket });
	await adminSock.next((m) => m.type === 'hello');
	const r = await srv.post(`/api/v1/users/${wendy.id}/sessions/revoke`, undefined, { token: sec.ticket });
	assertStatus(r, 200);
	for (const c of [c1, c2]) {
		const ended = await c.next((m) => m.type === 'session_ended', 10000, 'session_ended');
		assert.equal(ended.reason, 'revoked');
		assert.equal((await c.waitClose(10000)).code, 4001);
	}
	adminSock.send({ type: 'ping' });
	await adminSock.next((m) => m.type === 'pong', 5000, 'admin pong');
	assert.equal(adminSock.closeInfo, null, 'other users\' sockets unaffected');
	adminSock.close();
});

test('deleting one of my sessions closes that session\'s socket only', async () => {
	const keep = await fresh({ device_name: 'keep' });
	const kill = await fresh({ device_name: 'kill' });
	const ck = await connect({ token: keep });
	const cx = await connect({ token: kill });
	await ck.next((m) => m.type === 'hello');
	await cx.next((m) => m.type === 'hello');
	const list = (await srv.get('/api/v1/me/sessions', { token: keep })).json.sessions;
	const id = list.find((s) => s.device.name === 'kill').id;
	assert.equal((await srv.del(`/api/v1/me/sessions/${id}`, { token: keep })).status, 204);
	const ended = await cx.next((m) => m.type === 'session_ended', 10000, 'session_ended');
	assert.equal(ended.reason, 'revoked');
	assert.equal((await cx.waitClose(10000)).code, 4001);
	ck.send({ type: 'ping' });
	await ck.next((m) => m.type === 'pong');
	assert.equal(ck.closeInfo, null);
	ck.close();
});

test('a sign-in from a new device is announced on the user\'s open sockets', async () => {
	const t = await fresh();
	const c = await connect({ token: t });
	await c.next((m) => m.type === 'hello');
	const r = await srv.login('acme', 'wendy.ws', wendy.password, { session: 'cookie', device_name: 'Unknown tablet' });
	assertStatus(r, 200);
	assert.equal(r.json.new_device, true);
	const ev = await c.next((m) => m.type === 'security', 5000, 'security notice');
	assert.equal(ev.event, 'new_device');
	assert.equal(typeof ev.time, 'number');
	assert.ok(ev.device && typeof ev.device === 'object');
	c.close();
});

test('an oversize message (> 1,088 KiB) closes the socket', async () => {
	const t = await fresh();
	const c = await connect({ token: t });
	await c.next((m) => m.type === 'hello');
	c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(1089 * 1024) }));
	const info = await c.waitClose(5000);
	assert.notEqual(info.code, 4001);
	// the ticket itself is still fine and a new socket works
	const c2 = await connect({ token: t });
	await c2.next((m) => m.type === 'hello');
	c2.close();
});

test('a message just under the limit is fine', async () => {
	const t = await fresh();
	const c = await connect({ token: t });
	await c.next((m) => m.type === 'hello');
	c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(1088 * 1024 - 64) }));
	await c.next((m) => m.type === 'pong', 5000, 'pong for a ping just under the limit');
	c.close();
});

// Last: moves the clock past the idle timeout of every ticket.
test('idle expiry (test clock): the socket gets session_ended (expired) and closes within 10 s', async () => {
	const t = await fresh();
	const c = await connect({ token: t });
	await c.next((m) => m.type === 'hello');
	await srv.advance(16 * 60);
	const t0 = Date.now();
	const ended = await c.next((m) => m.type === 'session_ended', 10000, 'session_ended');
	assert.equal(ended.reason, 'expired');
	assert.equal((await c.waitClose(10000)).code, 4001);
	assert.ok(Date.now() - t0 < 10000);
	assertError(await srv.get('/api/v1/auth/session', { token: t }), 401, 'unauthenticated');
	await refused({ token: t }, 'expired ticket');
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	for (const c of open)
		c.close();
	await srv.finish();
});
