// 03 — account lockout after failed sign-ins, unlock, lockout expiry, and
// the per-address throttle.  (PS-IA-f, IN-SURGE)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

let srv, admin, sec, victim;
before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	victim = await srv.createUser(admin.ticket, 'acme', 'lucy.locked');
});
after(async () => { await srv?.dispose(); });

async function failFiveTimes() {
	for (let i = 1; i <= 5; i++) {
		const r = await srv.login('acme', 'lucy.locked', `Wrong-Passw0rd-${i}`);
		assertError(r, 401, 'invalid_credentials', `wrong password #${i}`);
	}
}

test('five wrong passwords lock the account: 423 account_locked even with the right password', async () => {
	// four failures and a success reset the counter
	for (let i = 1; i <= 4; i++)
		assertError(await srv.login('acme', 'lucy.locked', `Wrong-${i}-Passw0rd`), 401, 'invalid_credentials');
	assertStatus(await srv.login('acme', 'lucy.locked', victim.password), 200, 'four failures do not lock');
	await failFiveTimes();
	const before = srv.now();
	const r = await srv.login('acme', 'lucy.locked', victim.password);
	const err = assertError(r, 423, 'account_locked', 'right password while locked');
	assert.equal(typeof err.locked_until, 'number', 'error.locked_until');
	assert.ok(err.locked_until > before + 14 * 60 && err.locked_until <= before + 15 * 60 + 5,
		`locked for the policy's 15 minutes: ${err.locked_until - before} s`);
	assert.ok(!('ticket' in r.json));
	// a wrong password while locked is also 423 (and does not extend the lock)
	const r2 = await srv.login('acme', 'lucy.locked', 'Wrong-Passw0rd-x');
	assertError(r2, 423, 'account_locked');
	assert.equal(r2.json.error.locked_until, err.locked_until);
	// the user object shows the lock
	const u = await srv.get(`/api/v1/users/${victim.id}`, { token: admin.ticket });
	assertStatus(u, 200);
	assert.equal(u.json.user.locked, true);
	assert.equal(u.json.user.locked_until, err.locked_until);
	// other accounts are not affected
	assertStatus(await srv.get('/api/v1/users', { token: admin.ticket }), 200);
});

test('a member cannot unlock; the sysadmin can, and sign-in works again', async () => {
	const other = await srv.createUser(admin.ticket, 'acme', 'mo.member');
	let r = await srv.post(`/api/v1/users/${victim.id}/unlock`, undefined, { token: other.ticket });
	assertError(r, 403, 'forbidden');
	assertError(await srv.login('acme', 'lucy.locked', victim.password), 423, 'account_locked');
	r = await srv.post(`/api/v1/users/${victim.id}/unlock`, undefined, { token: admin.ticket });
	assertStatus(r, 200, 'unlock');
	assert.equal(r.json.user.locked, false);
	assert.ok(!r.json.user.locked_until, 'locked_until cleared');
	r = await srv.login('acme', 'lucy.locked', victim.password);
	assertStatus(r, 200, 'sign-in after unlock');
	victim.ticket = r.json.ticket;
});

test('the secadmin can unlock too', async () => {
	await failFiveTimes();
	assertError(await srv.login('acme', 'lucy.locked', victim.password), 423, 'account_locked');
	const r = await srv.post(`/api/v1/users/${victim.id}/unlock`, undefined, { token: sec.ticket });
	assertStatus(r, 200, 'secadmin unlock');
	assertStatus(await srv.login('acme', 'lucy.locked', victim.password), 200);
});

test('a lockout expires by itself after the policy minutes (test clock)', async () => {
	// a restart gives this and the next test a fresh per-address budget
	// (20 failed checks; the tests above used 14); locks persist across it
	await srv.restart();
	await failFiveTimes();
	assertError(await srv.login('acme', 'lucy.locked', victim.password), 423, 'account_locked');
	await srv.advance(14 * 60);
	assertError(await srv.login('acme', 'lucy.locked', victim.password), 423, 'account_locked',
		'still locked after 14 of 15 minutes');
	await srv.advance(60 + 2);
	const r = await srv.login('acme', 'lucy.locked', victim.password);
	assertStatus(r, 200, 'sign-in after the lockout expired');
	assert.equal(r.json.user.locked, false);
});

test('concurrent wrong current passwords each count: the fifth locks the account and ends its sessions', async () => {
	await srv.restart();   // a fresh per-address budget for this test and the next
	admin = await srv.relogin('acme', 'admin');   // idled out in the test clock above
	const pat = await srv.createUser(admin.ticket, 'acme', 'pat.parallel');
	// sent at once: each check runs on a worker, so all five finish against
	// the same starting state — each must still count
	const rs = await Promise.all([1, 2, 3, 4, 5].map((i) => srv.post('/api/v1/auth/password',
		{ current_password: `Wrong-Current-${i}x`, new_password: 'Another-Passw0rd-9' }, { token: pat.ticket })));
	for (const r of rs)
		assertError(r, 401, 'invalid_credentials', 'wrong current password');
	const u = await srv.get(`/api/v1/users/${pat.id}`, { token: admin.ticket });
	assertStatus(u, 200);
	assert.equal(u.json.user.locked, true, 'five failures lock, however they interleave');
	assertError(await srv.login('acme', 'pat.parallel', pat.password), 423, 'account_locked');
	assertError(await srv.get('/api/v1/auth/session', { token: pat.ticket }), 401, 'unauthenticated',
		'the lockout ended the sessions');
});

// Last in this file: it exhausts the address's budget of failed checks.
test('many failures from one address are throttled: 429 rate_limited with Retry-After', async () => {
	let throttled = null;
	for (let i = 0; i < 60 && !throttled; i++) {
		const r = await srv.login('acme', `ghost-${i}`, 'Wrong-Passw0rd!');
		if (r.status === 429)
			throttled = r;
		else
			assertError(r, 401, 'invalid_credentials', `attempt ${i}`);
	}
	assert.ok(throttled, 'no 429 after 60 failed sign-ins from one address');
	assertError(throttled, 429, 'rate_limited');
	const ra = throttled.headers['retry-after'];
	assert.match(ra || '', /^\d+$/, `Retry-After header: ${ra}`);
	assert.ok(Number(ra) >= 1 && Number(ra) <= 3600, `Retry-After ${ra}`);
	// while throttled even the right credentials are refused without being checked
	const r = await srv.login('acme', 'lucy.locked', victim.password);
	assertError(r, 429, 'rate_limited', 'right password while throttled');
	// requests that check no credentials keep working
	assertStatus(await srv.get('/api/v1/health'), 200);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
