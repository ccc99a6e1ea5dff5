// 08 — the audit trail: records for security events, listing and filters,
// verification, JSON and RFC 5424 exports, and tamper detection of a
// modified, deleted, swapped or truncated record.  (PS-LOG-a..d, RG-AUDIT)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, runBin } from './lib/server.mjs';

let srv, admin, sec, aud, mel;
const copies = [];
before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	aud = await srv.bootstrapAdmin('acme', 'auditor');
	mel = await srv.createUser(admin.ticket, 'acme', 'mel.member');
});
after(async () => {
	await srv?.dispose();
	for (const d of copies)
		fs.rmSync(d, { recursive: true, force: true });
});

const RECORD_KEYS = ['seq', 'time_ms', 'event', 'subject', 'object', 'outcome', 'source', 'device', 'request_id', 'detail'];

function checkRecord(r) {
	for (const k of RECORD_KEYS)
		assert.ok(k in r, `record.${k} in ${JSON.stringify(r)}`);
	assert.ok(Number.isInteger(r.seq) && r.seq >= 1);
	assert.ok(Number.isInteger(r.time_ms) && r.time_ms > 1.6e12, `time_ms ${r.time_ms}`);
	assert.ok(['success', 'failure', 'denied'].includes(r.outcome), `outcome ${r.outcome}`);
	assert.equal(typeof r.detail, 'object');
	assert.ok(r.detail !== null && !Array.isArray(r.detail));
}

test('security events produce audit records', async () => {
	// a failed sign-in, a lockout, an unlock
	for (let i = 0; i < 5; i++)
		assertError(await srv.login('acme', 'mel.member', `Wrong-Passw0rd-${i}`), 401, 'invalid_credentials');
	assertError(await srv.login('acme', 'mel.member', mel.password), 423, 'account_locked');
	assertStatus(await srv.post(`/api/v1/users/${mel.id}/unlock`, undefined, { token: admin.ticket }), 200);
	// a sign-out
	const t = await srv.ticketFor('acme', 'mel.member');
	assert.equal((await srv.post('/api/v1/auth/logout', undefined, { token: t })).status, 204);
	// a role change and a policy change
	assertStatus(await srv.put(`/api/v1/users/${mel.id}/role`, { role: 'guest' }, { token: sec.ticket }), 200);
	const p = (await srv.get('/api/v1/policy', { token: sec.ticket })).json;
	const r = await srv.put('/api/v1/policy', { ...p.policy, lockout_minutes: 20 }, { token: sec.ticket });
	assertStatus(r, 200, 'policy change');
	assert.equal(r.json.policy.lockout_minutes, 20);
	assert.ok(r.json.version > p.version, 'policy version increases');
	// a department, a password reset
	assertStatus(await srv.post('/api/v1/departments', { name: 'Audit Me' }, { token: admin.ticket }), 201);
	assertStatus(await srv.post(`/api/v1/users/${mel.id}/reset-password`, undefined, { token: admin.ticket }), 200);

	const expect = [
		['auth.login', (x) => x.outcome === 'success' && x.subject.includes('admin')],
		['auth.login', (x) => x.outcome === 'failure' && x.object.includes('mel.member') && typeof x.detail.reason === 'string'],
		['auth.lockout', (x) => x.object.includes('mel.member')],
		['user.unlock', (x) => x.object.includes('mel.member') && x.subject.includes('admin')],
		['auth.logout', (x) => x.subject.includes('mel.member')],
		['auth.password_change', (x) => x.subject.includes('auditor')],
		['auth.mfa_enrol', (x) => x.subject.includes('secadmin') && x.outcome === 'success'],
		['user.create', (x) => x.object.includes('mel.member') && x.subject.includes('admin')],
		['user.role_change', (x) => x.object.includes('mel.member') && x.subject.includes('secadmin')],
		['policy.change', (x) => x.subject.includes('secadmin')],
		['dept.create', (x) => x.subject.includes('admin')],
		['user.password_reset', (x) => x.object.includes('mel.member')],
		['tenant.create', () => true],
	];
	// installation-wide records (the server's start) are part of the tenant's view
	const starts = await srv.audit(aud.ticket, 'event=server.start');
	assert.ok(starts.length >= 1, 'server.start visible to the auditadmin');
	const all = await srv.audit(aud.ticket, 'limit=1000');
	all.forEach(checkRecord);
	const missing = [];
	for (const [event, pred] of expect) {
		const byFilter = await srv.audit(aud.ticket, `event=${event}&limit=1000`);
		assert.ok(byFilter.every((x) => x.event.startsWith(event)), `filter ${event}`);
		if (!byFilter.some(pred))
			missing.push(`${event}: ${JSON.stringify(byFilter.slice(0, 5))}`);
	}
	assert.deepEqual(missing, [], `missing audit records:\n${missing.join('\n')}`);
	// failed sign-ins record where they came from and why
	const fail = (await srv.audit(aud.ticket, 'event=auth.login&limit=1000')).find((x) => x.outcome === 'failure');
	assert.equal(fail.source, '127.0.0.1');
	// no secrets in the trail
	const text = JSON.stringify(all);
	for (const secret of [mel.password, admin.password, admin.secret, aud.ticket, sec.ticket, 'Wrong-Passw0rd-0'])
		assert.ok(!text.includes(secret), `the trail must not contain ${secret.slice(0, 6)}…`);
});

test('listing: newest first, paging with before, filters, bad parameters', async () => {
	const page1 = await srv.get('/api/v1/audit?limit=5', { token: aud.ticket });
	assertStatus(page1, 200);
	const r1 = page1.json.records;
	assert.equal(r1.length, 5);
	for (let i = 1; i < r1.length; i++)
		assert.ok(r1[i - 1].seq > r1[i].seq, 'newest first');
	assert.equal(page1.json.next_before, r1[4].seq);
	const page2 = await srv.get(`/api/v1/audit?limit=5&before=${page1.json.next_before}`, { token: aud.ticket });
	assertStatus(page2, 200);
	assert.ok(page2.json.records.every((x) => x.seq < r1[4].seq), 'older page');
	const auth = await srv.audit(aud.ticket, 'event=auth.&limit=1000');
	assert.ok(auth.length > 0 && auth.every((x) => x.event.startsWith('auth.')));
	const subj = auth[0].subject;
	const bySubject = await srv.audit(aud.ticket, `subject=${encodeURIComponent(subj)}&limit=1000`);
	assert.ok(bySubject.length > 0 && bySubject.every((x) => x.subject === subj), 'subject filter exact');
	const future = Math.floor(srv.now()) + 100000;
	assert.deepEqual(await srv.audit(aud.ticket, `since=${future}`), [], 'since in the future: nothing');
	assert.deepEqual(await srv.audit(aud.ticket, 'until=1000'), [], 'until 1970: nothing');
	for (const q of ['limit=0', 'limit=1001', 'limit=-3', 'before=-1', 'since=-5']) {
		const r = await srv.get(`/api/v1/audit?${q}`, { token: aud.ticket });
		assertError(r, 400, 'invalid_request', q);
	}
});

test('GET /audit/verify: the untouched trail verifies, and verifying is audited', async () => {
	const r = await srv.get('/api/v1/audit/verify', { token: aud.ticket });
	assertStatus(r, 200);
	assert.equal(r.json.ok, true, JSON.stringify(r.json));
	assert.ok(r.json.records > 20, `records ${r.json.records}`);
	assert.ok(r.json.checkpoints >= 1, 'init signed a checkpoint');
	assert.ok(r.json.last_checkpoint && Number.isInteger(r.json.last_checkpoint.seq) && Number.isInteger(r.json.last_checkpoint.time_ms));
	assert.ok(!('first_bad_seq' in r.json));
	const recs = await srv.audit(aud.ticket, 'event=audit.verify');
	assert.ok(recs.some((x) => x.subject.includes('auditor')), 'audit.verify recorded');
});

test('exports: a JSON array and RFC 5424 syslog lines, as attachments, audited', async () => {
	const j = await srv.get('/api/v1/audit/export?format=json', { token: aud.ticket });
	assertStatus(j, 200);
	assert.match(j.headers['content-type'], /^application\/json/);
	assert.match(j.headers['content-disposition'] || '', /^attachment/);
	const arr = JSON.parse(j.text);
	assert.ok(Array.isArray(arr) && arr.length > 20, 'a JSON array of records');
	for (const x of arr) {
		assert.ok(Number.isInteger(x.seq) && typeof x.event === 'string' && typeof x.outcome === 'string');
		assert.ok('subject' in x && 'object' in x && 'detail' in x);
	}
	assert.equal(new Set(arr.map((x) => x.seq)).size, arr.length, 'no duplicates');
	const s = await srv.get('/api/v1/audit/export?format=syslog', { token: aud.ticket });
	assertStatus(s, 200);
	assert.match(s.headers['content-type'], /^text\/plain/);
	assert.match(s.headers['content-disposition'] || '', /^attachment/);
	const lines = s.text.split('\n').filter((l) => l.length);
	assert.ok(lines.length > 20);
	for (const l of lines) {
		assert.match(l, /^<\d+>1 \S+ \S+ bulwark - \S+ \[audit@32473 /, l);
		const ts = l.split(' ')[1];
		assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, `RFC 3339 timestamp ${ts}`);
		const pri = Number(/^<(\d+)>/.exec(l)[1]);
		assert.ok(pri >= 0 && pri <= 191, `PRI ${pri}`);
		assert.ok(!l.includes('\r'), 'one record per line');
	}
	assert.equal(lines.length, arr.length + 1, 'syslog export has the records of the JSON export plus that export\'s own record');
	for (const q of ['format=xml', 'format=JSON']) {
		const r = await srv.get(`/api/v1/audit/export?${q}`, { token: aud.ticket });
		assertError(r, 400, 'invalid_request', q);
	}
	const recs = await srv.audit(aud.ticket, 'event=audit.export&limit=100');
	assert.ok(recs.filter((x) => x.outcome === 'success').length >= 2, 'audit.export recorded for each export');
});

test('appending is the only change: the API offers no way to modify or delete records', async () => {
	for (const [method, p] of [['DELETE', '/api/v1/audit'], ['PUT', '/api/v1/audit'], ['POST', '/api/v1/audit'],
		['DELETE', '/api/v1/audit/1'], ['PUT', '/api/v1/audit/1']]) {
		const r = await srv.request(method, p, { json: {}, token: aud.ticket });
		assert.ok(r.status === 404 || r.status === 405, `${method} ${p} -> ${r.status}`);
	}
});

// --- offline verification and tampering ---------------------------------

function copyData(name) {
	const d = `${srv.dir}-${name}`;
	fs.rmSync(d, { recursive: true, force: true });
	execFileSync('cp', ['-a', srv.dir, d]);
	copies.push(d);
	return d;
}

function sql(dir, statements) {
	const db = path.join(dir, 'bulwark.db');
	const triggers = execFileSync('sqlite3', [db, "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit'"], { encoding: 'utf8' })
		.split('\n').filter(Boolean);
	assert.ok(triggers.length >= 1, 'the audit table is protected by triggers');
	const drop = triggers.map((t) => `DROP TRIGGER "${t}";`).join(' ');
	return execFileSync('sqlite3', [db, `${drop} ${statements}`], { encoding: 'utf8' });
}

const COLS = ['ts_ms', 'tenant_id', 'event', 'subject', 'object', 'outcome', 'source', 'device', 'request_id', 'detail', 'prev_hash', 'hash'];

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});

test('offline: the stopped server\'s trail verifies (exit 0) and includes server.start/stop', async () => {
	assert.equal(srv.proc, null, 'server stopped');
	const v = runBin(['audit', 'verify', '--data', srv.dir]);
	assert.equal(v.code, 0, `verify: ${v.stdout} ${v.stderr}`);
	assert.match(v.stdout, /OK/);
	const e = runBin(['audit', 'export', '--data', srv.dir, '--format', 'json']);
	assert.equal(e.code, 0, e.stderr);
	const recs = JSON.parse(e.stdout);
	assert.ok(recs.some((x) => x.event === 'server.start'), 'server.start recorded');
	const e2 = runBin(['audit', 'export', '--data', srv.dir, '--format', 'syslog']);
	assert.equal(e2.code, 0);
	for (const l of e2.stdout.split('\n').filter(Boolean))
		assert.match(l, /^<\d+>1 \S+ \S+ bulwark - \S+ \[audit@32473 /);
	// the export itself is audited and the trail still verifies
	const v2 = runBin(['audit', 'verify', '--data', srv.dir]);
	assert.equal(v2.code, 0, v2.stdout);
	assert.ok(recs.some((x) => x.event === 'server.stop'), 'server.stop recorded (clean shutdown)');
});

test('offline: a modified record is detected and named', async () => {
	const d = copyData('modified');
	const orig = execFileSync('sqlite3', [path.join(d, 'bulwark.db'), 'SELECT subject FROM audit WHERE seq=3'], { encoding: 'utf8' }).trim();
	sql(d, "UPDATE audit SET subject = subject || 'x' WHERE seq = 3;");
	const changed = execFileSync('sqlite3', [path.join(d, 'bulwark.db'), 'SELECT subject FROM audit WHERE seq=3'], { encoding: 'utf8' }).trim();
	assert.equal(changed, `${orig}x`, 'the tamper took effect');
	const v = runBin(['audit', 'verify', '--data', d]);
	assert.notEqual(v.code, 0, `verify should fail: ${v.stdout}`);
	assert.match(`${v.stdout}${v.stderr}`, /\b3\b/, `names record 3: ${v.stdout}${v.stderr}`);
	// a one-character change of the detail is also detected
	const d2 = copyData('modified-detail');
	sql(d2, "UPDATE audit SET detail = detail || ' ' WHERE seq = 7;");
	const v2 = runBin(['audit', 'verify', '--data', d2]);
	assert.notEqual(v2.code, 0, `verify should fail: ${v2.stdout}`);
	assert.match(`${v2.stdout}${v2.stderr}`, /\b7\b/);
});

test('offline: a deleted record is detected', async () => {
	const d = copyData('deleted');
	sql(d, 'DELETE FROM audit WHERE seq = 5;');
	const v = runBin(['audit', 'verify', '--data', d]);
	assert.notEqual(v.code, 0, `verify should fail: ${v.stdout}`);
	assert.match(`${v.stdout}${v.stderr}`, /\b5\b/, `names record 5: ${v.stdout}`);
});

test('offline: two swapped records are detected', async () => {
	const d = copyData('swapped');
	const set = (to, from) => `UPDATE audit SET ${COLS.map((c) => `${c} = (SELECT ${c} FROM t WHERE seq = ${from})`).join(', ')} WHERE seq = ${to};`;
	sql(d, `CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (4, 5); ${set(4, 5)} ${set(5, 4)}`);
	const ev = execFileSync('sqlite3', [path.join(d, 'bulwark.db'), 'SELECT event FROM audit WHERE seq IN (4,5) ORDER BY seq'], { encoding: 'utf8' });
	const orig = execFileSync('sqlite3', [path.join(srv.dir, 'bulwark.db'), 'SELECT event FROM audit WHERE seq IN (5,4) ORDER BY seq DESC'], { encoding: 'utf8' });
	assert.equal(ev, orig, 'the swap took effect');
	const v = runBin(['audit', 'verify', '--data', d]);
	assert.notEqual(v.code, 0, `verify should fail: ${v.stdout}`);
	assert.match(`${v.stdout}${v.stderr}`, /\b4\b/, `names record 4: ${v.stdout}`);
});

test('offline: cutting off the newest records is detected by the signed checkpoint', async () => {
	const d = copyData('truncated');
	const maxSeq = Number(execFileSync('sqlite3', [path.join(d, 'bulwark.db'), 'SELECT MAX(seq) FROM audit'], { encoding: 'utf8' }).trim());
	assert.ok(maxSeq > 20, `max seq ${maxSeq}`);
	// the last export (CLI) signed a checkpoint at the newest record
	sql(d, `DELETE FROM audit WHERE seq >= ${maxSeq - 1};`);
	const v = runBin(['audit', 'verify', '--data', d]);
	assert.notEqual(v.code, 0, `verify should fail: ${v.stdout}`);
});

test('the API reports tampering: a server on the modified copy answers ok:false with first_bad_seq', async () => {
	const d = copies.find((x) => x.endsWith('-modified'));
	const s2 = Object.assign(new Server(), { dir: d, ca: srv.ca, accounts: srv.accounts, offset: srv.offset });
	s2.writeClock();
	await s2.launch();
	try {
		const r = await s2.get('/api/v1/audit/verify', { token: aud.ticket });
		assertStatus(r, 200);
		assert.equal(r.json.ok, false);
		assert.equal(r.json.first_bad_seq, 3);
		assert.equal(typeof r.json.reason, 'string');
	} finally {
		await s2.dispose();   // (clean shutdown is checked on the main server)
	}
});

test('the untouched original still verifies', async () => {
	const v = runBin(['audit', 'verify', '--data', srv.dir]);
	assert.equal(v.code, 0, v.stdout);
});
