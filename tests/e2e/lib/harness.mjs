// tests/e2e/lib/harness.mjs — harness for the browser tests (tests/e2e).
//
// Starts the REAL bulwark binary ($BULWARK_BIN, default build/asan/bulwark)
// on a throwaway data directory and a random loopback port, serving the
// built web client (web/dist), and drives headless Chromium through it with
// playwright-core (loaded from web/node_modules).  Every page is watched:
// a console error, a CSP violation ("Refused to ..."), an uncaught page
// error or a 5xx answer fails the test.  Shutdown is SIGTERM + wait, and a
// sanitizer report on the server's stderr fails the file.
//
// TOTP codes come from the real oathtool.  Codes are single-use, so a
// second sign-in needs the next 30 s step: by default the harness waits for
// it (browser and server clocks stay in agreement, any build works).  With
// BULWARK_E2E_FAST_CLOCK=1 it moves the server's clock forward instead,
// through the test-build clock file ($BULWARK_TEST_CLOCK, honoured only by
// binaries built with -DBW_TESTING such as build/asan/bulwark); pages then
// show times up to 30 s "in the future".
//
// Requirement IDs exercised by the suites: PS-IA-b/c/d (one-time passwords,
// forced change, TOTP enrolment and sign-in), PS-LOG-c (audit viewer, chain
// verification), PS-COM-a (HTTPS + HSTS), WC-UI, WC-I18N, WC-STORE, WC-CSP.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SANITIZER_RE, Server as ServerBase, sleep } from '../../api/lib/server.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const WEB_DIST = path.join(ROOT, 'web/dist');
export const SHOTS = path.join(ROOT, 'build/e2e-shots');
export const CHROMIUM = process.env.BULWARK_E2E_CHROMIUM || '/usr/bin/chromium';
const FAST_CLOCK = process.env.BULWARK_E2E_FAST_CLOCK === '1';

export { sleep };

// ---- playwright-core -----------------------------------------------------------

const require = createRequire(import.meta.url);
function loadPlaywright() {
	try {
		return require('playwright-core');      // NODE_PATH=web/node_modules
	} catch {
		return require(path.join(ROOT, 'web/node_modules/playwright-core'));
	}
}
export const playwright = loadPlaywright();

// ---- locale strings (parsed from the client's sources) ---------------------------

// Parses a locale module ('key': 'value' pairs) into a plain object.
function loadLocale(file) {
	const src = fs.readFileSync(path.join(ROOT, 'web/src/locales', file), 'utf8');
	const out = {};
	const re = /'([A-Za-z0-9_.-]+)':\s*'((?:[^'\\]|\\.)*)'/g;
	for (let m; (m = re.exec(src));)
		out[m[1]] = m[2].replace(/\\(.)/g, (_x, c) => (c === 'n' ? '\n' : c));
	assert.ok(Object.keys(out).length > 100, `locale ${file} parsed (${Object.keys(out).length} keys)`);
	return out;
}
export const EN = loadLocale('en.ts');
export const ZH = loadLocale('zh-CN.ts');

// ---- the server ---------------------------------------------------------------

// The server process is the API suite's (tests/api/lib/server.mjs): `bulwark
// init`, launch on a free port with the test clock, health wait, and the
// clean-stop and sanitizer checks.  The browser tests add the preset accounts
// by role and TOTP codes at the server's time.
export class Server extends ServerBase {
	static async start() {
		assert.ok(fs.existsSync(path.join(WEB_DIST, 'index.html')),
			'web/dist/index.html is missing: build the client first (sh scripts/web-build.sh or tests/run-e2e.sh)');
		const s = await super.start();
		s.tenant = 'acme';
		return s;
	}

	// The preset account with this role (sysadmin, secadmin, auditadmin).
	byRole(role) {
		const a = Object.values(this.accounts[this.tenant] || {}).find((x) => x.role === role);
		assert.ok(a, `no ${role} account printed by init`);
		return a;
	}

	// ---- TOTP ----

	// The 6-digit code for secret at the server's current time (real oathtool).
	totp(secret) {
		const d = new Date(Math.floor(this.now()) * 1000);
		const p = (n) => String(n).padStart(2, '0');
		const stamp = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
			`${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
		const args = this.offset === 0 ? ['--totp', '-b', secret] : ['--totp', '-b', secret, '--now', stamp];
		const r = spawnSync('oathtool', args, { encoding: 'utf8' });
		assert.equal(r.status, 0, `oathtool failed: ${r.stderr}`);
		const code = r.stdout.trim();
		assert.match(code, /^\d{6}$/, 'oathtool prints a 6-digit code');
		return code;
	}

	// Makes sure the server's clock is in a 30 s step after acct.lastStep
	// and not in the last 3 s of a step, then returns a fresh code and
	// records its step as used.
	async freshTotp(acct) {
		assert.ok(acct.secret, `${acct.username} has no TOTP secret`);
		for (;;) {
			const now = this.now();
			const step = Math.floor(now / 30);
			const into = now - step * 30;
			if (step > (acct.lastStep ?? -1) && into < 27) {
				const code = this.totp(acct.secret);
				acct.lastStep = step;
				return code;
			}
			const wait = step > (acct.lastStep ?? -1) ? 30 - into + 0.5 : (acct.lastStep + 1) * 30 - now + 0.5;
			if (FAST_CLOCK) {
				this.offset += Math.ceil(wait);
				this.writeClock();
				await sleep(200);     // the server re-reads the clock file every 50 ms
			} else {
				await sleep(wait * 1000);
			}
		}
	}
}


// ---- the browser --------------------------------------------------------------

export const CHROMIUM_ARGS = [
	'--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--disable-quic',
];

export async function launchBrowser() {
	return playwright.chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// A fresh context (own cookies and storage), English unless told.
export async function newContext(browser, { locale = 'en-US' } = {}) {
	const ctx = await browser.newContext({
		ignoreHTTPSErrors: true,     // self-signed server certificate (browser test only)
		locale,
		viewport: { width: 1280, height: 860 },
		serviceWorkers: 'block',
	});
	ctx.setDefaultTimeout(15000);
	ctx.setDefaultNavigationTimeout(20000);
	return ctx;
}

// Watches a page: console errors (CSP violations included), page errors,
// 5xx answers and failed requests.  A "Failed to load resource ... 4xx"
// console line is Chromium reporting an API error answer; the ones listed
// in .allowed (401 on the session probe, 403 password_change_required,
// 422 password_policy, ...) are answers the client handles and are only
// recorded in .apiErrors; every other one fails the test.
export class PageGuard {
	constructor(page, origin, name) {
		this.page = page;
		this.origin = origin;
		this.name = name;
		this.problems = [];
		this.apiErrors = [];
		// API error answers the client is built to handle; any other 4xx
		// (csrf_failed, forbidden, invalid_request, ...) is a problem.
		this.allowed = [
			[401, /^\/api\/v1\/auth\/session$/],            // no session yet / after sign-out
			[401, /^\/api\/v1\/auth\/login$/],              // invalid_credentials, mfa_required
			[403, /^\/api\/v1\/auth\/login$/],              // password_change_required, mfa_enrolment_required
			[422, /^\/api\/v1\/auth\/password$/],           // password_policy
		];
		page.on('console', (msg) => {
			const text = msg.text();
			const type = msg.type();
			const url = msg.location()?.url || '';
			if (/Refused to|Content Security Policy|Content-Security-Policy/i.test(text)) {
				this.problems.push(`CSP violation (${type}): ${text} @ ${url}`);
				return;
			}
			if (type !== 'error')
				return;
			const m = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
			if (m && url.startsWith(`${origin}/api/v1/`)) {
				const status = Number(m[1]);
				const p = url.slice(origin.length).split('?')[0];
				if (this.allowed.some(([st, re]) => st === status && re.test(p))) {
					this.apiErrors.push(`${status} ${p}`);
					return;
				}
			}
			this.problems.push(`console error: ${text} @ ${url}`);
		});
		page.on('pageerror', (err) => this.problems.push(`page error: ${err.stack || err.message}`));
		page.on('response', (res) => {
			if (res.status() >= 500)
				this.problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
		});
		page.on('requestfailed', (req) => {
			const f = req.failure()?.errorText || '';
			// A navigation or sign-out may abort a request in flight; a
			// real failure (TLS, refused, CSP-blocked) is kept.
			if (/ERR_ABORTED/.test(f))
				return;
			this.problems.push(`request failed: ${req.method()} ${req.url()}: ${f}`);
		});
	}

	// Fails when anything went wrong on the page so far.
	assertClean(what = '') {
		assert.deepEqual(this.problems, [], `${this.name}${what ? ` (${what})` : ''}: the page reported problems`);
	}
}

// Reports CSP violations from inside the page too (the init script runs
// through DevTools, outside the page's CSP).
const CSP_WATCH = `document.addEventListener('securitypolicyviolation', (e) => {
	console.error('Refused to load (securitypolicyviolation): ' + e.violatedDirective + ' ' + e.blockedURI);
});`;

export async function newPage(ctx, server, name) {
	const page = await ctx.newPage();
	await page.addInitScript(CSP_WATCH);
	const guard = new PageGuard(page, server.origin(), name);
	return { page, guard };
}

// Screenshot into build/e2e-shots/NAME.png; returns the path.  The whole
// page by default; full=false takes the viewport only (for modal dialogs:
// in a full-page shot the backdrop and the sticky rail end at the
// viewport's height, which looks broken but is not).
export async function shot(page, name, { full = true } = {}) {
	fs.mkdirSync(SHOTS, { recursive: true });
	const file = path.join(SHOTS, `${name}.png`);
	await page.screenshot({ path: file, fullPage: full });
	return file;
}

export const tid = (page, id) => page.locator(`[data-testid="${id}"]`);

// The visible field-error text of the input with this test id.
export async function fieldError(page, testid) {
	const id = await tid(page, testid).getAttribute('id');
	assert.ok(id, `${testid} has an id`);
	const err = page.locator(`[id="${id}-err"]`);
	await err.waitFor({ state: 'visible' });
	return (await err.innerText()).trim();
}

// Opens the app and waits for the sign-in card.
export async function openSignIn(page, server) {
	const res = await page.goto(`${server.origin()}/`, { waitUntil: 'load' });
	assert.equal(res.status(), 200, 'GET / answers 200');
	await tid(page, 'login-tenant').waitFor({ state: 'visible' });
	return res;
}

// Fills the sign-in form and submits it.
export async function submitSignIn(page, { tenant = 'acme', username, password }) {
	await tid(page, 'login-tenant').fill(tenant);
	await tid(page, 'login-username').fill(username);
	await tid(page, 'login-password').fill(password);
	await tid(page, 'login-submit').click();
}

// A password meeting the default policy (12+, 3+ classes, no username).
export function strongPassword() {
	return `Kx7!${Math.random().toString(36).slice(2, 10)}Qz#w`;
}

// GET /api/v1/auth/session through the page's context (its cookies).
export async function sessionOf(page, server) {
	const r = await page.request.get(`${server.origin()}/api/v1/auth/session`);
	return { status: r.status(), json: r.status() === 200 ? await r.json() : null };
}

// Waits for the app shell and checks the top bar names the signed-in user.
// Returns the session (GET /auth/session).
export async function expectShell(page, server, username) {
	await tid(page, 'nav-security').waitFor({ state: 'visible' });
	const s = await sessionOf(page, server);
	assert.equal(s.status, 200, 'the session cookie works in the app');
	assert.equal(s.json.scope, 'full', 'full session scope in the app');
	assert.equal(s.json.user.username, username);
	const top = tid(page, 'top-user');
	await top.waitFor({ state: 'visible' });
	const name = s.json.user.display_name || s.json.user.username;
	assert.ok((await top.innerText()).includes(name), `top bar shows ${name}: "${await top.innerText()}"`);
	assert.equal((await tid(page, 'top-role').innerText()).trim(), EN[`role.${s.json.user.role}`], 'top bar shows the role');
	return s.json;
}

// The first sign-in of an account printed by `bulwark init` (or created
// with a one-time password): sign in → forced password change (optionally
// trying a weak password first) → TOTP enrolment when the role requires it
// → recovery codes → the app.  Screenshots go to build/e2e-shots/PREFIX-*.
// Updates acct (password, secret, recovery, lastStep) and returns the
// session of the app.
export async function firstSignIn(page, server, acct, { shots, weakFirst = false, expectEnrol = true }) {
	let n = 0;
	const snap = (step) => shot(page, `${shots}-${String(++n).padStart(2, '0')}-${step}`);

	await openSignIn(page, server);
	await snap('signin');
	await submitSignIn(page, { username: acct.username, password: acct.password });

	// Forced password change.
	await tid(page, 'pw-new').waitFor({ state: 'visible' });
	assert.equal((await page.locator('h1.auth-title').innerText()).trim(), EN['pw.forcedTitle'], 'forced password change screen');
	let s = await sessionOf(page, server);
	assert.equal(s.status, 200, 'the restricted session is usable for GET /auth/session');
	assert.equal(s.json.scope, 'password_change', 'scope after a one-time password');
	assert.equal(await tid(page, 'nav-security').count(), 0, 'no app navigation before the password is changed');
	await snap('forced-change');

	if (weakFirst) {
		await tid(page, 'pw-current').fill(acct.password);
		await tid(page, 'pw-new').fill('password1234');
		await tid(page, 'pw-confirm').fill('password1234');
		await tid(page, 'pw-submit').click();
		const msg = await fieldError(page, 'pw-new');
		const allowed = [EN['pwreason.too_few_classes'], EN['pwreason.common_password']];
		assert.ok(allowed.includes(msg), `the translated policy reason is shown for "password1234"; got "${msg}"`);
		assert.equal(await tid(page, 'pw-new').getAttribute('aria-invalid'), 'true', 'the new-password field is marked invalid');
		await snap('weak-password');
		s = await sessionOf(page, server);
		assert.equal(s.json?.scope, 'password_change', 'a refused password does not change the session');
	}

	const newPw = strongPassword();
	await tid(page, 'pw-current').fill(acct.password);
	await tid(page, 'pw-new').fill(newPw);
	await tid(page, 'pw-confirm').fill(newPw);
	await tid(page, 'pw-submit').click();
	const oneTime = acct.password;
	acct.password = newPw;

	if (expectEnrol) {
		// TOTP enrolment: QR (data: SVG image), the secret as text.
		const qr = tid(page, 'enrol-qr');
		await qr.waitFor({ state: 'visible' });
		const src = await qr.getAttribute('src');
		assert.ok(src && src.startsWith('data:image/svg+xml'), `QR image is a data: SVG (got ${String(src).slice(0, 40)})`);
		await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await qr.elementHandle());
		const box = await qr.boundingBox();
		assert.ok(box && box.width >= 100 && box.height >= 100, `QR rendered at a scannable size (${JSON.stringify(box)})`);
		s = await sessionOf(page, server);
		assert.equal(s.json?.scope, 'mfa_enrol', 'scope after the password change of an administrator');
		const secret = (await tid(page, 'enrol-secret').innerText()).trim().replace(/\s+/g, '');
		assert.match(secret, /^[A-Z2-7]{16,}=*$/, 'the secret is base32');
		acct.secret = secret;
		await snap('enrol');

		const code = await server.freshTotp(acct);
		await tid(page, 'enrol-code').fill(code);
		await tid(page, 'enrol-submit').click();

		// Recovery codes, shown once.
		const list = tid(page, 'recovery-codes');
		await list.waitFor({ state: 'visible' });
		const codes = (await list.locator('li').allInnerTexts()).map((c) => c.trim());
		assert.equal(codes.length, 10, 'ten recovery codes');
		for (const c of codes)
			assert.match(c, /^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/, `recovery code format: ${c}`);
		assert.equal(new Set(codes).size, 10, 'recovery codes are distinct');
		acct.recovery = codes;
		await snap('recovery-codes');
		await tid(page, 'recovery-done').click();
	}

	const session = await expectShell(page, server, acct.username);
	assert.notEqual(acct.password, oneTime);
	await snap('app');
	return session;
}

// Runs one flow with its browser contexts, and on failure adds what helps
// to find the cause: a screenshot of every open page
// (build/e2e-shots/FAILED-NAME-N.png), the problems each page guard saw,
// and whether the server died or reported a sanitizer error.  fn receives
// { context(opts) → BrowserContext, page(ctx, label) → { page, guard } };
// every context is closed afterwards.
export async function runFlow(server, browser, name, fn) {
	const contexts = [];
	const pages = [];
	const ui = {
		async context(opts) {
			const c = await newContext(browser, opts);
			contexts.push(c);
			return c;
		},
		async page(ctx, label) {
			const p = await newPage(ctx, server, label);
			pages.push(p);
			return p;
		},
	};
	try {
		await fn(ui);
	} catch (e) {
		const notes = [];
		for (const [i, { page, guard }] of pages.entries()) {
			if (!page.isClosed()) {
				try {
					notes.push(`screenshot of "${guard.name}": ${await shot(page, `FAILED-${name}-${i + 1}`, { full: false })}`);
				} catch { /* the page is gone */ }
			}
			if (guard.problems.length)
				notes.push(`"${guard.name}" saw: ${guard.problems.join(' | ')}`);
		}
		const errLines = server.stderr.split('\n').filter((l) => !/ info: /.test(l) && l.trim()).slice(-15).join('\n');
		if (server.exit)
			notes.push(`the server process exited (${JSON.stringify(server.exit)}); stderr (without info lines):\n${errLines}`);
		else if (SANITIZER_RE.test(server.stderr))
			notes.push(`the server reported a sanitizer error:\n${errLines}`);
		if (notes.length && typeof e === 'object' && e !== null) {
			try {
				e.message = `${e.message}\n--- diagnostics ---\n${notes.join('\n')}`;
			} catch { /* read-only message */ }
		}
		throw e;
	} finally {
		for (const c of contexts)
			await c.close().catch(() => {});
	}
}
