// 19 — documents, continued: share links that never admit anyone outside
// their scope (named users, departments, the tenant, guests only by
// policy), with role, expiry, password, no-download and revocation, every
// use audited including refusals; classification labels with enforced
// export rules and watermarks; client-reported copy/print attempts;
// comments whose anchors follow concurrent edits; Markdown import and
// Markdown/HTML export.  (RG-DOC-b/c/d/e/f, RG-APP-h, RG-DATA-a/b, WC-CLASS)
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

const require = createRequire(import.meta.url);
const Delta = require('quill-delta');

let srv, admin, sec, auditor, ann, bob, carl, gus, mallory, doc;
const T = (u) => ({ token: u.ticket });

before(async () => {
	srv = await Server.start({ tenants: ['beta'] });
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	auditor = await srv.bootstrapAdmin('acme', 'auditor');
	ann = await srv.createUser(admin.ticket, 'acme', 'ann');
	bob = await srv.createUser(admin.ticket, 'acme', 'bob');
	carl = await srv.createUser(admin.ticket, 'acme', 'carl');
	gus = await srv.createUser(admin.ticket, 'acme', 'gus', { role: 'guest' });
	const badmin = await srv.bootstrapAdmin('beta', 'admin');
	mallory = await srv.createUser(badmin.ticket, 'beta', 'mallory');
	const r = await srv.post('/api/v1/documents/import', {
		title: 'Imported', markdown: '# Heading\n\nSome **bold** and *italic* text with a [link](https://example.cn/).\n\n- one\n- two\n\n> quoted\n',
	}, T(ann));
	assertStatus(r, 201, 'import');
	doc = r.json.document;
});
after(async () => {
	await srv?.dispose();
});

async function audits(event) {
	return srv.audit(auditor.ticket, `event=${event}`);
}

test('Markdown import builds rich text; export gives Markdown and a self-contained HTML page', async () => {
	let r = await srv.get(`/api/v1/documents/${doc.id}`, T(ann));
	assertStatus(r, 200);
	const ops = r.json.content.ops;
	assert.ok(ops.some((o) => o.attributes?.header === 1), 'heading');
	assert.ok(ops.some((o) => o.attributes?.bold && o.insert === 'bold'), 'bold');
	assert.ok(ops.some((o) => o.attributes?.list === 'bullet'), 'list');
	assert.ok(ops.some((o) => o.attributes?.link === 'https://example.cn/'), 'link');
	r = await srv.get(`/api/v1/documents/${doc.id}/export?format=md`, T(ann));
	assertStatus(r, 200);
	assert.match(r.headers['content-disposition'], /^attachment/);
	assert.match(r.text, /^# Heading/m);
	assert.match(r.text, /\*\*bold\*\*/);
	assert.doesNotMatch(r.text, /Watermark/, 'internal documents carry no watermark by default');
	r = await srv.get(`/api/v1/documents/${doc.id}/export?format=html`, T(ann));
	assertStatus(r, 200);
	assert.match(r.text, /<h1>Heading<\/h1>/);
	assert.match(r.text, /Content-Security-Policy/);
	assertError(await srv.get(`/api/v1/documents/${doc.id}/export?format=pdf`, T(ann)), 400, 'invalid_request');
	assert.ok((await audits('doc.export')).some((x) => x.outcome === 'success'));
	assert.ok((await audits('doc.import')).length === 1);
});

test('classification: confidential forbids export and puts a watermark; the owner changes it, audited', async () => {
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/classification`, { classification: 'confidential' }, T(bob)), 404);
	assertError(await srv.put(`/api/v1/documents/${doc.id}/classification`, { classification: 'nonsense' }, T(ann)), 400, 'invalid_request');
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/classification`, { classification: 'confidential' }, T(ann)), 200);
	let r = await srv.get(`/api/v1/documents/${doc.id}/policy`, T(ann));
	assert.deepEqual([r.json.policy.export, r.json.policy.copy, r.json.policy.print, r.json.policy.watermark], [false, false, false, true]);
	assertError(await srv.get(`/api/v1/documents/${doc.id}/export?format=md`, T(ann)), 403, 'export_forbidden');
	assert.ok((await audits('doc.export')).some((x) => x.outcome === 'denied'));
	assert.ok((await audits('doc.classify')).some((x) => /confidential/.test(JSON.stringify(x.detail))));
	// client-reported attempts are audited
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/events`, { kind: 'copy', blocked: true }, T(ann)), 204);
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/events`, { kind: 'print', blocked: true }, T(ann)), 204);
	assertError(await srv.post(`/api/v1/documents/${doc.id}/events`, { kind: 'steal' }, T(ann)), 400, 'invalid_request');
	assert.ok((await audits('doc.copy')).some((x) => x.outcome === 'denied'));
	assert.ok((await audits('doc.print')).length > 0);
	// a tenant-wide watermark policy puts it into exports of public documents
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/classification`, { classification: 'public' }, T(ann)), 200);
	assertStatus(await srv.put('/api/v1/policy', { doc_watermark_all: true }, T(sec)), 200);
	r = await srv.get(`/api/v1/documents/${doc.id}/export?format=md`, T(ann));
	assertStatus(r, 200);
	assert.match(r.text, /Watermark/);
	assert.match(r.text, /ann/);
	r = await srv.get(`/api/v1/documents/${doc.id}/export?format=html`, T(ann));
	assert.match(r.text, /ann · #/);
	assertStatus(await srv.put('/api/v1/policy', { doc_watermark_all: false }, T(sec)), 200);
});

test('share links: only signed-in users in scope get in; every use and refusal is audited', async () => {
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'tenant' }, T(bob)), 404);
	assertError(await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'owner', scope: 'tenant' }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'users' }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'users', ids: [mallory.id] }, T(ann)), 400, 'invalid_request');
	let r = await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'commenter', scope: 'users', ids: [bob.id] }, T(ann));
	assertStatus(r, 201);
	const named = r.json.link;
	assert.match(named.token, /^[A-Za-z0-9_-]{22}$/);

	// no ticket: nobody anonymous
	assertStatus(await srv.post(`/api/v1/doc-links/${named.token}/open`, {}), 401);
	// out of scope, other tenant, wrong token
	assertError(await srv.post(`/api/v1/doc-links/${named.token}/open`, {}, T(carl)), 403, 'forbidden');
	assertStatus(await srv.post(`/api/v1/doc-links/${named.token}/open`, {}, T(mallory)), 404);
	assertStatus(await srv.post('/api/v1/doc-links/AAAAAAAAAAAAAAAAAAAAAA/open', {}, T(bob)), 404);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(carl)), 404);
	// in scope
	r = await srv.post(`/api/v1/doc-links/${named.token}/open`, {}, T(bob));
	assertStatus(r, 200);
	assert.equal(r.json.role, 'commenter');
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(bob)), 200);
	const opens = await audits('doc.link.open');
	assert.ok(opens.some((x) => x.outcome === 'success'));
	assert.ok(opens.some((x) => x.outcome === 'denied' && /out of scope/.test(JSON.stringify(x.detail))));

	// revoked: the access it gave ends with it
	assertStatus(await srv.del(`/api/v1/doc-links/${named.id}`, T(bob)), 404);
	assertStatus(await srv.del(`/api/v1/doc-links/${named.id}`, T(ann)), 204);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(bob)), 404);
	assertError(await srv.post(`/api/v1/doc-links/${named.token}/open`, {}, T(bob)), 410, 'link_expired');
	assert.ok((await audits('doc.link.revoke')).length === 1);
});

test('share links: password, expiry, no-download, guests only when policy and label allow', async () => {
	let r = await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'tenant', password: 'correct horse 1', no_download: true }, T(ann));
	assertStatus(r, 201);
	const pw = r.json.link;
	assertError(await srv.post(`/api/v1/doc-links/${pw.token}/open`, {}, T(carl)), 401, 'password_required');
	assertError(await srv.post(`/api/v1/doc-links/${pw.token}/open`, { password: 'wrong' }, T(carl)), 403, 'wrong_password');
	assertStatus(await srv.post(`/api/v1/doc-links/${pw.token}/open`, { password: 'correct horse 1' }, T(carl)), 200);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(carl)), 200);
	assertError(await srv.get(`/api/v1/documents/${doc.id}/export?format=md`, T(carl)), 403, 'export_forbidden');
	// a guest is not "the tenant"
	assertError(await srv.post(`/api/v1/doc-links/${pw.token}/open`, { password: 'correct horse 1' }, T(gus)), 403, 'forbidden');

	// guests: refused by default policy, then by the label, then allowed
	assertError(await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'guests' }, T(ann)), 403, 'label_forbids');
	assertStatus(await srv.put('/api/v1/policy', { doc_links_guests: true }, T(sec)), 200);
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/classification`, { classification: 'confidential' }, T(ann)), 200);
	assertError(await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'guests' }, T(ann)), 403, 'label_forbids');
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/classification`, { classification: 'public' }, T(ann)), 200);
	r = await srv.post(`/api/v1/documents/${doc.id}/links`, { role: 'viewer', scope: 'guests', expires_at: Math.floor(srv.now()) + 3600 }, T(ann));
	assertStatus(r, 201);
	const g = r.json.link;
	assertStatus(await srv.post(`/api/v1/doc-links/${g.token}/open`, {}, T(gus)), 200);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(gus)), 200);
	// expiry (test clock): the link and the access it gave end
	await srv.advance(3700);
	for (const u of ['gus', 'ann', 'auditor'])
		await srv.relogin('acme', u);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(gus)), 404);
	assertError(await srv.post(`/api/v1/doc-links/${g.token}/open`, {}, T(gus)), 410, 'link_expired');
	assert.ok((await audits('doc.link.open')).some((x) => /expired/.test(JSON.stringify(x.detail))));
	r = await srv.get(`/api/v1/documents/${doc.id}/links`, T(ann));
	assertStatus(r, 200);
	assert.ok(r.json.links.length >= 3);
	assert.ok(!JSON.stringify(r.json).includes(g.token), 'tokens are not listed (stored hashed)');
});

test('comments: commenters and up; anchors follow edits made before them; replies; resolve and reopen', async () => {
	await srv.relogin('acme', 'bob');
	await srv.relogin('acme', 'carl');
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/permissions`, {
		grants: [{ kind: 'user', id: bob.id, role: 'commenter' }, { kind: 'user', id: carl.id, role: 'viewer' }],
	}, T(ann)), 200);
	let r = await srv.get(`/api/v1/documents/${doc.id}`, T(ann));
	const rev = r.json.rev;
	const text = r.json.content.ops.map((o) => o.insert).join('');
	const at = text.indexOf('bold');
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/comments`, { body: 'x', anchor: { index: at, length: 4, rev } }, T(carl)), 403);
	r = await srv.post(`/api/v1/documents/${doc.id}/comments`, { body: '为什么加粗？', anchor: { index: at, length: 4, rev } }, T(bob));
	assertStatus(r, 201);
	const c = r.json.comment;
	assertError(await srv.post(`/api/v1/documents/${doc.id}/comments`, { body: 'x', anchor: { index: 0, length: 1, rev: rev + 99 } }, T(bob)), 400, 'invalid_request');
	// ann inserts text at the start through the socket: the anchor moves with it
	const ws = await srv.openWs({ token: ann.ticket });
	await ws.next((m) => m.type === 'hello');
	ws.send({ type: 'resume' });
	await ws.next((m) => m.type === 'resumed');
	ws.send({ type: 'doc.open', doc: doc.id });
	const st = await ws.next((m) => m.type === 'doc.state');
	ws.send({ type: 'doc.op', doc: doc.id, rev: st.rev, oid: 'pre', op: { ops: [{ insert: 'PREFIX ' }] } });
	await ws.next((m) => m.type === 'doc.ack' && m.oid === 'pre');
	r = await srv.get(`/api/v1/documents/${doc.id}/comments`, T(carl));
	assertStatus(r, 200);
	const moved = r.json.comments.find((x) => x.id === c.id);
	assert.equal(moved.anchor.index, at + 7, 'the anchor moved with the insert before it');
	assert.equal(moved.anchor.length, 4);
	assert.equal(moved.body, '为什么加粗？');
	const now = (await srv.get(`/api/v1/documents/${doc.id}`, T(ann))).json;
	const t2 = now.content.ops.map((o) => o.insert).join('');
	assert.equal(t2.slice(moved.anchor.index, moved.anchor.index + 4), 'bold');
	// reply, resolve, reopen
	r = await srv.post(`/api/v1/documents/${doc.id}/comments`, { body: 'agreed', parent_id: c.id }, T(ann));
	assertStatus(r, 201);
	assert.equal(r.json.comment.parent_id, c.id);
	assertStatus(await srv.request('PATCH', `/api/v1/documents/${doc.id}/comments/${c.id}`, { json: { resolved: true }, token: carl.ticket }), 403);
	r = await srv.request('PATCH', `/api/v1/documents/${doc.id}/comments/${c.id}`, { json: { resolved: true }, token: bob.ticket });
	assertStatus(r, 200);
	assert.equal(r.json.comment.resolved, true);
	const live = await ws.next((m) => m.type === 'doc.comment' && m.change === 'resolved', 5000, 'live comment event');
	assert.equal(live.comment.id, c.id);
	r = await srv.request('PATCH', `/api/v1/documents/${doc.id}/comments/${c.id}`, { json: { resolved: false }, token: ann.ticket });
	assert.equal(r.json.comment.resolved, false);
	for (const ev of ['doc.comment.create', 'doc.comment.resolve', 'doc.comment.reopen'])
		assert.ok((await audits(ev)).length > 0, `${ev} audited`);
	ws.close();
});
