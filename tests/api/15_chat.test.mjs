// 15 — chat: conversations and tenant/membership boundaries, realtime
// delivery with ack after commit, resume without loss or duplicates,
// idempotent retries, recall (live, destroyed, window, admins), group
// security settings (audited), announcement posters, mute, forward, search
// over the blind index, link blocklist, retention with legal hold, send
// rate limits, and no plaintext on disk.
// (RG-IM-a/b/c, RG-WEB-b, RG-DATA-b, WC-STORE, WC-TRANS, IN-PHISH, IN-SURGE)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

let srv, admin, sec, auditor, ann, bob, carl, dora, guest, mallory;
const sockets = [];
const MARK = 'zebra-quokka-7731';          // a word that must never reach the disk in clear
const MARK_ZH = '机密合同编号甲乙丙';

before(async () => {
	srv = await Server.start({ tenants: ['beta'] });
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	auditor = await srv.bootstrapAdmin('acme', 'auditor');
	ann = await srv.createUser(admin.ticket, 'acme', 'ann');
	bob = await srv.createUser(admin.ticket, 'acme', 'bob');
	carl = await srv.createUser(admin.ticket, 'acme', 'carl');
	dora = await srv.createUser(admin.ticket, 'acme', 'dora');
	guest = await srv.createUser(admin.ticket, 'acme', 'gus', { role: 'guest' });
	const badmin = await srv.bootstrapAdmin('beta', 'admin');
	mallory = await srv.createUser(badmin.ticket, 'beta', 'mallory');
});
after(async () => {
	for (const c of sockets)
		c.close();
	await srv?.dispose();
});

const T = (u) => ({ token: u.ticket });
let cidN = 0;
const cid = () => `c${Date.now().toString(36)}${(cidN++).toString(36)}`;

async function live(u, since) {
	const c = await srv.openWs({ token: u.ticket });
	sockets.push(c);
	const hello = await c.next((m) => m.type === 'hello', 5000, 'hello');
	c.send(since === undefined ? { type: 'resume' } : { type: 'resume', since });
	const done = await c.next((m) => m.type === 'resumed', 5000, 'resumed');
	return { c, hello, done };
}

async function create(u, body, status = 201) {
	const r = await srv.post('/api/v1/conversations', body, T(u));
	assertStatus(r, status, `create ${JSON.stringify(body)}`);
	return r.json.conversation;
}

async function send(u, conv, body, extra = {}) {
	const r = await srv.post(`/api/v1/conversations/${conv}/messages`, { body, ...extra }, T(u));
	assertStatus(r, 201, `send ${body.slice(0, 40)}`);
	return r.json;
}

let group, direct;

test('creating conversations: direct is unique per pair, groups need a name, members checked', async () => {
	direct = await create(ann, { kind: 'direct', members: [bob.id] });
	assert.equal(direct.kind, 'direct');
	assert.equal(direct.peer.username, 'bob');
	const again = await create(ann, { kind: 'direct', members: [bob.id] }, 200);
	assert.equal(again.id, direct.id, 'the same pair gets the same direct chat');
	const back = await create(bob, { kind: 'direct', members: [ann.id] }, 200);
	assert.equal(back.id, direct.id);

	assertError(await srv.post('/api/v1/conversations', { kind: 'group', members: [bob.id] }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post('/api/v1/conversations', { kind: 'group', name: 'x', members: [mallory.id] }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post('/api/v1/conversations', { kind: 'group', name: 'x', members: [auditor.id] }, T(ann)), 403, 'forbidden');
	assertError(await srv.post('/api/v1/conversations', { kind: 'group', name: 'x', members: [guest.id] }, T(ann)), 403, 'forbidden');
	assertError(await srv.post('/api/v1/conversations', { kind: 'group', name: 'x' }, T(guest)), 403, 'forbidden');
	assertError(await srv.post('/api/v1/conversations', { kind: 'sect', name: 'x' }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post('/api/v1/conversations', { kind: 'group', name: 'x', members: [bob.id], settings: { member_limit: 1 } }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post('/api/v1/conversations', { kind: 'group', name: 'x', extra: 1 }, T(ann)), 400, 'invalid_request');

	group = await create(ann, { kind: 'group', name: 'Project 甲', topic: 'launch', members: [bob.id, carl.id] });
	assert.equal(group.my_role, 'owner');
	assert.equal(group.member_count, 3);
	assert.equal(group.name, 'Project 甲');
});

test('boundaries: non-members, other tenants and the audit administrator see nothing', async () => {
	for (const [who, code] of [[dora, 404], [mallory, 404]]) {
		assertStatus(await srv.get(`/api/v1/conversations/${group.id}`, T(who)), code);
		assertStatus(await srv.get(`/api/v1/conversations/${group.id}/messages`, T(who)), code);
		assertStatus(await srv.post(`/api/v1/conversations/${group.id}/messages`, { body: 'hi' }, T(who)), code);
		assertStatus(await srv.get(`/api/v1/conversations/${group.id}/members`, T(who)), code);
		assertStatus(await srv.post(`/api/v1/conversations/${group.id}/members`, { user_ids: [who.id] }, T(who)), code);
	}
	assertError(await srv.get('/api/v1/conversations', T(auditor)), 403, 'forbidden');
	const list = await srv.get('/api/v1/conversations', T(dora));
	assertStatus(list, 200);
	assert.equal(list.json.conversations.length, 0);
	const dir = await srv.get('/api/v1/directory?q=b', T(ann));
	assertStatus(dir, 200);
	assert.ok(dir.json.users.some((u) => u.username === 'bob'));
	assert.ok(!dir.json.users.some((u) => u.username === 'mallory'), 'another tenant is not in the directory');
	assert.ok(!dir.json.users.some((u) => u.username === 'auditor'));
});

test('a message sent on the socket is acknowledged after commit and delivered to members only', async () => {
	const a = await live(ann), b = await live(bob), d = await live(dora), m = await live(mallory);
	const id = cid();
	a.c.send({ type: 'send', conv: group.id, cid: id, body: `hello **team** ${MARK}` });
	const ack = await a.c.next((x) => x.type === 'ack' && x.cid === id, 5000, 'ack');
	assert.ok(ack.seq > 0);
	assert.equal(ack.msg.body, `hello **team** ${MARK}`);
	assert.match(ack.msg.html, /<strong>team<\/strong>/);
	const ev = await b.c.next((x) => x.type === 'event' && x.kind === 'message', 5000, 'delivery to bob');
	assert.equal(ev.seq, ack.seq);
	assert.equal(ev.msg.id, ack.msg.id);
	assert.equal(ev.conv, group.id);
	await new Promise((r) => setTimeout(r, 300));
	assert.ok(!d.c.messages.some((x) => x.type === 'event'), 'a non-member got the event');
	assert.ok(!m.c.messages.some((x) => x.type === 'event'), 'another tenant got the event');

	// the same cid again: acknowledged with the stored message, not stored twice
	a.c.send({ type: 'send', conv: group.id, cid: id, body: 'ignored' });
	const ack2 = await a.c.next((x) => x.type === 'ack' && x.cid === id, 5000, 'second ack');
	assert.equal(ack2.msg.id, ack.msg.id);
	assert.equal(ack2.msg.body, ack.msg.body);
	const h = await srv.get(`/api/v1/conversations/${group.id}/messages`, T(carl));
	assertStatus(h, 200);
	assert.equal(h.json.messages.filter((x) => x.body.includes(MARK)).length, 1);

	// refusals come back as nack with a code
	a.c.send({ type: 'send', conv: 999999, cid: cid(), body: 'x' });
	assert.equal((await a.c.next((x) => x.type === 'nack', 5000, 'nack')).code, 'not_found');
	d.c.send({ type: 'send', conv: group.id, cid: cid(), body: 'let me in' });
	assert.equal((await d.c.next((x) => x.type === 'nack', 5000, 'nack')).code, 'not_found');
	a.c.send({ type: 'send', conv: group.id, cid: 'bad cid!', body: 'x' });
	assert.equal((await a.c.next((x) => x.type === 'error', 5000, 'error')).code, 'invalid_request');
	a.c.send({ type: 'send', conv: group.id, cid: cid(), body: 7 });
	assert.equal((await a.c.next((x) => x.type === 'nack', 5000, 'nack')).code, 'invalid_request');
	a.c.send({ type: 'send', conv: group.id, cid: cid(), body: 'x'.repeat(8193) });
	assert.equal((await a.c.next((x) => x.type === 'nack', 5000, 'nack')).code, 'too_large');
	for (const s of [a, b, d, m])
		s.c.close();
});

test('reconnect and resume: everything missed arrives once, in order', async () => {
	const b = await live(bob);
	const last = b.done.seq;
	b.c.close();
	const sent = [];
	for (let i = 0; i < 30; i++)
		sent.push((await send(ann, group.id, `batch ${i}`, { cid: cid() })).message.id);
	const b2 = await live(bob, last);
	const got = b2.c.messages.filter((x) => x.type === 'event' && x.kind === 'message').map((x) => x.msg.id);
	assert.deepEqual(got, sent, 'the backlog is exactly the missed messages in order');
	const seqs = b2.c.messages.filter((x) => x.type === 'event').map((x) => x.seq);
	assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
	assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
	assert.equal(b2.done.seq, seqs.at(-1));
	// live after the backlog
	const m = await send(ann, group.id, 'after resume');
	const ev = await b2.c.next((x) => x.type === 'event' && x.msg?.id === m.message.id, 5000, 'live after resume');
	assert.ok(ev.seq > b2.done.seq);
	// resuming from 0 as a new member's device does not reveal other conversations
	const d = await live(dora, 0);
	assert.ok(!d.c.messages.some((x) => x.type === 'event'), 'dora got events of conversations she is not in');
	b2.c.close();
	d.c.close();
});

test('recall: live for the others, content destroyed, window enforced, admins may recall any', async () => {
	const b = await live(bob);
	const m = await send(carl, group.id, `secret plan ${MARK}`);
	await b.c.next((x) => x.type === 'event' && x.msg?.id === m.message.id, 5000, 'delivery');
	assertError(await srv.post(`/api/v1/messages/${m.message.id}/recall`, {}, T(bob)), 403, 'forbidden');
	assertError(await srv.post(`/api/v1/messages/${m.message.id}/recall`, {}, T(dora)), 404, 'not_found');
	const r = await srv.post(`/api/v1/messages/${m.message.id}/recall`, {}, T(carl));
	assertStatus(r, 200);
	assert.equal(r.json.message.recalled, true);
	assert.equal(r.json.message.body, '');
	const ev = await b.c.next((x) => x.type === 'event' && x.kind === 'message.recall', 5000, 'recall event');
	assert.equal(ev.msg_id, m.message.id);
	assert.equal(ev.by, carl.id);
	const h = await srv.get(`/api/v1/conversations/${group.id}/messages`, T(bob));
	const row = h.json.messages.find((x) => x.id === m.message.id);
	assert.equal(row.recalled, true);
	assert.equal(row.body, '');
	assertError(await srv.post(`/api/v1/messages/${m.message.id}/recall`, {}, T(carl)), 409, 'recalled');
	assertError(await srv.request('PATCH', `/api/v1/messages/${m.message.id}`, { json: { body: 'x' }, token: carl.ticket }), 409, 'recalled');

	// past the window the sender cannot, the owner still can
	const old = await send(bob, group.id, 'old news');
	await srv.advance(121);
	assertError(await srv.post(`/api/v1/messages/${old.message.id}/recall`, {}, T(bob)), 403, 'recall_window_passed');
	assertStatus(await srv.post(`/api/v1/messages/${old.message.id}/recall`, {}, T(ann)), 200);
	const records = await srv.audit(auditor.ticket, 'event=chat.message.recall');
	assert.ok(records.some((x) => x.outcome === 'success' && x.object === `message:${m.message.id}`));
	assert.ok(records.some((x) => x.outcome === 'denied' && x.object === `message:${old.message.id}`));
	b.c.close();
});

test('edit, reactions, replies and threads', async () => {
	const ml = await send(bob, group.id, 'line one\n- item\n\tindented');
	assert.equal(ml.message.body, 'line one\n- item\n\tindented', 'multi-line Markdown is kept');
	const m = await send(bob, group.id, 'typo heer');
	assertError(await srv.request('PATCH', `/api/v1/messages/${m.message.id}`, { json: { body: 'x' }, token: ann.ticket }), 403, 'forbidden');
	const e = await srv.request('PATCH', `/api/v1/messages/${m.message.id}`, { json: { body: 'typo here' }, token: bob.ticket });
	assertStatus(e, 200);
	assert.equal(e.json.message.body, 'typo here');
	assert.ok(e.json.message.edited_at > 0);
	const re = await srv.post(`/api/v1/messages/${m.message.id}/reactions`, { emoji: '👍', on: true }, T(ann));
	assertStatus(re, 200);
	assert.deepEqual(re.json.reactions['👍'], [ann.id]);
	assertError(await srv.post(`/api/v1/messages/${m.message.id}/reactions`, { emoji: '<b>', on: true }, T(ann)), 400, 'invalid_request');
	const reply = await send(carl, group.id, 'in thread', { reply_to: m.message.id, thread_root: m.message.id });
	assert.equal(reply.message.thread_root, m.message.id);
	const th = await srv.get(`/api/v1/conversations/${group.id}/messages?thread=${m.message.id}`, T(ann));
	assertStatus(th, 200);
	assert.deepEqual(th.json.messages.map((x) => x.id), [m.message.id, reply.message.id]);
	// a reply must point into the same conversation
	const other = await send(ann, direct.id, 'direct hello');
	assertError(await srv.post(`/api/v1/conversations/${group.id}/messages`, { body: 'x', reply_to: other.message.id }, T(ann)), 400, 'invalid_request');
});

test('history paging returns older pages until has_more is false', async () => {
	let before = 0, seen = 0, pages = 0;
	for (;;) {
		const r = await srv.get(`/api/v1/conversations/${group.id}/messages?limit=10${before ? `&before=${before}` : ''}`, T(bob));
		assertStatus(r, 200);
		seen += r.json.messages.length;
		pages++;
		if (!r.json.has_more)
			break;
		before = r.json.messages[0].id;
		assert.ok(pages < 50);
	}
	assert.ok(seen >= 30 && pages >= 4, `paged ${seen} messages in ${pages} pages`);
	assertError(await srv.get(`/api/v1/conversations/${group.id}/messages?limit=500`, T(bob)), 400, 'invalid_request');
});

test('group settings: owner/admin only, audited; history, mute, limit, remove, transfer, dissolve', async () => {
	assertError(await srv.request('PATCH', `/api/v1/conversations/${group.id}`, { json: { settings: { forward: false } }, token: bob.ticket }), 403, 'forbidden');
	let r = await srv.request('PATCH', `/api/v1/conversations/${group.id}`, { json: { settings: { forward: false, watermark: true, history_visible: false } }, token: ann.ticket });
	assertStatus(r, 200);
	assert.equal(r.json.conversation.settings.forward, false);
	assert.equal(r.json.conversation.settings.watermark, true);
	assertError(await srv.request('PATCH', `/api/v1/conversations/${group.id}`, { json: { settings: { nonsense: 1 } }, token: ann.ticket }), 400, 'invalid_request');
	const upd = await srv.audit(auditor.ticket, 'event=chat.conversation.update');
	const rec = upd.find((x) => x.object === `conversation:${group.id}` && x.outcome === 'success');
	assert.ok(rec, 'settings change audited');
	const detail = typeof rec.detail === 'string' ? JSON.parse(rec.detail) : rec.detail;
	assert.equal(detail.before.forward, true, 'before in the audit record');
	assert.equal(detail.after.forward, false, 'after in the audit record');

	// forward refused by the group's setting
	const m = await send(ann, group.id, 'do not forward');
	assertError(await srv.post(`/api/v1/messages/${m.message.id}/forward`, { conv: direct.id }, T(ann)), 403, 'forward_disabled');

	// a new member does not see earlier history
	r = await srv.post(`/api/v1/conversations/${group.id}/members`, { user_ids: [dora.id] }, T(ann));
	assertStatus(r, 200);
	const h = await srv.get(`/api/v1/conversations/${group.id}/messages`, T(dora));
	assertStatus(h, 200);
	assert.equal(h.json.messages.length, 0, 'earlier history hidden');
	const after1 = await send(ann, group.id, 'welcome dora');
	const h2 = await srv.get(`/api/v1/conversations/${group.id}/messages`, T(dora));
	assert.deepEqual(h2.json.messages.map((x) => x.id), [after1.message.id]);

	// mute
	r = await srv.request('PATCH', `/api/v1/conversations/${group.id}/members/${dora.id}`, { json: { muted_until: Math.floor(srv.now()) + 3600 }, token: ann.ticket });
	assertStatus(r, 200);
	assertError(await srv.post(`/api/v1/conversations/${group.id}/messages`, { body: 'hello?' }, T(dora)), 403, 'muted');
	assertError(await srv.request('PATCH', `/api/v1/conversations/${group.id}/members/${ann.id}`, { json: { muted_until: Math.floor(srv.now()) + 60 }, token: bob.ticket }), 403, 'forbidden');

	// member limit
	r = await srv.request('PATCH', `/api/v1/conversations/${group.id}`, { json: { settings: { member_limit: 2 } }, token: ann.ticket });
	assertError(r, 400, 'member_limit');

	// remove, leave, transfer
	const dws = await live(dora);
	assertStatus(await srv.del(`/api/v1/conversations/${group.id}/members/${dora.id}`, T(ann)), 204);
	await dws.c.next((x) => x.type === 'event' && x.kind === 'conv.leave', 5000, 'conv.leave');
	assertStatus(await srv.get(`/api/v1/conversations/${group.id}/messages`, T(dora)), 404);
	assertError(await srv.del(`/api/v1/conversations/${group.id}/members/${ann.id}`, T(ann)), 409, 'owner_must_transfer');
	assertError(await srv.post(`/api/v1/conversations/${group.id}/transfer`, { user_id: carl.id }, T(bob)), 403, 'forbidden');
	r = await srv.post(`/api/v1/conversations/${group.id}/transfer`, { user_id: carl.id }, T(ann));
	assertStatus(r, 200);
	const mem = await srv.get(`/api/v1/conversations/${group.id}/members`, T(ann));
	assert.equal(mem.json.members.find((x) => x.user_id === carl.id).role, 'owner');
	assert.equal(mem.json.members.find((x) => x.user_id === ann.id).role, 'admin');
	for (const ev of ['chat.member.remove', 'chat.member.mute', 'chat.conversation.transfer'])
		assert.ok((await srv.audit(auditor.ticket, `event=${ev}`)).length > 0, `${ev} audited`);
	dws.c.close();
});

test('announcement channels: only owner, admins and designated posters post; channels can be joined', async () => {
	const a = await create(ann, { kind: 'announce', name: 'News', members: [bob.id] });
	assertError(await srv.post(`/api/v1/conversations/${a.id}/messages`, { body: 'me too' }, T(bob)), 403, 'forbidden');
	await send(ann, a.id, 'official');
	assertStatus(await srv.request('PATCH', `/api/v1/conversations/${a.id}/members/${bob.id}`, { json: { poster: true }, token: ann.ticket }), 200);
	await send(bob, a.id, 'now I may');

	const ch = await create(ann, { kind: 'channel', name: 'general' });
	const disc = await srv.get('/api/v1/conversations?discover=1', T(dora));
	assert.ok(disc.json.conversations.some((c) => c.id === ch.id));
	const j = await srv.post(`/api/v1/conversations/${ch.id}/join`, {}, T(dora));
	assertStatus(j, 200);
	assert.equal(j.json.status, 'active');
	assertError(await srv.post(`/api/v1/conversations/${ch.id}/join`, {}, T(guest)), 403, 'forbidden');
	assertStatus(await srv.post(`/api/v1/conversations/${group.id}/join`, {}, T(guest)), 404);
	assertStatus(await srv.post(`/api/v1/conversations/${ch.id}/join`, {}, T(mallory)), 404);
	// join approval
	await srv.request('PATCH', `/api/v1/conversations/${ch.id}`, { json: { settings: { join_approval: true } }, token: ann.ticket });
	const j2 = await srv.post(`/api/v1/conversations/${ch.id}/join`, {}, T(carl));
	assert.equal(j2.json.status, 'pending');
	assertStatus(await srv.post(`/api/v1/conversations/${ch.id}/messages`, { body: 'x' }, T(carl)), 404);
	assertStatus(await srv.request('PATCH', `/api/v1/conversations/${ch.id}/members/${carl.id}`, { json: { approve: true }, token: ann.ticket }), 200);
	await send(carl, ch.id, 'approved');
	// dissolve
	assertError(await srv.del(`/api/v1/conversations/${ch.id}`, T(dora)), 403, 'forbidden');
	assertStatus(await srv.del(`/api/v1/conversations/${ch.id}`, T(ann)), 204);
	assertStatus(await srv.get(`/api/v1/conversations/${ch.id}`, T(ann)), 404);
});

test('search finds words and Chinese text only in readable conversations', async () => {
	await send(ann, direct.id, `合同 ${MARK_ZH} Quarterly REPORT ready`);
	let r = await srv.get(`/api/v1/search?q=${encodeURIComponent('quarterly report')}`, T(bob));
	assertStatus(r, 200);
	assert.equal(r.json.results.length, 1);
	assert.match(r.json.results[0].body, /Quarterly REPORT/);
	r = await srv.get(`/api/v1/search?q=${encodeURIComponent('合同编号')}`, T(bob));
	assert.equal(r.json.results.length, 1);
	r = await srv.get(`/api/v1/search?q=${encodeURIComponent('quarterly')}`, T(carl));
	assert.equal(r.json.results.length, 0, 'carl is not in the direct chat');
	r = await srv.get(`/api/v1/search?q=${encodeURIComponent('quarterly')}`, T(mallory));
	assert.equal(r.json.results.length, 0);
	assertError(await srv.get('/api/v1/search?q=%21', T(bob)), 400, 'invalid_request');
});

test('links: listed domains are flagged, blocked by policy; lookalikes flagged; only security admins manage the list', async () => {
	assertError(await srv.post('/api/v1/link-blocklist', { entry: 'evil.example' }, T(ann)), 403, 'forbidden');
	assertStatus(await srv.post('/api/v1/link-blocklist', { entry: 'evil.example' }, T(sec)), 201);
	const imp = await srv.post('/api/v1/link-blocklist/import', { text: '# list\nphish.example\r\nhttps://bad.example/login\n' }, T(sec));
	assertStatus(imp, 200);
	assert.equal(imp.json.added, 2);
	assertError(await srv.post('/api/v1/link-blocklist/import', { text: 'ok.example\nnot a domain\n' }, T(sec)), 400, 'invalid_request');
	const m = await send(ann, direct.id, 'see https://login.evil.example/x');
	assert.equal(m.message.links[0].verdict, 'malicious');
	let p = await srv.get('/api/v1/policy', T(sec));
	p = await srv.put('/api/v1/policy', { link_policy: 'block', trusted_domains: ['example.cn'] }, T(sec));
	assertStatus(p, 200);
	assertError(await srv.post(`/api/v1/conversations/${direct.id}/messages`, { body: 'go to https://phish.example/' }, T(ann)), 422, 'blocked_link');
	const look = await send(ann, direct.id, 'portal at https://examp1e.cn/');
	assert.equal(look.message.links[0].verdict, 'lookalike');
	const fine = await send(ann, direct.id, 'portal at https://mail.example.cn/');
	assert.equal(fine.message.links[0].verdict, 'ok');
	assert.ok((await srv.audit(auditor.ticket, 'event=chat.blocklist.import')).length > 0);
});

test('a slow consumer is closed with 4008 instead of growing server memory, and resumes without loss', async () => {
	assertStatus(await srv.put('/api/v1/policy', { chat_rate_per_min: 6000 }, T(sec)), 200);
	const room = await create(ann, { kind: 'group', name: 'firehose', members: [bob.id] });
	const b = await live(bob);
	b.c.ws._socket.pause();                       // bob stops reading
	const big = 'y'.repeat(7000);
	const ids = [];
	for (let i = 0; i < 300; i++)
		ids.push((await send(ann, room.id, `${i} ${big}`)).message.id);
	b.c.ws._socket.resume();
	const info = await b.c.waitClose(20000);
	assert.equal(info.code, 4008, 'closed as a slow consumer');
	const seen = b.c.messages.filter((m) => m.type === 'event' && m.kind === 'message' && m.conv === room.id);
	const last = seen.length ? seen.at(-1).seq : b.done.seq;
	assert.ok(seen.length < ids.length, 'the server did not queue everything');
	const b2 = await live(bob, last);
	const rest = b2.c.messages.filter((m) => m.type === 'event' && m.kind === 'message' && m.conv === room.id);
	const got = [...seen, ...rest].map((m) => m.msg.id);
	assert.deepEqual(got, ids, 'every message exactly once, in order, across the reconnect');
	b2.c.close();
});

test('send rate limits answer 429 with Retry-After', async () => {
	assertStatus(await srv.put('/api/v1/policy', { chat_rate_per_min: 20 }, T(sec)), 200);
	let limited = null;
	for (let i = 0; i < 40 && !limited; i++) {
		const r = await srv.post(`/api/v1/conversations/${direct.id}/messages`, { body: `burst ${i}` }, T(bob));
		if (r.status === 429)
			limited = r;
		else
			assertStatus(r, 201);
	}
	assert.ok(limited, 'no 429 within 40 sends at 20/min');
	assert.equal(limited.json.error.code, 'rate_limited');
	assert.ok(Number(limited.headers['retry-after']) >= 1);
	assertStatus(await srv.put('/api/v1/policy', { chat_rate_per_min: 6000 }, T(sec)), 200);
	await new Promise((r) => setTimeout(r, 500));   // the bucket refills at the new rate
});

test('retention purges expired messages except under legal hold; purges are audited', async () => {
	const keep = await create(bob, { kind: 'group', name: 'held', members: [carl.id] });
	const gone = await create(bob, { kind: 'group', name: 'ephemeral', members: [carl.id] });
	const k = await send(bob, keep.id, 'keep me');
	const g = await send(bob, gone.id, 'purge me');
	assertError(await srv.put(`/api/v1/conversations/${keep.id}/hold`, { legal_hold: true }, T(bob)), 403, 'forbidden');
	assertStatus(await srv.put(`/api/v1/conversations/${keep.id}/hold`, { legal_hold: true }, T(sec)), 200);
	assertStatus(await srv.put('/api/v1/policy', { chat_retention_days: 1 }, T(sec)), 200);
	await srv.advance(2 * 86400);
	for (const u of ['bob', 'secadmin', 'auditor'])
		await srv.relogin('acme', u);   // two days idle: sign in again
	let purged = false;
	for (let i = 0; i < 40 && !purged; i++) {
		await new Promise((r) => setTimeout(r, 250));
		const h = await srv.get(`/api/v1/conversations/${gone.id}/messages`, T(bob));
		purged = !h.json.messages.some((x) => x.id === g.message.id);
	}
	assert.ok(purged, 'the expired message is still there');
	const hk = await srv.get(`/api/v1/conversations/${keep.id}/messages`, T(bob));
	assert.ok(hk.json.messages.some((x) => x.id === k.message.id), 'legal hold did not protect');
	const recs = await srv.audit(auditor.ticket, 'event=chat.retention.purge');
	assert.ok(recs.some((x) => x.object === `conversation:${gone.id}`));
	assert.ok((await srv.audit(auditor.ticket, 'event=chat.conversation.legal_hold')).length > 0);
	assertStatus(await srv.put('/api/v1/policy', { chat_retention_days: 0 }, T(sec)), 200);
});

test('no plaintext of messages or conversation names in the data directory', async () => {
	await srv.stop();   // flush WAL to the main file too
	const files = srv.dataFiles();
	const needles = [MARK, MARK_ZH, 'Project 甲', 'secret plan', 'Quarterly REPORT'].map((s) => Buffer.from(s));
	const found = [];
	for (const f of files) {
		const buf = fs.readFileSync(f);
		for (const n of needles)
			if (buf.includes(n))
				found.push(`${n} in ${f}`);
	}
	assert.deepEqual(found, []);
	await srv.launch();
});
