// 02 — sign-in: failure modes, one-time passwords and restricted scopes,
// MFA enrolment, second factor, recovery codes, TOTP replay.
// (PS-IA-a..e, WC-TICKET)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, strongPassword, totpCode } from './lib/server.mjs';

let srv;
const S = {};   // state shared by the ordered tests of this file
before(async () => { srv = await Server.start(); });
after(async () => { await srv?.dispose(); });

const USER_KEYS = ['id', 'tenant_id', 'username', 'role', 'status', 'locked', 'mfa_enabled',
	'must_change_password', 'created_at'];

function checkUser(u, username, role) {
	for (const k of USER_KEYS)
		assert.ok(k in u, `User.${k} present`);
	assert.equal(u.username, username);
	assert.equal(u.role, role);
	assert.ok(!('pw_hash' in u) && !('password' in u) && !('totp_secret' in u), 'no secrets in User');
}

test('wrong password, unknown user and unknown tenant all answer 401 invalid_credentials alike', async () => {
	const acme = srv.acct('acme', 'admin');
	const wrong = await srv.login('acme', 'admin', `${acme.password}x`);
	const unknownUser = await srv.login('acme', 'no-such-user', acme.password);
	const unknownTenant = await srv.login('no-such-tenant', 'admin', acme.password);
	const invalidName = await srv.login('acme', 'Not A Valid Name', acme.password);
	for (const [name, r] of [['wrong password', wrong], ['unknown user', unknownUser],
		['unknown tenant', unknownTenant], ['invalid username', invalidName]]) {
		assertError(r, 401, 'invalid_credentials', name);
		assert.ok(!('ticket' in r.json) && !r.headers['set-cookie']?.some((c) => c.startsWith('bw_ticket=') && !/bw_ticket=;/.test(c)),
			`${name}: no ticket`);
	}
	// no user enumeration: identical bodies apart from nothing
	assert.deepEqual(unknownUser.json, wrong.json);
	assert.deepEqual(unknownTenant.json, wrong.json);
});

test('the one-time password gives a ticket that can only change the password', async () => {
	const a = srv.acct('acme', 'admin');
	const r = await srv.login('acme', 'admin', a.password, { device_name: 'test laptop' });
	assertError(r, 403, 'password_change_required');
	assert.equal(r.json.scope, 'password_change');
	assert.equal(typeof r.json.ticket, 'string');
	assert.equal(typeof r.json.csrf_token, 'string');
	assert.equal(typeof r.json.expires_at, 'number');
	assert.ok(r.json.expires_at > srv.now(), 'expires in the future');
	checkUser(r.json.user, 'admin', 'sysadmin');
	assert.equal(r.json.user.must_change_password, true);
	S.pcTicket = r.json.ticket;
	const t = { token: S.pcTicket };

	// allowed: session, (password change below)
	const sess = await srv.get('/api/v1/auth/session', t);
	assertStatus(sess, 200, 'session with a password_change ticket');
	assert.equal(sess.json.scope, 'password_change');
	checkUser(sess.json.user, 'admin', 'sysadmin');

	// everything else: 403 password_change_required
	const refused = [
		['GET', '/api/v1/users'], ['POST', '/api/v1/users', { username: 'sneaky' }],
		['GET', '/api/v1/me/sessions'], ['GET', '/api/v1/me/devices'],
		['POST', '/api/v1/auth/totp/enrol'], ['POST', '/api/v1/auth/totp/confirm', { code: '123456' }],
		['GET', '/api/v1/policy'], ['GET', '/api/v1/departments'], ['GET', '/api/v1/users/1'],
		['POST', '/api/v1/auth/recovery-codes', { password: a.password }],
		['DELETE', '/api/v1/auth/totp', { password: a.password, code: '123456' }],
	];
	for (const [method, p, json] of refused) {
		const x = await srv.request(method, p, { json, ...t });
		assertError(x, 403, 'password_change_required', `${method} ${p}`);
	}
});

test('password change: wrong current, same password and weak passwords are refused', async () => {
	const a = srv.acct('acme', 'admin');
	const t = { token: S.pcTicket };
	let r = await srv.post('/api/v1/auth/password', { current_password: 'not-the-password', new_password: strongPassword() }, t);
	assertError(r, 401, 'invalid_credentials', 'wrong current password');
	r = await srv.post('/api/v1/auth/password', { current_password: a.password, new_password: a.password }, t);
	assertError(r, 400, 'invalid_request', 'new == current');
	const weak = [
		['Sh0rt!pw', 'too_short'],
		['alllowercaseletters', 'too_few_classes'],
		['Xadmin-Passw0rd-long', 'contains_username'],
		['1Qaz2wsx3edc', 'common_password'],
	];
	for (const [pw, reason] of weak) {
		r = await srv.post('/api/v1/auth/password', { current_password: a.password, new_password: pw }, t);
		const err = assertError(r, 422, 'password_policy', pw);
		assert.equal(err.reason, reason, `reason for ${pw}`);
	}
	r = await srv.post('/api/v1/auth/password', { current_password: a.password, extra: 1, new_password: strongPassword() }, t);
	assertError(r, 400, 'invalid_request', 'unknown field');
	r = await srv.post('/api/v1/auth/password', { current_password: a.password }, t);
	assertError(r, 400, 'invalid_request', 'missing new_password');
	// still restricted, the one-time password still the password
	assertError(await srv.get('/api/v1/users', t), 403, 'password_change_required');
});

test('after the change an administrator may only enrol TOTP (scope mfa_enrol)', async () => {
	const a = srv.acct('acme', 'admin');
	const t = { token: S.pcTicket };
	const newPw = strongPassword();
	let r = await srv.post('/api/v1/auth/password', { current_password: a.password, new_password: newPw }, t);
	assertStatus(r, 200, 'password change');
	assert.deepEqual(r.json, { scope: 'mfa_enrol' });
	S.oneTime = a.password;
	a.password = newPw;

	r = await srv.get('/api/v1/auth/session', t);
	assertStatus(r, 200);
	assert.equal(r.json.scope, 'mfa_enrol');
	assert.equal(r.json.user.must_change_password, false);
	assert.equal(r.json.policy.mfa_required, true);
	for (const [method, p, json] of [['GET', '/api/v1/users'], ['GET', '/api/v1/me/sessions'],
		['POST', '/api/v1/auth/password', { current_password: newPw, new_password: strongPassword() }],
		['POST', '/api/v1/departments', { name: 'x' }], ['GET', '/api/v1/policy']]) {
		const x = await srv.request(method, p, { json, ...t });
		assertError(x, 403, 'mfa_enrolment_required', `${method} ${p}`);
	}
	// the one-time password is gone
	assertError(await srv.login('acme', 'admin', S.oneTime), 401, 'invalid_credentials');
	// signing in again with the new password lands in mfa_enrol too
	r = await srv.login('acme', 'admin', newPw);
	assertError(r, 403, 'mfa_enrolment_required');
	assert.equal(r.json.scope, 'mfa_enrol');
	assert.equal(typeof r.json.ticket, 'string');
	S.enrolTicket2 = r.json.ticket;
});

test('TOTP enrolment: a wrong code is refused, the right one gives full access and ten recovery codes', async () => {
	const a = srv.acct('acme', 'admin');
	const t = { token: S.pcTicket };
	let r = await srv.post('/api/v1/auth/totp/confirm', { code: '123456' }, t);
	assertError(r, 409, 'conflict', 'confirm before enrol');
	r = await srv.post('/api/v1/auth/totp/enrol', undefined, t);
	assertStatus(r, 200, 'enrol');
	assert.match(r.json.secret, /^[A-Z2-7]+=*$/);
	assert.ok(r.json.secret.replace(/=+$/, '').length >= 26, 'secret has >= 128 bits');
	assert.match(r.json.otpauth_uri, /^otpauth:\/\/totp\//);
	assert.ok(r.json.otpauth_uri.includes(`secret=${r.json.secret}`), 'URI carries the secret');
	assert.match(r.json.qr_svg, /<svg[\s>]/);
	a.secret = r.json.secret;

	const now = srv.now();
	const right = totpCode(a.secret, now);
	// a code from far away in time, and one that is simply wrong
	const stale = totpCode(a.secret, now - 3600);
	const wrongCodes = [stale !== right ? stale : '000001', String((Number(right) + 1) % 1000000).padStart(6, '0')];
	for (const code of wrongCodes) {
		r = await srv.post('/api/v1/auth/totp/confirm', { code }, t);
		assertError(r, 401, 'invalid_code', `confirm with ${code}`);
	}
	for (const code of ['12345', '1234567', 'abcdef']) {
		r = await srv.post('/api/v1/auth/totp/confirm', { code }, t);
		assert.ok(r.status === 400 || r.status === 401, `confirm with malformed ${code} -> ${r.status}`);
		assertError(r, r.status);
	}
	assertError(await srv.get('/api/v1/users', t), 403, 'mfa_enrolment_required');

	r = await srv.post('/api/v1/auth/totp/confirm', { code: right }, t);
	assertStatus(r, 200, 'confirm');
	assert.equal(r.json.scope, 'full');
	assert.equal(r.json.recovery_codes.length, 10);
	for (const c of r.json.recovery_codes)
		assert.match(c, /^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/);
	assert.equal(new Set(r.json.recovery_codes).size, 10, 'codes distinct');
	a.recovery = [...r.json.recovery_codes];
	a.lastStep = Math.floor(now / 30);
	S.confirmCode = right;
	a.ticket = S.pcTicket;

	r = await srv.get('/api/v1/users', t);
	assertStatus(r, 200, 'full access after enrolment');
	r = await srv.get('/api/v1/auth/session', t);
	assert.equal(r.json.scope, 'full');
	assert.equal(r.json.user.mfa_enabled, true);
	// enrolling again or confirming again: conflict
	assertError(await srv.post('/api/v1/auth/totp/enrol', undefined, t), 409, 'conflict');
	assertError(await srv.post('/api/v1/auth/totp/confirm', { code: right }, t), 409, 'conflict');
	// the other mfa_enrol session of this user was not upgraded by this one
	r = await srv.get('/api/v1/users', { token: S.enrolTicket2 });
	assert.notEqual(r.status, 200, 'another restricted session must not gain full access');
});

test('with TOTP enabled: no code → 401 mfa_required; wrong code → 401; the enrolment code cannot be replayed', async () => {
	const a = srv.acct('acme', 'admin');
	let r = await srv.login('acme', 'admin', a.password);
	assertError(r, 401, 'mfa_required');
	assert.ok(!('ticket' in r.json));
	// the password is still checked first
	r = await srv.login('acme', 'admin', `${a.password}x`);
	assertError(r, 401, 'invalid_credentials', 'wrong password, no code');
	const wrong = String((Number(totpCode(a.secret, srv.now())) + 500000) % 1000000).padStart(6, '0');
	r = await srv.login('acme', 'admin', a.password, { totp: wrong });
	assertError(r, 401, 'invalid_credentials', 'wrong TOTP');
	// the code that confirmed the enrolment was used already: replay refused
	// (its step is at or before the last accepted one)
	r = await srv.login('acme', 'admin', a.password, { totp: S.confirmCode });
	assertError(r, 401, 'invalid_credentials', 'replayed enrolment code');
	// a correct password with a wrong code must not create any session
	r = await srv.get('/api/v1/me/sessions', { token: a.ticket });
	assertStatus(r, 200);
	S.sessionsBefore = r.json.sessions.length;
});

test('a fresh TOTP code signs in once; replaying it is refused', async () => {
	const a = srv.acct('acme', 'admin');
	const { res, code } = await srv.loginTotp('acme', 'admin');
	assertStatus(res, 200, 'login with a fresh code');
	assert.equal(res.json.scope, 'full');
	assert.equal(typeof res.json.ticket, 'string');
	assert.equal(typeof res.json.csrf_token, 'string');
	assert.equal(typeof res.json.idle_timeout, 'number');
	assert.equal(typeof res.json.new_device, 'boolean');
	checkUser(res.json.user, 'admin', 'sysadmin');
	const replay = await srv.login('acme', 'admin', a.password, { totp: code });
	assertError(replay, 401, 'invalid_credentials', 'replayed TOTP code');
	// and after the next step a new code works again
	const again = await srv.loginTotp('acme', 'admin');
	assertStatus(again.res, 200, 'next step');
	assert.notEqual(again.code, code);
});

// The address throttle allows 20 failed credential checks in a burst; the
// tests above use about 15.  A restart starts a fresh throttle and shows that
// sessions, passwords and second factors persist.
test('state survives a server restart', async () => {
	const a = srv.acct('acme', 'admin');
	await srv.restart();
	assertStatus(await srv.get('/api/v1/auth/session', { token: a.ticket }), 200, 'ticket after restart');
	assertError(await srv.login('acme', 'admin', a.password), 401, 'mfa_required');
});

test('a recovery code works exactly once', async () => {
	const a = srv.acct('acme', 'admin');
	const code = a.recovery.shift();
	let r = await srv.login('acme', 'admin', a.password, { totp: code });
	assertStatus(r, 200, 'recovery code');
	assert.equal(r.json.scope, 'full');
	r = await srv.login('acme', 'admin', a.password, { totp: code });
	assertError(r, 401, 'invalid_credentials', 'reused recovery code');
	// a made-up code of the right shape fails
	r = await srv.login('acme', 'admin', a.password, { totp: 'abcd-efgh-jkmn' });
	assertError(r, 401, 'invalid_credentials', 'made-up recovery code');
	// a recovery code of another user fails
	const sec = await srv.bootstrapAdmin('acme', 'secadmin');
	r = await srv.login('acme', 'admin', a.password, { totp: sec.recovery[0] });
	assertError(r, 401, 'invalid_credentials', 'another user\'s recovery code');
	// the recovery code needs the right password too
	r = await srv.login('acme', 'admin', 'Wrong-Passw0rd!x', { totp: a.recovery[0] });
	assertError(r, 401, 'invalid_credentials', 'recovery code with a wrong password');
	r = await srv.login('acme', 'admin', a.password, { totp: a.recovery.shift() });
	assertStatus(r, 200, 'unused recovery code still valid after a failed attempt with it');
});

test('regenerating recovery codes needs the password and invalidates the old codes', async () => {
	const a = srv.acct('acme', 'admin');
	const t = { token: a.ticket };
	let r = await srv.post('/api/v1/auth/recovery-codes', { password: 'wrong-password-1A!' }, t);
	assertError(r, 401, 'invalid_credentials');
	r = await srv.post('/api/v1/auth/recovery-codes', { password: a.password }, t);
	assertStatus(r, 200);
	assert.equal(r.json.recovery_codes.length, 10);
	const old = a.recovery.shift();
	a.recovery = [...r.json.recovery_codes];
	r = await srv.login('acme', 'admin', a.password, { totp: old });
	assertError(r, 401, 'invalid_credentials', 'old recovery code after regeneration');
	await srv.relogin('acme', 'admin');
});

test('MFA is mandatory for administrators: disabling TOTP is refused by the policy', async () => {
	const a = srv.acct('acme', 'admin');
	const r = await srv.request('DELETE', '/api/v1/auth/totp', {
		json: { password: a.password, code: a.recovery[0] }, token: a.ticket,
	});
	assertError(r, 403, 'forbidden');
	const s = await srv.get('/api/v1/auth/session', { token: a.ticket });
	assert.equal(s.json.user.mfa_enabled, true);
});

test('a member changes the one-time password and gets a full session (no MFA required)', async () => {
	const admin = srv.acct('acme', 'admin');
	let r = await srv.post('/api/v1/users', { username: 'mia.member' }, { token: admin.ticket });
	assertStatus(r, 201);
	const initial = r.json.initial_password;
	r = await srv.login('acme', 'mia.member', initial);
	assertError(r, 403, 'password_change_required');
	const t1 = r.json.ticket;
	// a second restricted session of the same user
	r = await srv.login('acme', 'mia.member', initial);
	assertError(r, 403, 'password_change_required');
	const t2 = r.json.ticket;
	const pw = strongPassword();
	r = await srv.post('/api/v1/auth/password', { current_password: initial, new_password: pw }, { token: t1 });
	assertStatus(r, 200);
	assert.deepEqual(r.json, { scope: 'full' });
	r = await srv.get('/api/v1/me/sessions', { token: t1 });
	assertStatus(r, 200, 'full access');
	// the other session was revoked by the change
	assertError(await srv.get('/api/v1/auth/session', { token: t2 }), 401, 'unauthenticated');
	// the one-time password no longer works, the new one does
	assertError(await srv.login('acme', 'mia.member', initial), 401, 'invalid_credentials');
	r = await srv.login('acme', 'mia.member', pw);
	assertStatus(r, 200);
	assert.equal(r.json.scope, 'full');
	assert.equal(r.json.user.must_change_password, false);
	S.mia = { pw, t1, t3: r.json.ticket };
});

test('changing the password with a full session revokes the user\'s other sessions', async () => {
	const { pw, t1, t3 } = S.mia;
	const pw2 = strongPassword();
	let r = await srv.post('/api/v1/auth/password', { current_password: pw, new_password: pw2 }, { token: t3 });
	assertStatus(r, 200);
	assert.deepEqual(r.json, { scope: 'full' });
	assertStatus(await srv.get('/api/v1/auth/session', { token: t3 }), 200, 'the changing session lives');
	assertError(await srv.get('/api/v1/auth/session', { token: t1 }), 401, 'unauthenticated');
	assertError(await srv.login('acme', 'mia.member', pw), 401, 'invalid_credentials');
	r = await srv.login('acme', 'mia.member', pw2);
	assertStatus(r, 200);
});

test('a restricted session can sign out', async () => {
	const aud = srv.acct('acme', 'auditor');
	let r = await srv.login('acme', 'auditor', aud.password);
	assertError(r, 403, 'password_change_required');
	const t = r.json.ticket;
	r = await srv.post('/api/v1/auth/logout', undefined, { token: t });
	assert.equal(r.status, 204, `logout -> ${r.status} ${r.text}`);
	assertError(await srv.get('/api/v1/auth/session', { token: t }), 401, 'unauthenticated');
	r = await srv.post('/api/v1/auth/password', { current_password: aud.password, new_password: strongPassword() }, { token: t });
	assertError(r, 401, 'unauthenticated', 'password change after logout');
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
