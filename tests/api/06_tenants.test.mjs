// 06 — tenant isolation: every endpoint that takes an id refuses another
// tenant's objects with 404 (not 403: their existence is not revealed), and
// listings show only the caller's tenant.  (RG-AC-b, PS-AC-b, WC-STORE)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

let srv;
const A = {}, B = {};   // acme, beta: admin, sec, aud, member, dept
before(async () => {
	srv = await Server.start({ tenants: ['beta'] });
	for (const [X, t] of [[A, 'acme'], [B, 'beta']]) {
		X.admin = await srv.bootstrapAdmin(t, 'admin');
		X.sec = await srv.bootstrapAdmin(t, 'secadmin');
		X.aud = await srv.bootstrapAdmin(t, 'auditor');
		X.member = await srv.createUser(X.admin.ticket, t, t === 'acme' ? 'alice.acme' : 'bob.beta',
			{ phone: t === 'acme' ? '13812348000' : '13900001111', email: `${t}@example.cn` });
		const d = await srv.post('/api/v1/departments', { name: `${t} HQ` }, { token: X.admin.ticket });
		assertStatus(d, 201);
		X.dept = d.json.department;
		const s = await srv.get('/api/v1/auth/session', { token: X.admin.ticket });
		X.tenantId = s.json.tenant.id;
	}
	assert.notEqual(A.tenantId, B.tenantId);
});
after(async () => { await srv?.dispose(); });

// [who in beta, method, path for an acme user id, body]
const BY_ID = [
	['admin', 'GET', (id) => `/api/v1/users/${id}`],
	['admin', 'GET', (id) => `/api/v1/users/${id}?unmask=1`],
	['admin', 'POST', (id) => `/api/v1/users/${id}/disable`],
	['admin', 'POST', (id) => `/api/v1/users/${id}/enable`],
	['admin', 'POST', (id) => `/api/v1/users/${id}/unlock`],
	['admin', 'POST', (id) => `/api/v1/users/${id}/reset-password`],
	['sec', 'GET', (id) => `/api/v1/users/${id}`],
	['sec', 'POST', (id) => `/api/v1/users/${id}/unlock`],
	['sec', 'PUT', (id) => `/api/v1/users/${id}/role`, { role: 'guest' }],
	['sec', 'PUT', (id) => `/api/v1/users/${id}/role`, { role: 'secadmin' }],
	['sec', 'POST', (id) => `/api/v1/users/${id}/mfa-reset`],
	['sec', 'GET', (id) => `/api/v1/users/${id}/sessions`],
	['sec', 'POST', (id) => `/api/v1/users/${id}/sessions/revoke`],
];

test('beta\'s administrators get 404 for every acme user id on every endpoint', async () => {
	const ids = [A.member.id, A.admin.id, A.sec.id, A.aud.id];
	const failures = [];
	for (const id of ids) {
		for (const [who, method, pathFn, json] of BY_ID) {
			const p = pathFn(id);
			const r = await srv.request(method, p, { json, token: B[who].ticket });
			if (r.status !== 404 || r.json?.error?.code !== 'not_found')
				failures.push(`beta ${who} ${method} ${p}: ${r.status} ${r.text.slice(0, 160)}`);
		}
	}
	assert.deepEqual(failures, [], failures.join('\n'));
	// and the same the other way round
	for (const [who, method, pathFn, json] of BY_ID) {
		const r = await srv.request(method, pathFn(B.member.id), { json, token: A[who].ticket });
		assertError(r, 404, 'not_found', `acme ${who} ${method} on bob`);
	}
});

test('nothing changed in acme after beta\'s attempts', async () => {
	const r = await srv.get(`/api/v1/users/${A.member.id}`, { token: A.admin.ticket });
	assertStatus(r, 200);
	const u = r.json.user;
	assert.equal(u.status, 'active');
	assert.equal(u.role, 'member');
	assert.equal(u.must_change_password, false, 'not reset');
	assert.equal(u.locked, false);
	assertStatus(await srv.get('/api/v1/auth/session', { token: A.member.ticket }), 200, 'alice\'s session not revoked');
	assertStatus(await srv.login('acme', 'alice.acme', A.member.password), 200, 'alice\'s password unchanged');
	const s = await srv.get(`/api/v1/users/${A.sec.id}`, { token: A.sec.ticket });
	assert.equal(s.json.user.role, 'secadmin');
	// beta's audit trail holds no record of a successful change on acme's users
	const recs = await srv.audit(B.aud.ticket, 'limit=1000');
	assert.ok(!recs.some((x) => x.outcome === 'success' && /alice|acme\//.test(`${x.object}`)),
		'no successful action on acme objects in beta\'s trail');
});

test('another tenant\'s session id cannot be revoked through /me/sessions', async () => {
	const mine = await srv.get('/api/v1/me/sessions', { token: A.member.ticket });
	const aliceId = mine.json.sessions.find((s) => s.current).id;
	const r = await srv.del(`/api/v1/me/sessions/${aliceId}`, { token: B.member.ticket });
	assertError(r, 404, 'not_found');
	const r2 = await srv.del(`/api/v1/me/sessions/${aliceId}`, { token: B.sec.ticket });
	assertError(r2, 404, 'not_found');
	assertStatus(await srv.get('/api/v1/auth/session', { token: A.member.ticket }), 200);
});

test('another tenant\'s department cannot be used as a parent or a user\'s department', async () => {
	let r = await srv.post('/api/v1/departments', { name: 'Sneaky', parent_id: A.dept.id }, { token: B.admin.ticket });
	assert.ok(r.status === 400 || r.status === 404, `parent from acme -> ${r.status}`);
	assertError(r, r.status);
	r = await srv.post('/api/v1/users', { username: 'dept.hopper', dept_id: A.dept.id }, { token: B.admin.ticket });
	assert.ok(r.status === 400 || r.status === 404, `dept from acme -> ${r.status}`);
	assertError(r, r.status);
	const d = await srv.get('/api/v1/departments', { token: B.admin.ticket });
	assertStatus(d, 200);
	assert.deepEqual(d.json.departments.map((x) => x.name), ['beta HQ']);
});

test('listings show only the caller\'s tenant', async () => {
	for (const [X, other, t] of [[A, B, 'acme'], [B, A, 'beta']]) {
		const r = await srv.get('/api/v1/users?limit=500', { token: X.admin.ticket });
		assertStatus(r, 200);
		assert.ok(r.json.users.length >= 4);
		for (const u of r.json.users)
			assert.equal(u.tenant_id, X.tenantId, `${t} lists ${u.username} of tenant ${u.tenant_id}`);
		const ids = new Set(r.json.users.map((u) => u.id));
		assert.ok(!ids.has(other.member.id) && !ids.has(other.admin.id), `${t} sees no foreign ids`);
		// paging with a foreign id as cursor still yields only own users
		const p = await srv.get(`/api/v1/users?after=0&limit=1`, { token: X.sec.ticket });
		assertStatus(p, 200);
		assert.equal(p.json.users[0].tenant_id, X.tenantId);
	}
});

test('audit trails are per tenant (list and exports)', async () => {
	for (const [X, t, foreign] of [[A, 'acme', 'beta'], [B, 'beta', 'acme']]) {
		const recs = await srv.audit(X.aud.ticket, 'limit=1000');
		assert.ok(recs.length > 0);
		for (const r of recs) {
			const text = `${r.subject} ${r.object}`;
			assert.ok(!text.includes(`${foreign}/`), `${t}'s trail shows ${foreign}'s record ${JSON.stringify(r)}`);
		}
		assert.ok(recs.some((r) => `${r.subject} ${r.object}`.includes(`${t}/`)), `${t}'s own records present`);
		// Besides its own records a tenant sees installation-wide ones
		// (tenant 0: the server, the audit trail, installation keys) — never
		// another tenant's.
		const installationWide = (event) => /^(server|audit|key)\./.test(event);
		const j = await srv.get('/api/v1/audit/export?format=json', { token: X.aud.ticket });
		assertStatus(j, 200);
		assert.ok(!j.text.includes(`${foreign}/`), `${t}'s JSON export has ${foreign} records`);
		const arr = JSON.parse(j.text);
		for (const r of arr) {
			if ('tenant_id' in r) {
				assert.ok(r.tenant_id === X.tenantId || (r.tenant_id === 0 && installationWide(r.event)),
					`${t}'s JSON export: ${JSON.stringify(r).slice(0, 200)}`);
			}
		}
		const s = await srv.get('/api/v1/audit/export?format=syslog', { token: X.aud.ticket });
		assertStatus(s, 200);
		const lines = s.text.split('\n').filter(Boolean);
		assert.ok(lines.length > 0);
		let own = 0;
		for (const l of lines) {
			const m = /tenant="(\d+)"/.exec(l);
			assert.ok(m, `tenant in ${l.slice(0, 200)}`);
			const tid = Number(m[1]);
			const event = l.split(' ')[5];
			assert.ok(tid === X.tenantId || (tid === 0 && installationWide(event)),
				`${t}'s syslog export: ${l.slice(0, 200)}`);
			own += tid === X.tenantId;
		}
		assert.ok(own > 0, `${t}'s own records in its syslog export`);
	}
});

test('credentials are per tenant: beta\'s admin password does not open acme\'s admin', async () => {
	const r = await srv.login('acme', 'admin', B.admin.password, { totp: B.admin.recovery[0] });
	assertError(r, 401, 'invalid_credentials');
	const r2 = await srv.login('beta', 'alice.acme', A.member.password);
	assertError(r2, 401, 'invalid_credentials');
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
