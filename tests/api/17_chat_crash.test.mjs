// 17 — crash safety of chat: several clients send over the WebSocket as
// fast as acknowledgements come back; the server is killed with SIGKILL in
// the middle; after a restart every acknowledged message is present exactly
// once with the body that was acknowledged, a retry of an unacknowledged
// cid stores it at most once, and `bulwark audit verify` passes.
// (RG-IM-a, WC-STORE, PS-LOG-c; docs/realtime.md "ack after commit")
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Server, assertStatus } from './lib/server.mjs';

let srv, admin, users = [], conv;
before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	for (const n of ['kay1', 'kay2', 'kay3', 'kay4'])
		users.push(await srv.createUser(admin.ticket, 'acme', n));
	const r = await srv.post('/api/v1/conversations', { kind: 'group', name: 'crash', members: users.slice(1).map((u) => u.id) }, { token: users[0].ticket });
	assertStatus(r, 201);
	conv = r.json.conversation.id;
	await srv.put('/api/v1/policy', { chat_rate_per_min: 6000 }, { token: (await srv.bootstrapAdmin('acme', 'secadmin')).ticket });
});
after(async () => {
	await srv?.dispose();
});

test('kill -9 while clients send: every acknowledged message survives, once', async () => {
	const acked = new Map();       // cid -> { id, body }
	const sent = new Map();        // cid -> body (sent, maybe not acked)
	const sockets = [];
	for (const u of users) {
		const c = await srv.openWs({ token: u.ticket });
		await c.next((m) => m.type === 'hello');
		c.send({ type: 'resume' });
		await c.next((m) => m.type === 'resumed');
		sockets.push({ u, c });
	}
	let stop = false, n = 0;
	const pumps = sockets.map(({ u, c }, k) => (async () => {
		// a window of 8 unacknowledged sends per client
		c.ws.on('message', (d) => {
			const m = JSON.parse(d.toString());
			if (m.type === 'ack')
				acked.set(m.cid, { id: m.msg.id, body: m.msg.body });
		});
		while (!stop && n < 3000) {
			const inflight = [...sent.keys()].filter((x) => x.startsWith(`u${k}-`) && !acked.has(x)).length;
			if (inflight < 8 && c.ws.readyState === 1) {
				const cid = `u${k}-${n++}`;
				const body = `crash-test ${cid} ${'x'.repeat(n % 200)}`;
				sent.set(cid, body);
				c.send({ type: 'send', conv, cid, body });
			} else {
				await new Promise((r) => setTimeout(r, 2));
			}
		}
	})());
	// let it run, then kill the server in the middle of the traffic
	await new Promise((r) => setTimeout(r, 2500));
	srv.proc.kill('SIGKILL');
	await srv.exited;
	stop = true;
	await Promise.all(pumps);
	for (const { c } of sockets)
		c.close();
	assert.ok(acked.size > 50, `only ${acked.size} acknowledgements before the kill`);

	await srv.launch();
	const token = (await srv.relogin('acme', 'kay1')).ticket;
	const stored = new Map();
	let before = 0;
	for (let pages = 0; pages < 500; pages++) {
		const r = await srv.get(`/api/v1/conversations/${conv}/messages?limit=100${before ? `&before=${before}` : ''}`, { token });
		assertStatus(r, 200);
		for (const m of r.json.messages) {
			assert.ok(!stored.has(m.id), `message ${m.id} twice`);
			stored.set(m.id, m.body);
		}
		if (!r.json.has_more)
			break;
		before = r.json.messages[0].id;
	}
	const missing = [];
	for (const [cid, a] of acked)
		if (stored.get(a.id) !== a.body)
			missing.push(cid);
	assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged messages lost or changed`);
	const bodies = [...stored.values()];
	assert.equal(new Set(bodies).size, bodies.length, 'a body stored twice');

	// retrying an unacknowledged send after the restart stores it at most once
	const unacked = [...sent.keys()].filter((x) => !acked.has(x));
	if (unacked.length) {
		const cid = unacked[0];
		const k = Number(cid.slice(1, cid.indexOf('-')));
		const u = users[k];
		const t = (await srv.relogin('acme', u.username)).ticket;
		const c = await srv.openWs({ token: t });
		await c.next((m) => m.type === 'hello');
		c.send({ type: 'send', conv, cid, body: sent.get(cid) });
		c.send({ type: 'send', conv, cid, body: sent.get(cid) });
		const a1 = await c.next((m) => m.type === 'ack' && m.cid === cid, 5000, 'ack of retry');
		const a2 = await c.next((m) => m.type === 'ack' && m.cid === cid, 5000, 'ack of second retry');
		assert.equal(a1.msg.id, a2.msg.id);
		c.close();
	}

	// the audit trail is intact after the crash
	await srv.stop();
	const v = spawnSync(process.env.BULWARK_BIN, ['audit', 'verify', '--data', srv.dir], { encoding: 'utf8' });
	assert.equal(v.status, 0, `audit verify after a crash: ${v.stdout}${v.stderr}`);
	await srv.launch();
});
