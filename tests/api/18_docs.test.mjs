// 18 — documents: folders, roles (owner/editor/commenter/viewer granted to
// users, departments, the tenant), tenant boundaries, real-time co-editing
// through the server's OT with several clients and random delays (all
// converge to the server's content), stale and future revisions refused,
// versions and restore, trash and restore, early purge only by the
// security administrator, audit of every operation, no plaintext on disk,
// and acknowledged ops survive kill -9.
// (RG-DOC-a/b/c/g/h, WC-STORE; docs/collab.md)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

const require = createRequire(import.meta.url);
const Delta = require('quill-delta');

let srv, admin, sec, auditor, ann, bob, carl, dora, mallory, doc;
const MARK = 'docs-plaintext-marker-8c1d';
const sockets = [];

before(async () => {
	srv = await Server.start({ tenants: ['beta'] });
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	auditor = await srv.bootstrapAdmin('acme', 'auditor');
	ann = await srv.createUser(admin.ticket, 'acme', 'ann');
	bob = await srv.createUser(admin.ticket, 'acme', 'bob');
	carl = await srv.createUser(admin.ticket, 'acme', 'carl');
	dora = await srv.createUser(admin.ticket, 'acme', 'dora');
	const badmin = await srv.bootstrapAdmin('beta', 'admin');
	mallory = await srv.createUser(badmin.ticket, 'beta', 'mallory');
});
after(async () => {
	for (const s of sockets)
		s.close();
	await srv?.dispose();
});

const T = (u) => ({ token: u.ticket });

// A co-editing client implementing docs/collab.md with quill-delta.
class Editor {
	constructor(c, docId) {
		this.c = c;
		this.doc = docId;
		this.inflight = null;
		this.buffer = null;
		this.n = 0;
		this.acks = 0;
		this.prefix = Math.random().toString(36).slice(2, 10);   // oids are unique per author across devices
	}
	static async open(u, docId) {
		const c = await srv.openWs({ token: u.ticket });
		sockets.push(c);
		await c.next((m) => m.type === 'hello');
		c.send({ type: 'resume' });
		await c.next((m) => m.type === 'resumed');
		const e = new Editor(c, docId);
		c.send({ type: 'doc.open', doc: docId });
		const st = await c.next((m) => m.type === 'doc.state' || m.type === 'doc.error', 5000, 'doc.state');
		if (st.type === 'doc.error')
			throw Object.assign(new Error(st.code), { code: st.code });
		e.rev = st.rev;
		e.content = new Delta(st.content.ops);
		e.role = st.role;
		c.ws.on('message', (d) => e.onFrame(JSON.parse(d.toString())));
		return e;
	}
	onFrame(m) {
		if (m.doc !== this.doc)
			return;
		if (m.type === 'doc.ack') {
			this.rev = m.rev;
			this.inflight = null;
			this.acks++;
			this.flush();
		} else if (m.type === 'doc.op') {
			let op = new Delta(m.op.ops);
			if (this.inflight) {
				const a = this.inflight;
				this.inflight = op.transform(a, true);
				op = a.transform(op, false);
			}
			if (this.buffer) {
				const b = this.buffer;
				this.buffer = op.transform(b, true);
				op = b.transform(op, false);
			}
			this.content = this.content.compose(op);
			this.rev = m.rev;
		} else if (m.type === 'doc.nack') {
			this.nack = m;
		}
	}
	edit(op) {
		this.content = this.content.compose(op);
		this.buffer = this.buffer ? this.buffer.compose(op) : op;
		this.flush();
	}
	flush() {
		if (this.inflight || !this.buffer)
			return;
		this.inflight = this.buffer;
		this.buffer = null;
		this.c.send({ type: 'doc.op', doc: this.doc, rev: this.rev, oid: `${this.prefix}-${this.n++}`, op: { ops: this.inflight.ops } });
	}
	text() {
		return this.content.ops.map((o) => (typeof o.insert === 'string' ? o.insert : '\uFFFC')).join('');
	}
	idle() {
		return !this.inflight && !this.buffer;
	}
}

test('documents and folders: create, list, rename, move; tenant and role boundaries', async () => {
	let r = await srv.post('/api/v1/folders', { name: '项目 Projects' }, T(ann));
	assertStatus(r, 201);
	const folder = r.json.folder;
	assert.equal(folder.name, '项目 Projects');
	r = await srv.post('/api/v1/documents', { title: `Plan ${MARK}`, folder_id: folder.id }, T(ann));
	assertStatus(r, 201);
	doc = r.json.document;
	assert.equal(doc.my_role, 'owner');
	assert.equal(doc.rev, 0);
	assertError(await srv.post('/api/v1/documents', { title: '' }, T(ann)), 400, 'invalid_request');
	assertError(await srv.post('/api/v1/documents', { title: 'x', folder_id: 99999 }, T(ann)), 400, 'invalid_request');
	// nobody else sees it yet
	for (const u of [bob, mallory]) {
		assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(u)), 404);
		const l = await srv.get('/api/v1/documents', T(u));
		assert.ok(!l.json.documents.some((d) => d.id === doc.id));
	}
	assertError(await srv.get('/api/v1/documents', T(auditor)), 403, 'forbidden');
	assertError(await srv.del(`/api/v1/folders/${folder.id}`, T(ann)), 409, 'not_empty');
	r = await srv.request('PATCH', `/api/v1/documents/${doc.id}`, { json: { title: 'Plan v2', folder_id: 0 }, token: ann.ticket });
	assertStatus(r, 200);
	assert.equal(r.json.document.title, 'Plan v2');
	assert.equal(r.json.document.folder_id, 0);
	assertStatus(await srv.request('PATCH', `/api/v1/documents/${doc.id}`, { json: { title: 'x' }, token: bob.ticket }), 404);
	assertStatus(await srv.del(`/api/v1/folders/${folder.id}`, T(ann)), 204);
});

test('permissions: user, department and tenant grants; each role can do only its part', async () => {
	assertError(await srv.put(`/api/v1/documents/${doc.id}/permissions`, { grants: [{ kind: 'user', id: mallory.id, role: 'editor' }] }, T(ann)), 400, 'invalid_request');
	assertError(await srv.put(`/api/v1/documents/${doc.id}/permissions`, { grants: [{ kind: 'user', id: bob.id, role: 'owner' }] }, T(ann)), 400, 'invalid_request');
	let r = await srv.put(`/api/v1/documents/${doc.id}/permissions`, {
		grants: [{ kind: 'user', id: bob.id, role: 'editor' }, { kind: 'user', id: carl.id, role: 'viewer' }],
	}, T(ann));
	assertStatus(r, 200);
	assert.equal(r.json.grants.length, 2);
	assertStatus(await srv.put(`/api/v1/documents/${doc.id}/permissions`, { grants: [] }, T(bob)), 403);
	r = await srv.get(`/api/v1/documents/${doc.id}`, T(carl));
	assertStatus(r, 200);
	assert.equal(r.json.document.my_role, 'viewer');
	assertStatus(await srv.request('PATCH', `/api/v1/documents/${doc.id}`, { json: { title: 'y' }, token: carl.ticket }), 403);
	assertStatus(await srv.del(`/api/v1/documents/${doc.id}`, T(bob)), 403);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(dora)), 404);
	// a viewer's editor refuses ops
	const v = await Editor.open(carl, doc.id);
	assert.equal(v.role, 'viewer');
	v.edit(new Delta().insert('nope'));
	await v.c.next((m) => m.type === 'doc.nack' && m.code === 'forbidden', 5000, 'forbidden nack');
	v.c.close();
	// another tenant cannot open it over the socket either
	await assert.rejects(Editor.open(mallory, doc.id), /not_found/);
	const denied = await srv.audit(auditor.ticket, 'event=doc.open');
	assert.ok(denied.some((x) => x.outcome === 'denied'), 'refused opens are audited');
	assert.ok((await srv.audit(auditor.ticket, 'event=doc.permission')).some((x) => x.outcome === 'success'));
});

test('co-editing: three clients with random delays converge to the server content', async () => {
	const eds = [await Editor.open(ann, doc.id), await Editor.open(bob, doc.id), await Editor.open(ann, doc.id)];
	let seed = 12345;
	const rnd = (n) => {
		seed = (seed * 1103515245 + 12345) & 0x7fffffff;
		return seed % n;
	};
	const words = ['alpha ', '数据 ', 'β ', 'x', '😀', '\n'];
	for (let i = 0; i < 90; i++) {
		const e = eds[rnd(eds.length)];
		const len = e.content.length();
		let at = rnd(len);            // before the final newline
		const txt = e.text();
		const inPair = (k) => k > 0 && /[\uD800-\uDBFF]/.test(txt[k - 1]);
		if (inPair(at))
			at--;                     // an editor never splits a surrogate pair
		let op = new Delta().retain(at);
		let span = 1 + rnd(3);
		while (span > 0 && (at + span >= len || inPair(at + span)))
			span--;
		if (rnd(4) === 0 && span > 0)
			op = op.delete(span);
		else if (rnd(5) === 0 && span > 0)
			op = op.retain(span, { bold: true });
		else
			op = op.insert(words[rnd(words.length)] + (i === 0 ? MARK : ''), rnd(3) === 0 ? { italic: true } : undefined);
		e.edit(op);
		await new Promise((res) => setTimeout(res, rnd(15)));
	}
	for (let i = 0; i < 200 && !eds.every((e) => e.idle()); i++)
		await new Promise((res) => setTimeout(res, 25));
	assert.ok(eds.every((e) => e.idle()), `edits still in flight: ${JSON.stringify(eds.map((e) => ({ nack: e.nack, rev: e.rev, infl: !!e.inflight, closed: e.c.closeInfo, last: e.c.messages.slice(-3) })))}`);
	await new Promise((res) => setTimeout(res, 300));
	const r = await srv.get(`/api/v1/documents/${doc.id}`, T(ann));
	assertStatus(r, 200);
	const server = new Delta(r.json.content.ops);
	for (const [i, e] of eds.entries()) {
		assert.equal(e.rev, r.json.rev, `client ${i} revision`);
		assert.deepEqual(e.content.ops, server.ops, `client ${i} diverged`);
		assert.ok(!e.nack, `client ${i} got ${JSON.stringify(e.nack)}`);
	}
	assert.ok(r.json.rev >= 60, `only ${r.json.rev} revisions`);
	for (const e of eds)
		e.c.close();
});

test('revisions: future and too-old bases are refused with unknown_revision; ops over limits too', async () => {
	const e = await Editor.open(bob, doc.id);
	// the same op resent (lost ack): acknowledged with its revision, not applied twice
	e.c.send({ type: 'doc.op', doc: doc.id, rev: e.rev, oid: 'twice', op: { ops: [{ insert: 'once ' }] } });
	const a1 = await e.c.next((m) => m.type === 'doc.ack' && m.oid === 'twice');
	e.c.send({ type: 'doc.op', doc: doc.id, rev: e.rev, oid: 'twice', op: { ops: [{ insert: 'once ' }] } });
	const a2 = await e.c.next((m) => m.type === 'doc.ack' && m.oid === 'twice');
	assert.equal(a2.rev, a1.rev, 'the resend got the same revision');
	const txt = (await srv.get(`/api/v1/documents/${doc.id}`, T(bob))).json.content.ops.map((o) => o.insert).join('');
	assert.equal(txt.split('once ').length - 1, 1, 'applied once');
	e.rev = a1.rev;
	e.c.send({ type: 'doc.op', doc: doc.id, rev: e.rev + 5, oid: 'future', op: { ops: [{ insert: 'x' }] } });
	assert.equal((await e.c.next((m) => m.type === 'doc.nack' && m.oid === 'future')).code, 'unknown_revision');
	e.c.send({ type: 'doc.op', doc: doc.id, rev: e.rev, oid: 'bad', op: { ops: [{ retain: -3 }] } });
	assert.equal((await e.c.next((m) => m.type === 'doc.nack' && m.oid === 'bad')).code, 'invalid_op');
	e.c.send({ type: 'doc.op', doc: doc.id, rev: e.rev, oid: 'past', op: { ops: [{ retain: 10_000_000 }, { insert: 'x' }] } });
	assert.match((await e.c.next((m) => m.type === 'doc.nack' && m.oid === 'past')).code, /^(invalid_op|too_large)$/);
	e.c.send({ type: 'doc.op', doc: doc.id, rev: e.rev, oid: 'big', op: { ops: [{ insert: 'y'.repeat(1024 * 1024 + 10) }] } });
	const big = await e.c.next((m) => (m.type === 'doc.nack' && m.oid === 'big') || m.type === 'error', 10000, 'big refused');
	assert.ok(big.code === 'too_large' || big.code === 'invalid_op', JSON.stringify(big));
	e.c.close();
});

test('versions: save, list, read, restore as a new revision seen live by editors', async () => {
	let r = await srv.post(`/api/v1/documents/${doc.id}/versions`, { label: 'before rewrite' }, T(bob));
	assertStatus(r, 201);
	const vid = r.json.version.id;
	const before = (await srv.get(`/api/v1/documents/${doc.id}`, T(ann))).json;
	const e = await Editor.open(ann, doc.id);
	e.edit(new Delta().insert('REWRITTEN '));
	for (let i = 0; i < 100 && !e.idle(); i++)
		await new Promise((res) => setTimeout(res, 20));
	const watcher = await Editor.open(bob, doc.id);
	r = await srv.get(`/api/v1/documents/${doc.id}/versions`, T(carl));
	assertStatus(r, 200);
	assert.ok(r.json.versions.some((v) => v.id === vid && v.label === 'before rewrite'));
	r = await srv.get(`/api/v1/documents/${doc.id}/versions/${vid}`, T(carl));
	assert.deepEqual(r.json.content.ops, before.content.ops);
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/versions/${vid}/restore`, {}, T(carl)), 403);
	r = await srv.post(`/api/v1/documents/${doc.id}/versions/${vid}/restore`, {}, T(bob));
	assertStatus(r, 200);
	assert.ok(r.json.rev > before.rev, 'the restore is a new revision');
	await watcher.c.next((m) => m.type === 'doc.reset' || (m.type === 'doc.op' && m.user === bob.id), 5000, 'restore seen live');
	const now = (await srv.get(`/api/v1/documents/${doc.id}`, T(ann))).json;
	assert.deepEqual(now.content.ops, before.content.ops, 'content is the version again');
	assert.ok((await srv.audit(auditor.ticket, 'event=doc.version.restore')).length > 0);
	e.c.close();
	watcher.c.close();
});

test('trash: delete, restore by the owner, expiry destroys it, early purge only by the security administrator', async () => {
	assertStatus(await srv.del(`/api/v1/documents/${doc.id}`, T(ann)), 204);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(bob)), 404);
	let r = await srv.get('/api/v1/documents?trash=1', T(ann));
	assert.ok(r.json.documents.some((d) => d.id === doc.id && d.purge_after > 0));
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/restore`, {}, T(bob)), 404);
	assertStatus(await srv.post(`/api/v1/documents/${doc.id}/restore`, {}, T(ann)), 200);
	assertStatus(await srv.get(`/api/v1/documents/${doc.id}`, T(bob)), 200);

	// early purge: not the owner, only the security administrator
	r = await srv.post('/api/v1/documents', { title: 'doomed' }, T(ann));
	const doomed = r.json.document.id;
	assertStatus(await srv.del(`/api/v1/documents/${doomed}/purge`, T(ann)), 403);
	assertStatus(await srv.del(`/api/v1/documents/${doomed}/purge`, T(sec)), 204);
	assertStatus(await srv.get(`/api/v1/documents/${doomed}`, T(ann)), 404);

	// the trash period ends
	r = await srv.post('/api/v1/documents', { title: 'old' }, T(ann));
	const old = r.json.document.id;
	assertStatus(await srv.del(`/api/v1/documents/${old}`, T(ann)), 204);
	await srv.advance(31 * 86400);
	await srv.relogin('acme', 'ann');
	await srv.relogin('acme', 'auditor');
	let gone = false;
	for (let i = 0; i < 40 && !gone; i++) {
		await new Promise((res) => setTimeout(res, 250));
		r = await srv.get('/api/v1/documents?trash=1', T(ann));
		gone = !r.json.documents.some((d) => d.id === old);
	}
	assert.ok(gone, 'the expired document is still in the trash');
	const purges = await srv.audit(auditor.ticket, 'event=doc.purge');
	assert.ok(purges.some((x) => x.object === `document:${old}`));
	assert.ok(purges.some((x) => x.object === `document:${doomed}`));
	for (const ev of ['doc.create', 'doc.rename', 'doc.move', 'doc.delete', 'doc.restore'])
		assert.ok((await srv.audit(auditor.ticket, `event=${ev}`)).length > 0, `${ev} audited`);
});

test('acknowledged ops survive kill -9; no plaintext of content or titles on disk', async () => {
	await srv.relogin('acme', 'bob');
	const e = await Editor.open(ann, doc.id);
	for (let i = 0; i < 20; i++) {
		e.edit(new Delta().insert(`line ${i} ${MARK}\n`));
		for (let k = 0; k < 100 && !e.idle(); k++)
			await new Promise((res) => setTimeout(res, 5));
	}
	const acked = e.rev;
	const content = e.content;
	srv.proc.kill('SIGKILL');
	await srv.exited;
	await srv.launch();
	await srv.relogin('acme', 'ann');
	const r = await srv.get(`/api/v1/documents/${doc.id}`, T(ann));
	assertStatus(r, 200);
	assert.equal(r.json.rev, acked);
	assert.deepEqual(r.json.content.ops, content.ops);
	await srv.stop();
	const found = [];
	for (const f of srv.dataFiles()) {
		const buf = fs.readFileSync(f);
		for (const n of [MARK, '项目 Projects', 'before rewrite'])
			if (buf.includes(Buffer.from(n)))
				found.push(`${n} in ${f}`);
	}
	assert.deepEqual(found, []);
	await srv.launch();
});
