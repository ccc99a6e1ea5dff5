// 03 — chat in the browser: two people in two browser contexts (English and
// Simplified Chinese) start a direct chat, see each other's messages, unread
// badges and typing live over the event WebSocket, send an attachment that
// is scanned by a real clamd (and see the EICAR test file refused with its
// signature), follow a link through the "You are leaving Bulwark" page, find
// a message with search, and recall a message, which the other person sees
// turn into "message recalled" without reloading.  The server runs with a
// private clamd (scripts/clamd.sh, shipped EICAR signature only).
// Requirement IDs: RG-IM-a (encrypted messages and files, end to end through
// the real server), RG-IM-b, RG-IM-c (recall), IN-PHISH and MI-3 (virus scan,
// link warning page), RG-WEB-b, WC-UI, WC-I18N, WC-CSP.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Server as ApiServer } from '../api/lib/server.mjs';
import {
	EN,
	ROOT,
	Server,
	ZH,
	launchBrowser,
	openSignIn,
	runFlow,
	shot,
	submitSignIn,
	tid,
} from './lib/harness.mjs';

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
let server;
let browser;
let clamdDir;
let alice;
let bob;

function clamd(cmd) {
	return execFileSync('sh', [path.join(ROOT, 'scripts/clamd.sh'), cmd, clamdDir], { encoding: 'utf8' }).trim();
}

/** A locale string with its {placeholders} filled. */
function fill(s, vars) {
	return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

before(async () => {
	clamdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-e2e-clamd-'));
	const sock = clamd('start');
	assert.ok(fs.existsSync(path.join(ROOT, 'web/dist/index.html')), 'web/dist is built');
	// The browser harness's Server (preset accounts by role, TOTP), started
	// with the API harness's options so that it can be given --clamd.
	server = await ApiServer.start.call(Server, { extraArgs: ['--clamd', sock] });
	server.tenant = 'acme';
	const admin = await server.bootstrapAdmin('acme', server.byRole('sysadmin').username);
	alice = await server.createUser(admin.ticket, 'acme', 'alice', { display_name: 'Alice Wang' });
	bob = await server.createUser(admin.ticket, 'acme', 'bob', { display_name: 'Bob Li' });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.dispose();
	try {
		if (clamdDir) clamd('stop');
	} catch { /* not running */ }
	if (clamdDir) fs.rmSync(clamdDir, { recursive: true, force: true });
});

// Signs in through the form and waits for the chat page (the start page).
async function signInToChat(page, acct) {
	await openSignIn(page, server);
	await submitSignIn(page, { username: acct.username, password: acct.password });
	await tid(page, 'chat').waitFor({ state: 'visible' });
	await tid(page, 'nav-chat').waitFor({ state: 'visible' });
	assert.equal(await tid(page, 'nav-chat').getAttribute('aria-current'), 'page', 'Chat is the start page');
}

const msgWith = (page, text) => page.locator('[data-testid="msg"]', { hasText: text });

test('two people chat: live messages, unread, typing, attachment, virus, link warning, search, recall', { timeout: 180000 }, async () => {
	await runFlow(server, browser, 'chat', async (ui) => {
		const ctxA = await ui.context();
		const ctxB = await ui.context({ locale: 'zh-CN' });
		const { page: a, guard: ga } = await ui.page(ctxA, 'chat (alice)');
		const { page: b, guard: gb } = await ui.page(ctxB, 'chat (bob)');
		// The EICAR upload is refused with 422 infected: an answer the client handles.
		gb.allowed.push([422, /^\/api\/v1\/uploads\/[^/]+\/finish$/]);

		await signInToChat(a, alice);
		await signInToChat(b, bob);
		await tid(b, 'chat-empty').waitFor({ state: 'visible' });
		assert.equal((await tid(b, 'nav-chat').innerText()).trim(), ZH['nav.chat'], 'the rail is in Chinese for bob');

		// Alice starts a direct chat with Bob through the people picker.
		await tid(a, 'chat-new-toggle').click();
		await tid(a, 'chat-new-direct').click();
		await tid(a, 'new-direct-dialog').waitFor({ state: 'visible' });
		await tid(a, 'people-search').fill('bob');
		const pick = a.locator('[data-testid="people-item"][data-username="bob"]');
		await pick.waitFor({ state: 'visible' });
		await shot(a, 'chat-01-people-picker', { full: false });
		await pick.click();
		await tid(a, 'new-direct-dialog').waitFor({ state: 'detached' });
		await a.waitForFunction(() => /^#\/chat\/\d+$/.test(location.hash));
		const convId = Number((await a.evaluate(() => location.hash)).split('/').pop());
		assert.equal((await tid(a, 'chat-title').innerText()).trim(), 'Bob Li', 'the direct chat is titled with the peer');

		// A message, sent over the WebSocket and acknowledged after commit.
		const input = tid(a, 'composer-input');
		await input.fill('Hello Bob, the **plan** is ready');
		await input.press('Enter');
		const first = msgWith(a, 'the plan is ready');
		await first.waitFor({ state: 'visible' });
		assert.equal(await first.locator('strong').innerText(), 'plan', 'Markdown is rendered by the server');
		await tid(a, 'msg-local').waitFor({ state: 'detached' });   // acknowledged
		assert.equal(await input.inputValue(), '', 'the composer is emptied');

		// Bob sees the new conversation with an unread badge, live.
		const bobItem = b.locator(`[data-testid="conv-item"][data-conv="${convId}"]`);
		await bobItem.waitFor({ state: 'visible', timeout: 10000 });
		await b.waitForFunction((id) => document.querySelector(`[data-conv="${id}"] [data-testid="conv-unread"]`)?.textContent === '1', convId, { timeout: 10000 });
		await tid(b, 'nav-chat-unread').waitFor({ state: 'visible' });
		assert.match(await bobItem.locator('[data-testid="conv-preview"]').innerText(), /plan is ready/, 'the preview shows the message');
		await shot(b, 'chat-02-bob-unread', { full: false });
		await bobItem.click();
		await msgWith(b, 'the plan is ready').waitFor({ state: 'visible' });
		await b.waitForFunction((id) => !document.querySelector(`[data-conv="${id}"] [data-testid="conv-unread"]`), convId, { timeout: 10000 });
		assert.equal(await tid(b, 'nav-chat-unread').count(), 0, 'reading clears the rail badge');

		// Typing indicator, then Bob's reply arrives at Alice live.
		await tid(b, 'composer-input').pressSequentially('Got it', { delay: 30 });
		await a.waitForFunction(() => (document.querySelector('[data-testid="chat-typing"]')?.textContent ?? '').includes('Bob Li'), null, { timeout: 10000 });
		await tid(b, 'composer-input').press('Enter');
		await msgWith(a, 'Got it').waitFor({ state: 'visible', timeout: 10000 });
		await a.waitForFunction(() => !(document.querySelector('[data-testid="chat-typing"]')?.textContent), null, { timeout: 10000 });

		// An attachment: uploaded in chunks, scanned, posted; both can download it.
		const text = 'Quarterly numbers\n'.repeat(200);
		await tid(a, 'composer-file').setInputFiles({ name: 'report.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
		await tid(a, 'upload-item').first().waitFor({ state: 'visible' });
		const fileMsg = (page) => page.locator('[data-testid="msg-file"]', { hasText: 'report.txt' });
		await fileMsg(a).waitFor({ state: 'visible', timeout: 30000 });
		await fileMsg(b).waitFor({ state: 'visible', timeout: 10000 });
		const href = await fileMsg(b).locator('[data-testid="msg-file-download"]').getAttribute('href');
		assert.match(href, /^\/api\/v1\/files\/\d+$/, 'a same-origin download link');
		const dl = await b.request.get(`${server.origin()}${href}`);
		assert.equal(dl.status(), 200);
		assert.equal(await dl.text(), text, 'bob downloads the same bytes');
		assert.match(dl.headers()['content-disposition'] || '', /^attachment/, 'served as a download');
		await shot(a, 'chat-03-attachment', { full: false });

		// The EICAR test file is refused by the virus scanner, with its signature.
		await tid(b, 'composer-file').setInputFiles({ name: 'eicar.txt', mimeType: 'text/plain', buffer: Buffer.from(EICAR) });
		const infected = b.locator('[data-testid="upload-item"][data-phase="infected"]');
		await infected.waitFor({ state: 'visible', timeout: 30000 });
		assert.match(await infected.locator('[data-testid="upload-status"]').innerText(), /EICAR/, 'the signature is shown');
		assert.equal(await b.locator('[data-testid="msg-file"]', { hasText: 'eicar.txt' }).count(), 0, 'no message for the infected file');
		await shot(b, 'chat-04-infected', { full: false });
		await tid(b, 'upload-dismiss').click();

		// A link goes through the warning page; Cancel keeps the user here.
		await input.fill('Details: [the site](https://example.com/a?b=1)');
		await input.press('Enter');
		const link = msgWith(b, 'Details').locator('.msg-link');
		await link.waitFor({ state: 'visible', timeout: 10000 });
		assert.equal(await link.getAttribute('href'), null, 'a link in a message has no href of its own');
		await link.click();
		await tid(b, 'link-warning').waitFor({ state: 'visible' });
		assert.equal((await tid(b, 'link-url').innerText()).trim(), 'https://example.com/a?b=1', 'the real destination is shown');
		assert.equal((await tid(b, 'link-host').innerText()).trim(), 'example.com');
		await tid(b, 'link-continue').waitFor({ state: 'visible' });
		await shot(b, 'chat-05-link-warning', { full: false });
		await tid(b, 'link-cancel').click();
		await tid(b, 'link-warning').waitFor({ state: 'detached' });
		assert.equal(b.context().pages().length, 1, 'no page was opened');

		// Search finds Bob's reply and opens the conversation at it.
		await tid(a, 'chat-search').fill('Got it');
		await tid(a, 'chat-search').press('Enter');
		const hit = a.locator(`[data-testid="search-result"][data-conv="${convId}"]`).first();
		await hit.waitFor({ state: 'visible', timeout: 10000 });
		await hit.click();
		await msgWith(a, 'Got it').waitFor({ state: 'visible' });
		await tid(a, 'chat-search').fill('');

		// Alice recalls her first message; Bob sees "message recalled" live.
		await first.hover();
		await first.locator('[data-testid="msg-more"]').click();
		await tid(a, 'menu-recall').click();
		await tid(a, 'confirm-ok').click();
		const recalledA = a.locator('[data-testid="msg-recalled"]');
		await recalledA.first().waitFor({ state: 'visible', timeout: 10000 });
		assert.equal((await recalledA.first().innerText()).trim(), EN['chat.recalledMine']);
		const recalledB = b.locator('[data-testid="msg-recalled"]');
		await recalledB.first().waitFor({ state: 'visible', timeout: 10000 });
		assert.equal((await recalledB.first().innerText()).trim(), fill(ZH['chat.recalledBy'], { name: 'Alice Wang' }), 'bob sees the recall live');
		assert.equal(await msgWith(b, 'the plan is ready').count(), 0, 'the recalled text is gone from bob\'s page');
		await shot(b, 'chat-06-recalled', { full: false });
		await shot(a, 'chat-07-alice', { full: false });

		// Nothing went wrong on either page (console, CSP, 5xx).
		ga.assertClean();
		gb.assertClean();
	});
});

test('the server shuts down cleanly (SIGTERM, no sanitizer report)', { timeout: 30000 }, async () => {
	await server.stop();
});
