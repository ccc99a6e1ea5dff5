// 05 — separation of the three administrator roles: endpoint x role matrix,
// no self-granted roles, exactly one role per user.  (PS-AC-a..d, RG-AC-b,
// IN-INSIDER)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, totpCode } from './lib/server.mjs';

let srv, T;   // T: role -> ticket
const ROLES = ['sysadmin', 'secadmin', 'auditadmin', 'member'];
let target, mona, policy;

before(async () => {
	srv = await Server.start();
	const admin = await srv.bootstrapAdmin('acme', 'admin');
	const sec = await srv.bootstrapAdmin('acme', 'secadmin');
	const aud = await srv.bootstrapAdmin('acme', 'auditor');
	mona = await srv.createUser(admin.ticket, 'acme', 'mona.member');
	target = await srv.createUser(admin.ticket, 'acme', 'tom.target');
	T = { sysadmin: admin.ticket, secadmin: sec.ticket, auditadmin: aud.ticket, member: mona.ticket };
	const p = await srv.get('/api/v1/policy', { token: sec.ticket });
	assertStatus(p, 200);
	policy = p.json.policy;
});
after(async () => { await srv?.dispose(); });

// [method, path(fn), body(fn), expected status per role (sysadmin, secadmin, auditadmin, member)]
// Allowed writes are harmless or restored by a later row.
const MATRIX = [
	['GET', () => '/api/v1/users', null, [200, 200, 403, 403]],
	['POST', () => '/api/v1/users', (role) => ({ username: `made.by.${role}` }), [201, 403, 403, 403]],
	['GET', () => `/api/v1/users/${target.id}`, null, [200, 200, 403, 403]],
	['GET', () => `/api/v1/users/${target.id}?unmask=1`, null, [200, 403, 403, 403]],
	['POST', () => `/api/v1/users/${target.id}/disable`, null, [200, 403, 403, 403]],
	['POST', () => `/api/v1/users/${target.id}/enable`, null, [200, 403, 403, 403]],
	['POST', () => `/api/v1/users/${target.id}/unlock`, null, [200, 200, 403, 403]],
	['POST', () => `/api/v1/users/${target.id}/reset-password`, null, [200, 403, 403, 403]],
	['PUT', () => `/api/v1/users/${target.id}/role`, () => ({ role: 'guest' }), [403, 200, 403, 403]],
	['POST', () => `/api/v1/users/${target.id}/mfa-reset`, null, [403, 200, 403, 403]],
	['GET', () => `/api/v1/users/${target.id}/sessions`, null, [403, 200, 403, 403]],
	['POST', () => `/api/v1/users/${target.id}/sessions/revoke`, null, [403, 200, 403, 403]],
	['GET', () => '/api/v1/departments', null, [200, 200, 403, 403]],
	['POST', () => '/api/v1/departments', (role) => ({ name: `Dept of ${role}` }), [201, 403, 403, 403]],
	['GET', () => '/api/v1/policy', null, [200, 200, 403, 403]],
	['PUT', () => '/api/v1/policy', () => policy, [403, 200, 403, 403]],
	['GET', () => '/api/v1/audit', null, [403, 403, 200, 403]],
	['GET', () => '/api/v1/audit/verify', null, [403, 403, 200, 403]],
	['GET', () => '/api/v1/audit/export?format=json', null, [403, 403, 200, 403]],
	['GET', () => '/api/v1/audit/export?format=syslog', null, [403, 403, 200, 403]],
	['GET', () => '/api/v1/auth/session', null, [200, 200, 200, 200]],
	['GET', () => '/api/v1/me/sessions', null, [200, 200, 200, 200]],
	['GET', () => '/api/v1/me/devices', null, [200, 200, 200, 200]],
];

test('endpoint x role matrix', async () => {
	const failures = [];
	for (const [method, pathFn, bodyFn, expected] of MATRIX) {
		for (let i = 0; i < ROLES.length; i++) {
			const role = ROLES[i];
			const p = pathFn();
			const r = await srv.request(method, p, { json: bodyFn ? bodyFn(role) : undefined, token: T[role] });
			if (r.status !== expected[i]) {
				failures.push(`${role} ${method} ${p}: expected ${expected[i]}, got ${r.status} ${r.text.slice(0, 160)}`);
				continue;
			}
			if (expected[i] === 403)
				assertError(r, 403, 'forbidden', `${role} ${method} ${p}`);
		}
	}
	assert.deepEqual(failures, [], `role matrix mismatches:\n${failures.join('\n')}`);
});

test('refusals are audited as access.denied or the event with outcome denied', async () => {
	const recs = await srv.audit(T.auditadmin, 'limit=1000');
	const denied = recs.filter((r) => r.outcome === 'denied');
	assert.ok(denied.length >= 20, `denied records: ${denied.length}`);
	assert.ok(denied.some((r) => r.subject.includes('mona.member')), 'member refusals recorded');
	assert.ok(denied.some((r) => r.subject.includes('auditor')), 'auditadmin refusals recorded');
});

test('the sysadmin cannot grant roles and cannot create administrators directly', async () => {
	let r = await srv.put(`/api/v1/users/${mona.id}/role`, { role: 'secadmin' }, { token: T.sysadmin });
	assertError(r, 403, 'forbidden');
	for (const role of ['sysadmin', 'secadmin', 'auditadmin']) {
		r = await srv.post('/api/v1/users', { username: `new.${role}`, role }, { token: T.sysadmin });
		assertError(r, 400, 'invalid_request', `create with role ${role}`);
	}
	r = await srv.get(`/api/v1/users/${mona.id}`, { token: T.sysadmin });
	assert.equal(r.json.user.role, 'member');
});

test('nobody changes their own role, whatever the role asked for', async () => {
	const sec = srv.acct('acme', 'secadmin');
	for (const role of ['member', 'sysadmin', 'auditadmin', 'secadmin']) {
		const r = await srv.put(`/api/v1/users/${sec.id}/role`, { role }, { token: T.secadmin });
		assertError(r, 403, 'forbidden', `secadmin -> ${role} on self`);
	}
	for (const [role, acct] of [['sysadmin', 'admin'], ['auditadmin', 'auditor']]) {
		const a = srv.acct('acme', acct);
		const r = await srv.put(`/api/v1/users/${a.id}/role`, { role: 'secadmin' }, { token: T[role] });
		assertError(r, 403, 'forbidden', `${role} on self`);
	}
	const r = await srv.put(`/api/v1/users/${mona.id}/role`, { role: 'secadmin' }, { token: T.member });
	assertError(r, 403, 'forbidden', 'member on self');
	const s = await srv.get(`/api/v1/users/${sec.id}`, { token: T.secadmin });
	assert.equal(s.json.user.role, 'secadmin');
});

test('role change input is validated', async () => {
	for (const body of [{ role: 'root' }, { role: '' }, { role: 'SYSADMIN' }, { role: 1 }, {},
		{ role: 'member', extra: true }, { role: ['member', 'auditadmin'] }]) {
		const r = await srv.put(`/api/v1/users/${mona.id}/role`, body, { token: T.secadmin });
		assertError(r, 400, 'invalid_request', JSON.stringify(body));
	}
	assertError(await srv.put('/api/v1/users/999999/role', { role: 'member' }, { token: T.secadmin }), 404, 'not_found');
	assertError(await srv.put('/api/v1/users/abc/role', { role: 'member' }, { token: T.secadmin }), 404, 'not_found');
});

test('a user holds exactly one role: granting a role replaces the old one and ends their sessions', async () => {
	const u = await srv.createUser(T.sysadmin, 'acme', 'rita.roles');
	let r = await srv.put(`/api/v1/users/${u.id}/role`, { role: 'auditadmin' }, { token: T.secadmin });
	assertStatus(r, 200, 'grant auditadmin');
	assert.equal(r.json.user.role, 'auditadmin');
	assertError(await srv.get('/api/v1/auth/session', { token: u.ticket }), 401, 'unauthenticated',
		'old session ended by the role change');
	r = await srv.put(`/api/v1/users/${u.id}/role`, { role: 'sysadmin' }, { token: T.secadmin });
	assertStatus(r, 200, 'auditadmin -> sysadmin');
	assert.equal(r.json.user.role, 'sysadmin', 'the new role replaced the old one');
	// a new administrator must enrol MFA first; then acts as sysadmin only
	r = await srv.login('acme', 'rita.roles', u.password);
	assertError(r, 403, 'mfa_enrolment_required');
	const t = r.json.ticket;
	r = await srv.post('/api/v1/auth/totp/enrol', undefined, { token: t });
	assertStatus(r, 200);
	r = await srv.post('/api/v1/auth/totp/confirm', { code: totpCode(r.json.secret, srv.now()) }, { token: t });
	assertStatus(r, 200);
	assertStatus(await srv.get('/api/v1/users', { token: t }), 200, 'now a sysadmin');
	assertError(await srv.get('/api/v1/audit', { token: t }), 403, 'forbidden', 'no longer an auditadmin');
	// every user in the tenant has exactly one role from the enum
	const list = await srv.get('/api/v1/users?limit=500', { token: T.sysadmin });
	for (const x of list.json.users)
		assert.ok(['sysadmin', 'secadmin', 'auditadmin', 'member', 'guest'].includes(x.role), `${x.username}: ${JSON.stringify(x.role)}`);
});

test('the last holder of an administrator role cannot be demoted', async () => {
	const sec = srv.acct('acme', 'secadmin');
	const aud = srv.acct('acme', 'auditor');
	// rita took sysadmin, so admin is not the last one; the auditor is the last auditadmin
	const r = await srv.put(`/api/v1/users/${aud.id}/role`, { role: 'member' }, { token: T.secadmin });
	assertError(r, 409, 'conflict', 'demoting the last auditadmin');
	const u = await srv.get(`/api/v1/users/${aud.id}`, { token: sec.ticket });
	assert.equal(u.json.user.role, 'auditadmin');
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
