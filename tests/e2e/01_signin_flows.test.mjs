// tests/e2e/01_signin_flows.test.mjs — the sign-in journeys in a real
// browser, one server for the whole file (the flows build on each other):
//   1. first sign-in of the system administrator (one-time password →
//      forced change with a refused weak password → TOTP enrolment →
//      recovery codes → app)
//   2. the audit administrator's first sign-in and the audit viewer
//      (chain verified, flow 1's records listed)
//   3. sign-in with TOTP, a wrong password, sign-out (the cookie is dead)
//   4. the system administrator creates a member; the member's first
//      sign-in in a second browser context (no MFA needed)
// Requirements: PS-IA-b/c/d, PS-LOG-c, WC-UI, WC-TICKET.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
	EN, Server, expectShell, firstSignIn, launchBrowser, openSignIn, playwright, runFlow, sessionOf, shot, submitSignIn,
	tid,
} from './lib/harness.mjs';

let server;
let browser;
const done = {};    // flow number -> true once it passed (later flows need it)

before(async () => {
	server = await Server.start();
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.dispose();
});

function needs(flow) {
	assert.ok(done[flow], `flow ${flow} did not complete; this flow builds on it`);
}

test('flow 1: first sign-in of the system administrator', { timeout: 90000 }, async () => {
	const admin = server.byRole('sysadmin');
	await runFlow(server, browser, 'flow1', async (ui) => {
		const ctx = await ui.context();
		const { page, guard } = await ui.page(ctx, 'flow 1');
		const s = await firstSignIn(page, server, admin, { shots: 'flow1', weakFirst: true });
		assert.equal(s.user.role, 'sysadmin');
		admin.id = s.user.id;
		assert.equal(s.user.mfa_enabled, true, 'TOTP is enabled after the enrolment');
		assert.equal(s.user.must_change_password, false);
		// The system administrator's pages, and not the auditor's.
		await tid(page, 'nav-users').waitFor({ state: 'visible' });
		assert.equal(await tid(page, 'nav-audit').count(), 0, 'no Audit page for the system administrator');
		assert.equal((await tid(page, 'top-tenant').innerText()).includes(s.tenant.name), true, 'top bar shows the tenant');
		// The session is the HttpOnly cookie; JavaScript cannot read it.
		const cookie = (await ctx.cookies()).find((c) => c.name === 'bw_ticket');
		assert.ok(cookie, 'bw_ticket cookie set');
		assert.equal(cookie.httpOnly, true, 'bw_ticket is HttpOnly');
		assert.equal(cookie.secure, true, 'bw_ticket is Secure');
		assert.equal(cookie.sameSite, 'Strict', 'bw_ticket is SameSite=Strict');
		assert.equal(await page.evaluate(() => document.cookie.includes('bw_ticket')), false, 'document.cookie does not expose the ticket');
		guard.assertClean();
		admin.sessionCookie = cookie.value;
		done[1] = true;
	});
});

test('flow 2: the audit administrator sees a verified chain and flow 1 in the trail', { timeout: 90000 }, async () => {
	needs(1);
	const auditor = server.byRole('auditadmin');
	const admin = server.byRole('sysadmin');
	await runFlow(server, browser, 'flow2', async (ui) => {
		const ctx = await ui.context();
		const { page, guard } = await ui.page(ctx, 'flow 2');
		const s = await firstSignIn(page, server, auditor, { shots: 'flow2' });
		assert.equal(s.user.role, 'auditadmin');
		// Audit is the auditor's page (and the only one besides Security).
		await tid(page, 'nav-audit').waitFor({ state: 'visible' });
		assert.equal(await tid(page, 'nav-users').count(), 0, 'no Users page for the audit administrator');
		assert.equal(await tid(page, 'nav-policy').count(), 0, 'no Policy page for the audit administrator');
		await tid(page, 'nav-audit').click();
		const status = tid(page, 'audit-status');
		await status.waitFor({ state: 'visible' });
		await page.waitForFunction(
			(el) => el.dataset.state !== 'checking', await status.elementHandle(), { timeout: 15000 });
		assert.equal(await status.getAttribute('data-state'), 'ok', `chain status: ${await status.innerText()}`);
		const text = await status.innerText();
		const verified = new RegExp(EN['audit.verified'].replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace('{n}', '\\d+'));
		assert.match(text, verified, 'the status says the chain is verified');

		await tid(page, 'audit-table').waitFor({ state: 'visible' });
		const rows = await tid(page, 'audit-row').evaluateAll((trs) => trs.map((tr) => ({
			seq: Number(tr.dataset.seq),
			event: tr.dataset.event,
			subject: tr.children[3]?.textContent.trim(),
			outcome: tr.children[5]?.textContent.trim(),
		})));
		await shot(page, 'flow2-07-audit');
		assert.ok(rows.length > 0, 'audit records are listed');
		const seqs = rows.map((r) => r.seq);
		assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
		// The subject names the account as TENANT/USERNAME#ID ("acme/admin#1").
		const adminSubject = new RegExp(`^acme/${admin.username}#${admin.id}$`);
		const isAdmin = (subj) => adminSubject.test(subj);
		for (const ev of ['auth.login', 'auth.password_change', 'auth.mfa_enrol']) {
			const hit = rows.find((r) => r.event === ev && isAdmin(r.subject));
			assert.ok(hit, `a ${ev} record for ${admin.username} is in the table; rows: ${JSON.stringify(rows)}`);
		}
		const enrol = rows.find((r) => r.event === 'auth.mfa_enrol' && isAdmin(r.subject));
		assert.equal(enrol.outcome, EN['outcome.success'], 'the enrolment record shows success');
		const pwRecords = rows.filter((r) => r.event === 'auth.password_change' && isAdmin(r.subject));
		assert.ok(pwRecords.some((r) => r.outcome === EN['outcome.success']), 'successful password change recorded');

		// Record details open in a dialog with the JSON detail.
		const row = page.locator(`[data-testid="audit-row"][data-seq="${enrol.seq}"]`);
		await row.locator('[data-testid="audit-detail"]').click();
		const dlg = tid(page, 'audit-record-dialog');
		await dlg.waitFor({ state: 'visible' });
		JSON.parse(await tid(page, 'audit-detail-json').innerText());
		await shot(page, 'flow2-08-audit-record', { full: false });
		await tid(page, 'dialog-close').click();
		await dlg.waitFor({ state: 'detached' });
		guard.assertClean();
		done[2] = true;
	});
});

test('flow 3: TOTP sign-in, a wrong password, sign-out ends the session', { timeout: 120000 }, async () => {
	needs(1);
	const admin = server.byRole('sysadmin');
	await runFlow(server, browser, 'flow3', async (ui) => {
		const ctx = await ui.context();
		const { page, guard } = await ui.page(ctx, 'flow 3');
		await openSignIn(page, server);

		// Wrong password: a generic message that does not say which part was wrong.
		await submitSignIn(page, { username: admin.username, password: `${admin.password}x` });
		const err = tid(page, 'login-error');
		await err.waitFor({ state: 'visible' });
		const wrongPw = (await err.innerText()).trim();
		assert.equal(wrongPw, EN['err.invalid_credentials'], 'wrong password: the generic message');
		assert.equal(await tid(page, 'login-password').inputValue(), '', 'the password field is cleared');
		assert.equal(await tid(page, 'totp-code').count(), 0, 'no second-factor step after a wrong password');
		await shot(page, 'flow3-01-wrong-password');
		// An unknown user gets exactly the same answer.
		await submitSignIn(page, { username: 'nobody-here', password: `${admin.password}x` });
		await page.waitForFunction(() => document.querySelector('[data-testid="login-password"]')?.value === '');
		await err.waitFor({ state: 'visible' });
		assert.equal((await err.innerText()).trim(), wrongPw, 'unknown user: the same message as a wrong password');
		// The wrong TOTP-free attempt did not create a session.
		assert.equal((await sessionOf(page, server)).status, 401, 'no session after failed sign-ins');

		// Right password → second-factor step → a fresh TOTP code.
		await submitSignIn(page, { username: admin.username, password: admin.password });
		await tid(page, 'totp-code').waitFor({ state: 'visible' });
		assert.equal((await page.locator('h1.auth-title').innerText()).trim(), EN['login.totpTitle']);
		assert.equal((await sessionOf(page, server)).status, 401, 'no session before the second factor');
		await shot(page, 'flow3-02-totp');
		// A wrong code first (the current code with one digit changed).
		const good = await server.freshTotp(admin);
		const bad = good.slice(0, 5) + String((Number(good[5]) + 5) % 10);
		await tid(page, 'totp-code').fill(bad);
		await tid(page, 'totp-submit').click();
		const terr = tid(page, 'totp-error');
		await terr.waitFor({ state: 'visible' });
		assert.equal((await terr.innerText()).trim(), EN['login.badCode'], 'wrong code message');
		assert.equal((await sessionOf(page, server)).status, 401, 'no session after a wrong code');
		await shot(page, 'flow3-03-totp-wrong');
		await tid(page, 'totp-code').fill(good);
		await tid(page, 'totp-submit').click();
		await expectShell(page, server, admin.username);
		await shot(page, 'flow3-04-app');

		const cookie = (await ctx.cookies()).find((c) => c.name === 'bw_ticket');
		assert.ok(cookie, 'bw_ticket cookie after the TOTP sign-in');

		// Sign out → the sign-in page, and the cookie no longer works.
		await tid(page, 'signout').click();
		await tid(page, 'login-tenant').waitFor({ state: 'visible' });
		const notice = tid(page, 'login-notice');
		await notice.waitFor({ state: 'visible' });
		assert.equal((await notice.innerText()).trim(), EN['notice.signedOut']);
		await shot(page, 'flow3-05-signed-out');
		assert.equal((await sessionOf(page, server)).status, 401, 'GET /auth/session → 401 after sign-out');
		assert.equal((await ctx.cookies()).some((c) => c.name === 'bw_ticket' && c.value === cookie.value), false,
			'the browser dropped the ticket cookie');
		// The old cookie value, replayed, is refused (the ticket was revoked).
		const rq = await playwright.request.newContext({ ignoreHTTPSErrors: true });
		try {
			const r = await rq.get(`${server.origin()}/api/v1/auth/session`, { headers: { cookie: `bw_ticket=${cookie.value}` } });
			assert.equal(r.status(), 401, 'the signed-out ticket is refused when replayed');
			// And the cookie of flow 1's session still works (sign-out ends only this one).
			const r1 = await rq.get(`${server.origin()}/api/v1/auth/session`, { headers: { cookie: `bw_ticket=${admin.sessionCookie}` } });
			assert.equal(r1.status(), 200, 'the other session of the same user is not affected');
		} finally {
			await rq.dispose();
		}
		// A reload still shows the sign-in page.
		await page.reload();
		await tid(page, 'login-tenant').waitFor({ state: 'visible' });
		guard.assertClean();
		done[3] = true;
	});
});

test('flow 4: the system administrator creates a member who signs in', { timeout: 120000 }, async () => {
	needs(1);
	const admin = server.byRole('sysadmin');
	await runFlow(server, browser, 'flow4', async (ui) => {
		const ctx = await ui.context();
		const ctx2 = await ui.context();
		const { page, guard } = await ui.page(ctx, 'flow 4 (admin)');
		await openSignIn(page, server);
		// Sign in with a recovery code this time.
		await submitSignIn(page, { username: admin.username, password: admin.password });
		await tid(page, 'totp-toggle-recovery').click();
		await page.getByText(EN['login.recoveryHelp']).waitFor({ state: 'visible' });
		assert.ok(admin.recovery?.length, 'recovery codes from flow 1');
		await tid(page, 'totp-code').fill(admin.recovery.shift());
		await tid(page, 'totp-submit').click();
		await expectShell(page, server, admin.username);
		await tid(page, 'nav-users').click();
		await tid(page, 'users-table').waitFor({ state: 'visible' });
		await shot(page, 'flow4-01-users');

		const username = `member.${Math.random().toString(36).slice(2, 8)}`;
		await tid(page, 'users-create').click();
		await tid(page, 'create-dialog').waitFor({ state: 'visible' });
		await tid(page, 'create-username').fill(username);
		await tid(page, 'create-display-name').fill('Test Member');
		assert.equal(await tid(page, 'create-role').inputValue(), 'member', 'member is the default role');
		await shot(page, 'flow4-02-create', { full: false });
		await tid(page, 'create-submit').click();
		const otp = tid(page, 'onetime-password');
		await otp.waitFor({ state: 'visible' });
		const oneTime = (await otp.innerText()).trim();
		assert.ok(oneTime.length >= 12, 'a one-time password is shown');
		await shot(page, 'flow4-03-onetime', { full: false });
		await tid(page, 'onetime-done').click();
		await tid(page, 'onetime-dialog').waitFor({ state: 'detached' });
		const row = page.locator(`[data-testid="user-row"][data-username="${username}"]`);
		await row.waitFor({ state: 'visible' });
		assert.ok((await row.innerText()).includes(EN['role.member']), 'the new row shows the member role');
		guard.assertClean('admin');

		// The member, in a second browser context.
		const { page: p2, guard: g2 } = await ui.page(ctx2, 'flow 4 (member)');
		const member = { username, password: oneTime, role: 'member' };
		const s = await firstSignIn(p2, server, member, { shots: 'flow4-member', expectEnrol: false });
		assert.equal(s.user.role, 'member');
		assert.equal(s.user.mfa_enabled, false, 'members need no MFA by default');
		assert.equal(s.user.display_name, 'Test Member');
		assert.equal(await tid(p2, 'nav-users').count(), 0, 'no Users page for a member');
		assert.equal(await tid(p2, 'nav-audit').count(), 0, 'no Audit page for a member');
		await tid(p2, 'nav-chat').waitFor({ state: 'visible' });   // members start in Chat
		await tid(p2, 'nav-security').click();
		await tid(p2, 'account-details').waitFor({ state: 'visible' });
		// The one-time password is spent.
		const rq = await playwright.request.newContext({ ignoreHTTPSErrors: true });
		try {
			const r = await rq.post(`${server.origin()}/api/v1/auth/login`, {
				data: { tenant: 'acme', username, password: oneTime, session: 'bearer' },
			});
			assert.equal(r.status(), 401, 'the one-time password no longer signs in');
		} finally {
			await rq.dispose();
		}
		g2.assertClean('member');

		// The administrator's list shows the member no longer must change the password.
		assert.ok((await row.innerText()).includes(EN['user.mustChange']), 'a new member must change the password');
		await Promise.all([
			page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/users' && r.status() === 200),
			tid(page, 'users-refresh').click(),
		]);
		await page.waitForFunction(([u, badge]) => {
			const tr = document.querySelector(`[data-testid="user-row"][data-username="${u}"]`);
			return tr && !tr.textContent.includes(badge);
		}, [username, EN['user.mustChange']], { timeout: 5000 });
		await shot(page, 'flow4-05-users-after');
		guard.assertClean('admin');
		done[4] = true;
	});
});

test('the server shuts down cleanly (SIGTERM, no sanitizer report)', { timeout: 30000 }, async () => {
	await server.stop();
});
