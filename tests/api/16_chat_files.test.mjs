// 16 — chat attachments against a real clamd with the shipped EICAR
// signature: chunked upload, scan before visibility, EICAR rejected and
// quarantined (encrypted), member-only audited downloads served as
// attachments with nosniff, fail-closed when clamd is down, the tenant
// opt-out (audited), limits, and no plaintext of a file on disk.
// (RG-IM-a, MI-3, WC-STORE, IN-SURGE; user rule "scan downloaded files")
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
const MARK = 'attachment-plaintext-marker-51f3';
let srv, admin, sec, auditor, ann, bob, dora, conv, clamdDir, sock;

function clamd(cmd) {
	return execFileSync('sh', [path.join(ROOT, 'scripts/clamd.sh'), cmd, clamdDir], { encoding: 'utf8' }).trim();
}

before(async () => {
	clamdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-clamd-'));
	sock = clamd('start');
	srv = await Server.start({ extraArgs: ['--clamd', sock] });
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	auditor = await srv.bootstrapAdmin('acme', 'auditor');
	ann = await srv.createUser(admin.ticket, 'acme', 'ann');
	bob = await srv.createUser(admin.ticket, 'acme', 'bob');
	dora = await srv.createUser(admin.ticket, 'acme', 'dora');
	const r = await srv.post('/api/v1/conversations', { kind: 'group', name: 'files', members: [bob.id] }, { token: ann.ticket });
	assertStatus(r, 201);
	conv = r.json.conversation;
});
after(async () => {
	await srv?.dispose();
	try {
		clamd('stop');
	} catch { /* already stopped */ }
	fs.rmSync(clamdDir, { recursive: true, force: true });
});

async function upload(u, name, data, { chunk = 100000, caption } = {}) {
	let r = await srv.post(`/api/v1/conversations/${conv.id}/uploads`, { name, size: data.length }, { token: u.ticket });
	assertStatus(r, 201, 'upload start');
	const id = r.json.upload_id;
	for (let off = 0; off < data.length; off += chunk) {
		r = await srv.request('PUT', `/api/v1/uploads/${id}?offset=${off}`, {
			body: data.subarray(off, off + chunk), token: u.ticket, headers: { 'content-type': 'application/octet-stream' },
		});
		assertStatus(r, 200, `chunk at ${off}`);
	}
	return srv.post(`/api/v1/uploads/${id}/finish`, caption ? { body: caption } : {}, { token: u.ticket });
}

let fileId;

test('a clean file is scanned, stored encrypted and sent as a message; members download it', async () => {
	const data = Buffer.from(`${MARK}\n`.repeat(20000));   // ~700 KiB, several chunks
	const r = await upload(ann, '../../etc/季度报告.txt', data, { caption: 'the report' });
	assertStatus(r, 201, 'finish');
	const f = r.json.message.file;
	assert.equal(f.name, '季度报告.txt', 'the name is sanitised');
	assert.equal(f.size, data.length);
	assert.equal(f.status, 'clean');
	assert.equal(r.json.message.kind, 'file');
	assert.equal(r.json.message.body, 'the report');
	fileId = f.id;

	const d = await srv.get(`/api/v1/files/${fileId}`, { token: bob.ticket });
	assertStatus(d, 200);
	assert.ok(d.buf.equals(data), 'downloaded bytes equal the upload');
	assert.match(d.headers['content-disposition'], /^attachment; filename="/);
	assert.match(d.headers['content-disposition'], /filename\*=UTF-8''%E5%AD%A3/);
	assert.equal(d.headers['x-content-type-options'], 'nosniff');
	assert.match(d.headers['content-type'], /^text\/plain/);

	assertStatus(await srv.get(`/api/v1/files/${fileId}`, { token: dora.ticket }), 404);
	const recs = await srv.audit(auditor.ticket, 'event=chat.file.download');
	assert.ok(recs.some((x) => x.object === `file:${fileId}` && x.outcome === 'success'));
	assert.ok(recs.some((x) => x.object === `file:${fileId}` && x.outcome === 'denied'));
});

test('EICAR is rejected, quarantined encrypted, audited, and never downloadable', async () => {
	const r = await upload(ann, 'eicar.com', Buffer.from(EICAR));
	assertError(r, 422, 'infected');
	assert.match(r.json.error.signature, /EICAR/);
	const recs = await srv.audit(auditor.ticket, 'event=chat.file.infected');
	assert.equal(recs.length, 1);
	assert.equal(recs[0].outcome, 'denied');
	const id = Number(recs[0].object.split(':')[1]);
	const q = path.join(srv.dir, 'quarantine');
	const files = fs.readdirSync(q, { recursive: true }).map((f) => path.join(q, f)).filter((f) => fs.statSync(f).isFile());
	assert.equal(files.length, 1, 'the infected file is kept in quarantine');
	assert.ok(!fs.readFileSync(files[0]).includes(Buffer.from('EICAR')), 'quarantine holds ciphertext only');
	assertStatus(await srv.get(`/api/v1/files/${id}`, { token: ann.ticket }), 404);
	const h = await srv.get(`/api/v1/conversations/${conv.id}/messages`, { token: bob.ticket });
	assert.ok(!h.json.messages.some((m) => m.file && m.file.id === id), 'no message for the infected file');
});

test('limits: size, offsets, too many bytes, non-members', async () => {
	assertError(await srv.post(`/api/v1/conversations/${conv.id}/uploads`, { name: 'big', size: 26 * 1024 * 1024 }, { token: ann.ticket }), 413, 'too_large');
	assertStatus(await srv.post(`/api/v1/conversations/${conv.id}/uploads`, { name: 'x', size: 10 }, { token: dora.ticket }), 404);
	let r = await srv.post(`/api/v1/conversations/${conv.id}/uploads`, { name: 'x.bin', size: 10 }, { token: ann.ticket });
	const id = r.json.upload_id;
	const put = (off, body, u = ann) => srv.request('PUT', `/api/v1/uploads/${id}?offset=${off}`, { body, token: u.ticket, headers: { 'content-type': 'application/octet-stream' } });
	assertError(await put(5, Buffer.alloc(5)), 409, 'wrong_offset');
	assertError(await put(0, Buffer.alloc(11)), 413, 'too_large');
	assertStatus(await srv.request('PUT', `/api/v1/uploads/${id}?offset=0`, { body: Buffer.alloc(4), token: bob.ticket }), 404);
	assertError(await srv.post(`/api/v1/uploads/${id}/finish`, {}, { token: ann.ticket }), 409, 'incomplete');
	assertError(await put(0, Buffer.alloc(300 * 1024)), 413, 'payload_too_large');
	r = await put(0, Buffer.alloc(10, 1));
	assertStatus(r, 200);
	assert.equal(r.json.received, 10);
});

test('clamd down: uploads fail closed; the tenant opt-out is honoured and audited', async () => {
	clamd('stop');
	const r = await upload(ann, 'note.txt', Buffer.from('hello while the scanner is down'));
	assertError(r, 503, 'scanner_unavailable');
	assertStatus(await srv.put('/api/v1/policy', { clamav_optout: true }, { token: sec.ticket }), 200);
	const ok = await upload(ann, 'note.txt', Buffer.from('accepted without scan'));
	assertStatus(ok, 201);
	assert.ok((await srv.audit(auditor.ticket, 'event=chat.file.scan_skipped')).length === 1);
	assertStatus(await srv.put('/api/v1/policy', { clamav_optout: false }, { token: sec.ticket }), 200);
	sock = clamd('start');
});

test('recalling a file message destroys its blob', async () => {
	const r = await upload(bob, 'gone.txt', Buffer.from('to be recalled'));
	assertStatus(r, 201);
	const blob = path.join(srv.dir, 'blobs', String(r.json.message.file.id ? 1 : 0));
	const id = r.json.message.file.id;
	const files = () => fs.readdirSync(path.join(srv.dir, 'blobs'), { recursive: true }).map(String);
	assert.ok(files().some((f) => f.endsWith(`/${id}`)), `blob ${id} exists (${blob})`);
	assertStatus(await srv.post(`/api/v1/messages/${r.json.message.id}/recall`, {}, { token: bob.ticket }), 200);
	assert.ok(!files().some((f) => f.endsWith(`/${id}`)), 'blob removed after recall');
	assertStatus(await srv.get(`/api/v1/files/${id}`, { token: ann.ticket }), 404);
});

test('no plaintext of an attachment or its name anywhere in the data directory', async () => {
	await srv.stop();
	const found = [];
	for (const f of srv.dataFiles()) {
		const buf = fs.readFileSync(f);
		for (const n of [MARK, '季度报告', EICAR.slice(0, 20)])
			if (buf.includes(Buffer.from(n)))
				found.push(`${n} in ${f}`);
	}
	assert.deepEqual(found, []);
	await srv.launch();
});
