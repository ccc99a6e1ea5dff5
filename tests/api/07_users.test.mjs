// 07 — user administration: create, one-time passwords, validation, PII
// masking and audited unmasking, disable/enable, reset, paging, departments.
// (PS-IA-a/c/d, PS-PI-d, PS-AC-b, RG-OPS-b)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, strongPassword } from './lib/server.mjs';

let srv, admin, sec, aud;
const PII = { display_name: '张三', email: 'zhangsan@example.cn', phone: '13812348000', id_card: '110101199003071234' };
const MASKED = { email: 'z***@example.cn', phone: '138****8000', id_card: '1101**********1234' };
const S = {};

before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	aud = await srv.bootstrapAdmin('acme', 'auditor');
});
after(async () => { await srv?.dispose(); });

test('create: 201 with a one-time password; the user must change it at first sign-in', async () => {
	const r = await srv.post('/api/v1/users', { username: 'zhang.san', ...PII }, { token: admin.ticket });
	assertStatus(r, 201);
	const u = r.json.user;
	assert.equal(u.username, 'zhang.san');
	assert.equal(u.role, 'member', 'default role member');
	assert.equal(u.status, 'active');
	assert.equal(u.must_change_password, true);
	assert.equal(u.mfa_enabled, false);
	assert.equal(u.locked, false);
	assert.equal(u.display_name, PII.display_name);
	assert.equal(u.email, MASKED.email, 'email masked in the create answer');
	assert.equal(u.phone, MASKED.phone);
	assert.equal(u.id_card, MASKED.id_card);
	assert.equal(typeof r.json.initial_password, 'string');
	assert.ok(r.json.initial_password.length >= 12, 'a strong initial password');
	S.zhang = { id: u.id, initial: r.json.initial_password };
	const l = await srv.login('acme', 'zhang.san', S.zhang.initial);
	assertError(l, 403, 'password_change_required');
	assert.equal(l.json.scope, 'password_change');
	// a guest can be created too
	const g = await srv.post('/api/v1/users', { username: 'gus.guest', role: 'guest' }, { token: admin.ticket });
	assertStatus(g, 201);
	assert.equal(g.json.user.role, 'guest');
	// two users get different initial passwords
	assert.notEqual(g.json.initial_password, S.zhang.initial);
});

test('duplicate usernames answer 409 conflict', async () => {
	const r = await srv.post('/api/v1/users', { username: 'zhang.san' }, { token: admin.ticket });
	assertError(r, 409, 'conflict');
	const r2 = await srv.post('/api/v1/users', { username: 'admin' }, { token: admin.ticket });
	assertError(r2, 409, 'conflict', 'a preset administrator\'s name');
});

test('invalid usernames and roles answer 400 invalid_request', async () => {
	const bad = ['ab', 'Zhang.San', 'ZHANG', 'has space', 'slash/name', 'semi;colon', 'x'.repeat(65),
		'', 'é-accent', 'emoji😀x', 'tab\tname', 'quote"d', '../etc', 'a@b.c'];
	for (const username of bad) {
		const r = await srv.post('/api/v1/users', { username }, { token: admin.ticket });
		assertError(r, 400, 'invalid_request', `username ${JSON.stringify(username)}`);
	}
	for (const role of ['sysadmin', 'secadmin', 'auditadmin', 'root', 'Member', '']) {
		const r = await srv.post('/api/v1/users', { username: `role.${role || 'empty'}`.toLowerCase(), role }, { token: admin.ticket });
		assertError(r, 400, 'invalid_request', `role ${role}`);
	}
	const ok = await srv.post('/api/v1/users', { username: 'a-b_c.9' }, { token: admin.ticket });
	assertStatus(ok, 201, 'all allowed characters');
	const max = await srv.post('/api/v1/users', { username: 'm'.repeat(64) }, { token: admin.ticket });
	assertStatus(max, 201, '64 characters');
});

test('PII is masked in list and get; the sysadmin may unmask, and it is audited', async () => {
	const list = await srv.get('/api/v1/users?limit=500', { token: admin.ticket });
	assertStatus(list, 200);
	const inList = list.json.users.find((u) => u.username === 'zhang.san');
	assert.ok(inList);
	for (const k of Object.keys(MASKED))
		assert.equal(inList[k], MASKED[k], `list ${k}`);
	assert.ok(!list.text.includes(PII.phone) && !list.text.includes(PII.email) && !list.text.includes(PII.id_card),
		'no full PII anywhere in the list');
	for (const [who, t] of [['sysadmin', admin.ticket], ['secadmin', sec.ticket]]) {
		const g = await srv.get(`/api/v1/users/${S.zhang.id}`, { token: t });
		assertStatus(g, 200);
		for (const k of Object.keys(MASKED))
			assert.equal(g.json.user[k], MASKED[k], `${who} get ${k}`);
		const g0 = await srv.get(`/api/v1/users/${S.zhang.id}?unmask=0`, { token: t });
		assert.equal(g0.json.user.phone, MASKED.phone, `${who} unmask=0`);
	}
	const t0 = Date.now() - 5000 + srv.offset * 1000;
	const un = await srv.get(`/api/v1/users/${S.zhang.id}?unmask=1`, { token: admin.ticket });
	assertStatus(un, 200);
	assert.equal(un.json.user.phone, PII.phone);
	assert.equal(un.json.user.email, PII.email);
	assert.equal(un.json.user.id_card, PII.id_card);
	const recs = await srv.audit(aud.ticket, 'event=user.pii_unmask&limit=50');
	const mine = recs.filter((r) => r.time_ms >= t0 && r.subject.includes('admin') && r.object.includes('zhang.san'));
	assert.ok(mine.some((r) => r.outcome === 'success'), `user.pii_unmask success recorded: ${JSON.stringify(recs)}`);
	for (const r of recs)
		assert.ok(!JSON.stringify(r).includes(PII.phone), 'the audit record does not contain the PII itself');
});

test('the secadmin may not unmask (403), and the refusal is audited', async () => {
	const r = await srv.get(`/api/v1/users/${S.zhang.id}?unmask=1`, { token: sec.ticket });
	assertError(r, 403, 'forbidden');
	assert.ok(!r.text.includes(PII.phone));
	const recs = await srv.audit(aud.ticket, 'event=user.pii_unmask&limit=50');
	assert.ok(recs.some((x) => x.subject.includes('secadmin') && x.outcome !== 'success'),
		`refused unmask recorded: ${JSON.stringify(recs.map((x) => [x.subject, x.outcome]))}`);
});

test('the user sees their own PII in full', async () => {
	let r = await srv.login('acme', 'zhang.san', S.zhang.initial);
	const t = r.json.ticket;
	const pw = strongPassword();
	r = await srv.post('/api/v1/auth/password', { current_password: S.zhang.initial, new_password: pw }, { token: t });
	assertStatus(r, 200);
	S.zhang.password = pw;
	S.zhang.ticket = t;
	r = await srv.get('/api/v1/auth/session', { token: t });
	assert.equal(r.json.user.phone, PII.phone);
	assert.equal(r.json.user.email, PII.email);
	// but a member cannot read other users at all
	assertError(await srv.get(`/api/v1/users/${admin.id}`, { token: t }), 403, 'forbidden');
});

test('disable ends the user\'s sessions and blocks sign-in; enable restores it', async () => {
	let r = await srv.post(`/api/v1/users/${S.zhang.id}/disable`, undefined, { token: admin.ticket });
	assertStatus(r, 200);
	assert.equal(r.json.user.status, 'disabled');
	assertError(await srv.get('/api/v1/auth/session', { token: S.zhang.ticket }), 401, 'unauthenticated', 'session of a disabled user');
	r = await srv.login('acme', 'zhang.san', S.zhang.password);
	assert.equal(r.status, 401, `sign-in of a disabled user -> ${r.status} ${r.text}`);
	assertError(r, 401, 'invalid_credentials');
	assert.ok(!r.json.ticket);
	// an administrator cannot disable themself
	r = await srv.post(`/api/v1/users/${admin.id}/disable`, undefined, { token: admin.ticket });
	assert.ok(r.status === 400 || r.status === 403 || r.status === 409, `self-disable -> ${r.status}`);
	assertStatus(await srv.get('/api/v1/auth/session', { token: admin.ticket }), 200);
	r = await srv.post(`/api/v1/users/${S.zhang.id}/enable`, undefined, { token: admin.ticket });
	assertStatus(r, 200);
	assert.equal(r.json.user.status, 'active');
	r = await srv.login('acme', 'zhang.san', S.zhang.password);
	assertStatus(r, 200, 'sign-in after enable');
	S.zhang.ticket = r.json.ticket;
	assertError(await srv.post('/api/v1/users/999999/disable', undefined, { token: admin.ticket }), 404, 'not_found');
	assertError(await srv.post('/api/v1/users/0/disable', undefined, { token: admin.ticket }), 404, 'not_found');
	assertError(await srv.post('/api/v1/users/-1/disable', undefined, { token: admin.ticket }), 404, 'not_found');
});

test('reset-password: a new one-time password, old password and sessions dead', async () => {
	const r = await srv.post(`/api/v1/users/${S.zhang.id}/reset-password`, undefined, { token: admin.ticket });
	assertStatus(r, 200);
	const otp = r.json.initial_password;
	assert.equal(typeof otp, 'string');
	assert.ok(otp.length >= 12);
	assertError(await srv.get('/api/v1/auth/session', { token: S.zhang.ticket }), 401, 'unauthenticated');
	assertError(await srv.login('acme', 'zhang.san', S.zhang.password), 401, 'invalid_credentials');
	const l = await srv.login('acme', 'zhang.san', otp);
	assertError(l, 403, 'password_change_required');
	const u = await srv.get(`/api/v1/users/${S.zhang.id}`, { token: admin.ticket });
	assert.equal(u.json.user.must_change_password, true);
	// once changed, the one-time password is spent
	const pw = strongPassword();
	assertStatus(await srv.post('/api/v1/auth/password', { current_password: otp, new_password: pw }, { token: l.json.ticket }), 200);
	assertError(await srv.login('acme', 'zhang.san', otp), 401, 'invalid_credentials');
	assertStatus(await srv.login('acme', 'zhang.san', pw), 200);
});

test('paging with after/limit visits every user once', async () => {
	for (let i = 0; i < 5; i++)
		assertStatus(await srv.post('/api/v1/users', { username: `page.user${i}` }, { token: admin.ticket }), 201);
	const all = (await srv.get('/api/v1/users?limit=500', { token: admin.ticket })).json;
	assert.equal(all.next_after, null, 'one page holds everything');
	const seen = [];
	let after = 0;
	for (let guard = 0; guard < 100; guard++) {
		const r = await srv.get(`/api/v1/users?after=${after}&limit=2`, { token: admin.ticket });
		assertStatus(r, 200);
		assert.ok(r.json.users.length <= 2);
		seen.push(...r.json.users.map((u) => u.id));
		if (r.json.next_after === null)
			break;
		assert.ok(r.json.next_after > after, 'cursor advances');
		after = r.json.next_after;
	}
	assert.deepEqual(seen, all.users.map((u) => u.id), 'pages concatenate to the full list');
	assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'ascending ids');
	// docs/openapi.yaml: limit 1..1000
	assertStatus(await srv.get('/api/v1/users?limit=1000', { token: admin.ticket }), 200, 'limit=1000');
	for (const q of ['limit=0', 'limit=-1', 'limit=1001', 'limit=100000', 'after=-5', 'limit=abc']) {
		const r = await srv.get(`/api/v1/users?${q}`, { token: admin.ticket });
		assertError(r, 400, 'invalid_request', q);
	}
});

test('departments: create, list, use for a user; a missing department is refused', async () => {
	let r = await srv.post('/api/v1/departments', { name: 'Finance' }, { token: admin.ticket });
	assertStatus(r, 201);
	const fin = r.json.department;
	assert.equal(fin.name, 'Finance');
	r = await srv.post('/api/v1/departments', { name: 'Payroll', parent_id: fin.id }, { token: admin.ticket });
	assertStatus(r, 201);
	assert.equal(r.json.department.parent_id, fin.id);
	r = await srv.get('/api/v1/departments', { token: sec.ticket });
	assertStatus(r, 200);
	assert.deepEqual(r.json.departments.map((d) => d.name).sort(), ['Finance', 'Payroll']);
	r = await srv.post('/api/v1/users', { username: 'fin.person', dept_id: fin.id }, { token: admin.ticket });
	assertStatus(r, 201);
	assert.equal(r.json.user.dept_id, fin.id);
	r = await srv.post('/api/v1/users', { username: 'nowhere.person', dept_id: 987654 }, { token: admin.ticket });
	assert.ok(r.status === 400 || r.status === 404, `unknown dept -> ${r.status}`);
	assertError(r, r.status);
	r = await srv.post('/api/v1/departments', { name: '' }, { token: admin.ticket });
	assertError(r, 400, 'invalid_request', 'empty name');
	r = await srv.post('/api/v1/departments', { name: 'Orphan', parent_id: 987654 }, { token: admin.ticket });
	assert.ok(r.status === 400 || r.status === 404, `unknown parent -> ${r.status}`);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
