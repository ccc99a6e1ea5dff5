// 04 — tickets: own sessions, logout and revocation, cookie mode and CSRF,
// devices, idle and absolute expiry (test clock).  (WC-TICKET, PS-IA-f,
// RG-APP-d/g, PS-COM-c)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, parseSetCookies } from './lib/server.mjs';

let srv, admin, sec, aud, tina;
before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	aud = await srv.bootstrapAdmin('acme', 'auditor');
	tina = await srv.createUser(admin.ticket, 'acme', 'tina.tester');
});
after(async () => { await srv?.dispose(); });

const session = (token) => srv.get('/api/v1/auth/session', { token });
const login = (extra = {}) => srv.login('acme', 'tina.tester', tina.password, extra);

async function ticket(extra) {
	const r = await login(extra);
	assertStatus(r, 200, 'login');
	return r.json;
}

test('GET /me/sessions lists my sessions with exactly one current', async () => {
	const a = await ticket({ device_name: 'Laptop A' });
	const b = await ticket({ device_name: 'Phone B' });
	tina.a = a;
	tina.b = b;
	const r = await srv.get('/api/v1/me/sessions', { token: a.ticket });
	assertStatus(r, 200);
	const list = r.json.sessions;
	assert.ok(list.length >= 2, `at least two sessions, got ${list.length}`);
	for (const s of list) {
		for (const k of ['id', 'created_at', 'last_seen', 'expires_at', 'ip', 'scope', 'current', 'device'])
			assert.ok(k in s, `session.${k}`);
		assert.match(s.id, /^[A-Za-z0-9_-]{1,128}$/);
		assert.equal(s.ip, '127.0.0.1');
		assert.equal(typeof s.device.id, 'number');
		assert.equal(typeof s.device.name, 'string');
		for (const t of [a.ticket, b.ticket, tina.ticket])
			assert.ok(!s.id.includes(t) && !t.includes(s.id), 'a session id is not the ticket');
	}
	const current = list.filter((s) => s.current);
	assert.equal(current.length, 1, 'exactly one current session');
	assert.equal(current[0].expires_at, a.expires_at);
	// seen from B, B is the current one
	const rb = await srv.get('/api/v1/me/sessions', { token: b.ticket });
	const cb = rb.json.sessions.filter((s) => s.current);
	assert.equal(cb.length, 1);
	assert.notEqual(cb[0].id, current[0].id);
	// none of another user's sessions appear
	const ra = await srv.get('/api/v1/me/sessions', { token: admin.ticket });
	const adminIds = new Set(ra.json.sessions.map((s) => s.id));
	assert.ok(list.every((s) => !adminIds.has(s.id)), 'no foreign sessions listed');
	Object.assign(tina, { aId: current[0].id, bId: cb[0].id, adminSessionId: ra.json.sessions.find((s) => s.current).id });
	// each session shows the device name given at its sign-in
	assert.equal(current[0].device.name, 'Laptop A', 'device name of the current session');
	assert.equal(cb[0].device.name, 'Phone B', 'device name of the other session');
});

test('DELETE /me/sessions/{id} revokes another session of mine; others\' ids are 404', async () => {
	const { a, b, bId, adminSessionId } = tina;
	// someone else's session: 404, and it stays alive
	let r = await srv.del(`/api/v1/me/sessions/${adminSessionId}`, { token: a.ticket });
	assertError(r, 404, 'not_found', 'another user\'s session');
	assertStatus(await session(admin.ticket), 200, 'admin session untouched');
	for (const bad of ['0', 'zz', 'x'.repeat(64), `${bId}00`, bId.slice(0, -2)]) {
		r = await srv.del(`/api/v1/me/sessions/${bad}`, { token: a.ticket });
		assertError(r, 404, 'not_found', `session id ${bad}`);
	}
	assertStatus(await session(b.ticket), 200, 'B alive before');
	r = await srv.del(`/api/v1/me/sessions/${bId}`, { token: a.ticket });
	assert.equal(r.status, 204, `delete -> ${r.status} ${r.text}`);
	assertError(await session(b.ticket), 401, 'unauthenticated', 'B after revocation');
	assertStatus(await session(a.ticket), 200, 'A still alive');
	// a revoked session cannot be deleted again and is no longer listed
	assertError(await srv.del(`/api/v1/me/sessions/${bId}`, { token: a.ticket }), 404, 'not_found');
	const list = (await srv.get('/api/v1/me/sessions', { token: a.ticket })).json.sessions;
	assert.ok(!list.some((s) => s.id === bId), 'revoked session not listed');
});

test('logout revokes the ticket; a revoked ticket stays 401 everywhere', async () => {
	const c = await ticket();
	assertStatus(await session(c.ticket), 200);
	const r = await srv.post('/api/v1/auth/logout', undefined, { token: c.ticket });
	assert.equal(r.status, 204, `logout -> ${r.status} ${r.text}`);
	assert.equal(r.text, '', '204 has no body');
	for (let i = 0; i < 2; i++) {
		assertError(await session(c.ticket), 401, 'unauthenticated');
		assertError(await srv.get('/api/v1/me/sessions', { token: c.ticket }), 401, 'unauthenticated');
		assertError(await srv.post('/api/v1/auth/logout', undefined, { token: c.ticket }), 401, 'unauthenticated');
	}
	assertStatus(await session(tina.a.ticket), 200, 'other sessions of the user unaffected');
});

test('the secadmin lists and revokes all sessions of a user', async () => {
	const d = await ticket({ device_name: 'D' });
	const e = await ticket({ device_name: 'E' });
	let r = await srv.get(`/api/v1/users/${tina.id}/sessions`, { token: sec.ticket });
	assertStatus(r, 200);
	assert.ok(r.json.sessions.length >= 3, 'lists the user\'s sessions');
	assert.ok(r.json.sessions.every((s) => s.current === false), 'none is the secadmin\'s current session');
	r = await srv.post(`/api/v1/users/${tina.id}/sessions/revoke`, undefined, { token: sec.ticket });
	assertStatus(r, 200);
	assert.equal(typeof r.json.revoked, 'number');
	assert.ok(r.json.revoked >= 3, `revoked ${r.json.revoked}`);
	for (const t of [d.ticket, e.ticket, tina.a.ticket, tina.ticket])
		assertError(await session(t), 401, 'unauthenticated');
	r = await srv.get(`/api/v1/users/${tina.id}/sessions`, { token: sec.ticket });
	assert.equal(r.json.sessions.length, 0, 'no live sessions left');
	assertStatus(await session(sec.ticket), 200, 'the secadmin\'s own session unaffected');
	// the user can sign in again
	tina.ticket = (await ticket()).ticket;
});

test('cookie sessions: HttpOnly Secure SameSite=Strict cookie, no ticket in the body, CSRF on writes', async () => {
	const bearer = await ticket({ device_name: 'bearer one' });
	const r = await login({ session: 'cookie', device_name: 'browser' });
	assertStatus(r, 200, 'cookie login');
	assert.ok(!('ticket' in r.json), 'no ticket in the body of a cookie login');
	const cookies = parseSetCookies(r.headers);
	const c = cookies.bw_ticket;
	assert.ok(c, `bw_ticket cookie set: ${JSON.stringify(r.headers['set-cookie'])}`);
	assert.match(c.value, /^[A-Za-z0-9_-]{32,}$/);
	for (const attr of ['httponly', 'secure', 'samesite=strict', 'path=/'])
		assert.ok(c.attrs.has(attr), `cookie attribute ${attr}: ${c.raw}`);
	assert.ok(![...c.attrs].some((x) => x.startsWith('domain=')), 'host-only cookie');
	assert.ok(!r.text.includes(c.value), 'the ticket is not in the body');
	const csrf = r.json.csrf_token;
	assert.equal(typeof csrf, 'string');
	assert.ok(csrf.length >= 16);
	const cookie = `bw_ticket=${c.value}`;

	// reads need no CSRF token
	let s = await srv.get('/api/v1/auth/session', { cookie });
	assertStatus(s, 200, 'GET with cookie');
	assert.equal(s.json.csrf_token, csrf, 'session repeats the login csrf_token');

	// a write without the header, with a wrong one, or with the ticket as token: 403 csrf_failed
	const variants = [['no header', undefined], ['wrong token', 'A'.repeat(csrf.length)],
		['empty token', ''], ['ticket as token', c.value], ['prefix', csrf.slice(0, -1)],
		['token with a suffix', `${csrf}x`]];
	const writes = [
		['POST', '/api/v1/auth/logout'],
		['POST', '/api/v1/auth/password', { current_password: tina.password, new_password: 'Another-Passw0rd!' }],
		['POST', '/api/v1/auth/totp/enrol'],
	];
	for (const [method, p, json] of writes) {
		for (const [name, tok] of variants) {
			const x = await srv.request(method, p, { json, cookie, csrf: tok });
			assertError(x, 403, 'csrf_failed', `${name}: ${method} ${p}`);
		}
	}
	assertStatus(await session(bearer.ticket), 200, 'nothing happened without CSRF');
	assertStatus(await srv.get('/api/v1/auth/session', { cookie }), 200, 'cookie session still alive');
	assertStatus(await srv.login('acme', 'tina.tester', tina.password), 200, 'password unchanged');
	// with the token the write goes through (a harmless one: start a TOTP enrolment)
	let x = await srv.post('/api/v1/auth/totp/enrol', undefined, { cookie, csrf });
	assertStatus(x, 200, 'enrol with CSRF');
	// another session's CSRF token does not fit this cookie
	const other = await login({ session: 'cookie' });
	const otherCsrf = other.json.csrf_token;
	assert.notEqual(otherCsrf, csrf, 'csrf tokens differ per session');
	x = await srv.post('/api/v1/auth/logout', undefined, { cookie, csrf: otherCsrf });
	assertError(x, 403, 'csrf_failed', 'another session\'s CSRF token');
	// bearer requests need no CSRF token (not a browser credential)
	const b2 = await ticket();
	assert.equal((await srv.post('/api/v1/auth/logout', undefined, { token: b2.ticket })).status, 204);
	// logout with the token clears the cookie and ends the session
	x = await srv.post('/api/v1/auth/logout', undefined, { cookie, csrf });
	assert.equal(x.status, 204, `cookie logout -> ${x.status} ${x.text}`);
	const cleared = parseSetCookies(x.headers).bw_ticket;
	assert.ok(cleared && cleared.value === '' && (cleared.attrs.has('max-age=0') || [...cleared.attrs].some((a) => a.startsWith('expires='))),
		`logout clears the cookie: ${JSON.stringify(x.headers['set-cookie'])}`);
	assertError(await srv.get('/api/v1/auth/session', { cookie }), 401, 'unauthenticated');
	// the cookie's ticket is not usable as a bearer either
	assertError(await session(c.value), 401, 'unauthenticated');
});

test('revoking one of my sessions from a cookie session needs the CSRF token', async () => {
	const bearer = await ticket({ device_name: 'bearer two' });
	const r = await login({ session: 'cookie', device_name: 'browser two' });
	assertStatus(r, 200);
	const cookie = `bw_ticket=${parseSetCookies(r.headers).bw_ticket.value}`;
	const csrf = r.json.csrf_token;
	const list = (await srv.get('/api/v1/me/sessions', { cookie })).json.sessions;
	const bearerId = list.find((x) => x.device.name === 'bearer two' && !x.current)?.id;
	assert.ok(bearerId, 'bearer session listed');
	for (const tok of [undefined, '', 'A'.repeat(csrf.length)]) {
		const x = await srv.del(`/api/v1/me/sessions/${bearerId}`, { cookie, csrf: tok });
		assertError(x, 403, 'csrf_failed', `DELETE with CSRF ${JSON.stringify(tok)}`);
	}
	assertStatus(await session(bearer.ticket), 200, 'not revoked without CSRF');
	const x = await srv.del(`/api/v1/me/sessions/${bearerId}`, { cookie, csrf });
	assert.equal(x.status, 204, `delete with CSRF -> ${x.status} ${x.text}`);
	assertError(await session(bearer.ticket), 401, 'unauthenticated');
});

test('any ticket carried in the cookie needs the CSRF header on writes', async () => {
	const b = await ticket();
	const cookie = `bw_ticket=${b.ticket}`;
	assertStatus(await srv.get('/api/v1/auth/session', { cookie }), 200);
	const x = await srv.post('/api/v1/auth/logout', undefined, { cookie });
	assertError(x, 403, 'csrf_failed', 'cookie-carried ticket without CSRF');
	assertStatus(await session(b.ticket), 200);
});

test('a returning device is recognised: new_device only on the first sign-in from it', async () => {
	const first = await login({ session: 'cookie', device_name: 'Work PC' });
	assertStatus(first, 200);
	assert.equal(first.json.new_device, true, 'first sign-in from a fresh client is a new device');
	const dev = parseSetCookies(first.headers).bw_device;
	assert.ok(dev && dev.value, `a device cookie identifies the browser: ${JSON.stringify(first.headers['set-cookie'])}`);
	assert.ok(dev.attrs.has('httponly') && dev.attrs.has('secure') && dev.attrs.has('samesite=strict'), dev.raw);
	const again = await login({ session: 'cookie', device_name: 'Work PC' });
	assert.equal(again.json.new_device, true, 'without its cookie the client is new again');
	const back = await srv.post('/api/v1/auth/login', {
		tenant: 'acme', username: 'tina.tester', password: tina.password, session: 'cookie',
	}, { cookie: `bw_device=${dev.value}` });
	assertStatus(back, 200);
	assert.equal(back.json.new_device, false, 'the same device cookie is a known device');
	const devs = await srv.get('/api/v1/me/devices', { token: tina.ticket });
	assertStatus(devs, 200);
	for (const d of devs.json.devices) {
		for (const k of ['id', 'name', 'first_seen', 'last_seen', 'current'])
			assert.ok(k in d, `device.${k}`);
	}
	assert.equal(devs.json.devices.filter((d) => d.current).length, 1, 'one current device');
});

test('idle expiry: 16 idle minutes end a ticket (401) and audit auth.ticket_expired; activity keeps it alive', async () => {
	const idle = await ticket({ device_name: 'idle' });
	const active = await ticket({ device_name: 'active' });
	assert.equal(idle.idle_timeout, 15 * 60, 'default idle timeout 15 minutes');
	const s = await session(active.ticket);
	assert.ok(Math.abs(s.json.idle_expires_at - (srv.now() + 900)) <= 20, 'idle_expires_at = now + 15 min');
	for (let i = 0; i < 2; i++) {
		await srv.advance(8 * 60);
		assertStatus(await session(active.ticket), 200, `active ticket after ${(i + 1) * 8} minutes`);
	}
	// idle has now been idle for 16 minutes
	const r = await session(idle.ticket);
	assertError(r, 401, 'unauthenticated', 'idle ticket');
	assertError(await session(idle.ticket), 401, 'unauthenticated', 'and stays dead');
	assertStatus(await session(active.ticket), 200, 'the active one lives on');
	// the auditor's ticket idled out as well: sign in again to read the trail
	await srv.relogin('acme', 'auditor');
	const recs = await srv.audit(aud.ticket, 'event=auth.ticket_expired&limit=100');
	assert.ok(recs.some((x) => x.event === 'auth.ticket_expired' && (x.subject + x.object).includes('tina.tester')),
		`auth.ticket_expired for tina in ${JSON.stringify(recs.map((x) => [x.subject, x.object]))}`);
	tina.expiredSeq = Math.max(...recs.map((x) => x.seq));
});

test('absolute expiry: even an always-active ticket ends after 12 hours', async () => {
	const t = await ticket({ device_name: 'marathon' });
	assert.ok(Math.abs(t.expires_at - (srv.now() + 12 * 3600)) <= 30, 'expires_at = login + 12 h');
	let steps = 0;
	while (srv.now() + 14 * 60 < t.expires_at - 10) {
		await srv.advance(14 * 60);
		assertStatus(await session(t.ticket), 200, `after ${steps + 1} x 14 min`);
		steps++;
	}
	assert.ok(steps >= 50, `kept active through ${steps} steps`);
	await srv.advance(t.expires_at - srv.now() + 2);
	assertError(await session(t.ticket), 401, 'unauthenticated', 'past the absolute expiry');
	const aud2 = await srv.relogin('acme', 'auditor');
	const recs = await srv.audit(aud2.ticket, 'event=auth.ticket_expired&limit=20');
	assert.ok(recs.some((x) => (x.subject + x.object).includes('tina.tester') && x.seq > tina.expiredSeq),
		`a new auth.ticket_expired record: ${JSON.stringify(recs.map((x) => [x.seq, x.subject, x.detail]))}`);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
