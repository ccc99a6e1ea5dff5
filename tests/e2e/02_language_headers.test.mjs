// tests/e2e/02_language_headers.test.mjs — the sign-in page in a real
// browser without an account:
//   5. the language switch (English ↔ 简体中文): labels, errors, the
//      remembered choice, and the browser's language preference
//   6. the security headers of the page (CSP without 'unsafe-inline', HSTS)
//      and that Chromium really enforces the CSP (an injected inline script
//      is refused and reported; the page guard catches it)
// Requirements: WC-I18N, WC-CSP, PS-COM-a, RG-APP-e.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
	EN, Server, ZH, launchBrowser, openSignIn, runFlow, shot, submitSignIn, tid,
} from './lib/harness.mjs';

let server;
let browser;

before(async () => {
	server = await Server.start();
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.dispose();
});

// The visible texts of the sign-in card that carry translated strings.
async function signInTexts(page) {
	const labelOf = async (testid) => {
		const id = await tid(page, testid).getAttribute('id');
		return (await page.locator(`label[for="${id}"]`).innerText()).trim();
	};
	return {
		title: (await page.locator('h1.auth-title').innerText()).trim(),
		tenant: await labelOf('login-tenant'),
		username: await labelOf('login-username'),
		password: await labelOf('login-password'),
		submit: (await tid(page, 'login-submit').innerText()).trim(),
		more: (await page.locator('details.more > summary').innerText()).trim(),
	};
}

function expected(dict) {
	return {
		title: dict['login.title'],
		tenant: dict['login.tenant'],
		username: dict['login.username'],
		password: dict['login.password'],
		submit: dict['login.submit'],
		more: dict['login.more'],
	};
}

test('flow 5: the language switch changes the sign-in page to 简体中文 and back', { timeout: 60000 }, async () => {
	assert.notEqual(ZH['login.tenant'], EN['login.tenant'], 'the two dictionaries differ');
	await runFlow(server, browser, 'flow5', async (ui) => {
		const ctx = await ui.context({ locale: 'en-US' });
		const { page, guard } = await ui.page(ctx, 'flow 5');
		await openSignIn(page, server);
		assert.deepEqual(await signInTexts(page), expected(EN), 'English for an en-US browser');
		assert.equal(await tid(page, 'lang-switch').inputValue(), 'en');
		await shot(page, 'flow5-01-english');

		// What was typed survives the switch.
		await tid(page, 'login-tenant').fill('acme');
		await tid(page, 'login-username').fill('someone');
		await tid(page, 'lang-switch').selectOption('zh-CN');
		await page.waitForFunction((s) => document.querySelector('[data-testid="login-submit"]')?.textContent.trim() === s,
			ZH['login.submit']);
		assert.deepEqual(await signInTexts(page), expected(ZH), 'every sign-in label in Chinese');
		assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN', '<html lang> follows');
		assert.equal(await page.evaluate(() => localStorage.getItem('bulwark.lang')), 'zh-CN', 'the choice is remembered');
		assert.equal(await tid(page, 'login-tenant').inputValue(), 'acme', 'tenant kept across the switch');
		assert.equal(await tid(page, 'login-username').inputValue(), 'someone', 'username kept across the switch');
		await shot(page, 'flow5-02-chinese');

		// Error messages are translated too.
		await submitSignIn(page, { username: 'someone', password: 'Wrong-password-123' });
		const err = tid(page, 'login-error');
		await err.waitFor({ state: 'visible' });
		assert.equal((await err.innerText()).trim(), ZH['err.invalid_credentials'], 'the error in Chinese');
		await shot(page, 'flow5-03-chinese-error');

		// The choice survives a reload.
		await page.reload();
		await tid(page, 'login-tenant').waitFor({ state: 'visible' });
		assert.deepEqual(await signInTexts(page), expected(ZH), 'still Chinese after a reload');
		assert.equal(await tid(page, 'lang-switch').inputValue(), 'zh-CN');

		// And back to English.
		await tid(page, 'lang-switch').selectOption('en');
		await page.waitForFunction((s) => document.querySelector('[data-testid="login-submit"]')?.textContent.trim() === s,
			EN['login.submit']);
		assert.deepEqual(await signInTexts(page), expected(EN), 'English again');
		assert.equal(await page.evaluate(() => localStorage.getItem('bulwark.lang')), 'en');
		guard.assertClean();
	});

	// A browser that prefers Chinese starts in Chinese (no stored choice).
	await runFlow(server, browser, 'flow5-zh', async (ui) => {
		const zctx = await ui.context({ locale: 'zh-CN' });
		const { page, guard } = await ui.page(zctx, 'flow 5 (zh-CN browser)');
		await openSignIn(page, server);
		assert.deepEqual(await signInTexts(page), expected(ZH), 'Chinese for a zh-CN browser');
		assert.equal(await tid(page, 'lang-switch').inputValue(), 'zh-CN');
		await shot(page, 'flow5-04-zh-browser');
		guard.assertClean();
	});
});

// Parses a CSP header into { directive: [values] }.
function parseCsp(h) {
	const out = {};
	for (const part of h.split(';')) {
		const [name, ...vals] = part.trim().split(/\s+/);
		if (name)
			out[name.toLowerCase()] = vals;
	}
	return out;
}

function checkHeaders(headers, what) {
	const csp = headers['content-security-policy'];
	assert.ok(csp, `${what}: Content-Security-Policy present`);
	assert.doesNotMatch(csp, /unsafe-inline/, `${what}: no 'unsafe-inline' in the CSP`);
	assert.doesNotMatch(csp, /unsafe-eval|unsafe-hashes|strict-dynamic|\*/, `${what}: no unsafe-eval, wildcards or strict-dynamic`);
	const d = parseCsp(csp);
	assert.deepEqual(d['default-src'], ["'self'"], `${what}: default-src 'self'`);
	assert.deepEqual(d['script-src'], ["'self'"], `${what}: script-src 'self'`);
	assert.deepEqual(d['style-src'], ["'self'"], `${what}: style-src 'self'`);
	assert.deepEqual(d['object-src'], ["'none'"], `${what}: object-src 'none'`);
	assert.deepEqual(d['frame-ancestors'], ["'none'"], `${what}: frame-ancestors 'none'`);
	assert.deepEqual(d['base-uri'], ["'none'"], `${what}: base-uri 'none'`);
	assert.deepEqual(d['connect-src'], ["'self'"], `${what}: connect-src 'self'`);
	const hsts = headers['strict-transport-security'];
	assert.ok(hsts, `${what}: Strict-Transport-Security present`);
	const m = /max-age=(\d+)/i.exec(hsts);
	assert.ok(m && Number(m[1]) >= 15552000, `${what}: HSTS max-age of at least 180 days (got "${hsts}")`);
	assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
}

test('flow 6: the page carries a strict CSP and HSTS, and Chromium enforces the CSP', { timeout: 60000 }, async () => {
	await runFlow(server, browser, 'flow6', async (ui) => {
		const ctx = await ui.context();
		const { page, guard } = await ui.page(ctx, 'flow 6');
		const res = await openSignIn(page, server);
		checkHeaders(await res.allHeaders(), 'GET /');
		// A deep link opened fresh (the client routes by hash), and the
		// script bundle the page loads.
		const { page: p2, guard: g2 } = await ui.page(ctx, 'flow 6 (deep link)');
		const deep = await p2.goto(`${server.origin()}/#/security`);
		assert.equal(deep.status(), 200);
		checkHeaders(await deep.allHeaders(), 'GET /#/security');
		await tid(p2, 'login-tenant').waitFor({ state: 'visible' });
		const js = await p2.evaluate(() => document.querySelector('script[src]')?.src);
		assert.ok(js, 'the page loads its script from a file');
		const jr = await p2.request.get(js);
		assert.equal(jr.status(), 200);
		assert.match(jr.headers()['content-type'] || '', /javascript/, 'script served as JavaScript');
		assert.equal(jr.headers()['x-content-type-options'], 'nosniff', 'script served with nosniff');
		assert.ok(jr.headers()['strict-transport-security'], 'HSTS on the script too');
		g2.assertClean();
		await p2.close();
		// The page itself loads no inline script or style and nothing foreign.
		const inline = await page.evaluate(() => ({
			scripts: [...document.scripts].filter((s) => !s.src).length,
			styles: document.querySelectorAll('style').length,
			styleAttrs: document.querySelectorAll('[style]').length,
			foreign: [...document.querySelectorAll('[src],[href]')]
				.map((e) => e.getAttribute('src') ?? e.getAttribute('href'))
				.filter((u) => /^(https?:)?\/\//.test(u) && !u.startsWith(location.origin)),
		}));
		assert.deepEqual(inline, { scripts: 0, styles: 0, styleAttrs: 0, foreign: [] }, 'no inline code, no foreign URLs');
		guard.assertClean('before the injection');

		// Negative check: an inline script injected into the page is refused
		// by the browser, and the guard sees the violation.
		const ran = await page.evaluate(() => new Promise((resolve) => {
			document.addEventListener('securitypolicyviolation', () => resolve(window.__bwInline === 1), { once: true });
			const s = document.createElement('script');
			s.textContent = 'window.__bwInline = 1;';
			document.body.appendChild(s);
			setTimeout(() => resolve(window.__bwInline === 1 ? 'ran' : 'no event'), 3000);
		}));
		assert.equal(ran, false, 'the injected inline script did not run and a CSP violation was reported');
		await page.waitForTimeout(200);
		assert.ok(guard.problems.some((p) => /CSP violation/.test(p)), `the guard caught the violation: ${JSON.stringify(guard.problems)}`);
		assert.throws(() => guard.assertClean(), /reported problems/, 'the guard fails a test on a CSP violation');
	});
});

test('the server shuts down cleanly (SIGTERM, no sanitizer report)', { timeout: 30000 }, async () => {
	await server.stop();
});
