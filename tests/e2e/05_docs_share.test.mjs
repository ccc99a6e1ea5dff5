// 05 — documents, continued, in the browser: Olivia imports a Markdown file
// as a new document and exports it again; she creates a share link for one
// named colleague (Nick) in the share dialog and copies it.  Oscar, who is
// not named, opens the link in his own browser and is told it is not for
// him — and the auditor's API shows the refused doc.link.open.  Nick
// (Simplified Chinese) opens it and lands in the document as a commenter;
// he selects text and comments on it, and the comment appears in Olivia's
// open editor, its text highlighted.  Olivia then classifies the document
// as confidential: the export entries become unavailable with the reason,
// the watermark appears, and Ctrl+C and Ctrl+P in the editor are blocked
// and reported — the audit has a denied doc.copy and doc.print.
// Requirement IDs: RG-DOC-b/c (operation audit: link use and refusal, copy
// and print attempts), RG-DOC-d (comments), RG-DOC-e/f (share links that
// never admit anyone outside their scope), RG-APP-h (watermark by label),
// RG-DATA-a/b (export and import, refused by label), WC-CLASS, WC-UI,
// WC-I18N, WC-CSP.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	EN,
	Server,
	ZH,
	launchBrowser,
	openSignIn,
	runFlow,
	shot,
	sleep,
	submitSignIn,
	tid,
} from './lib/harness.mjs';

let server;
let browser;
let auditor;
let olivia;
let nick;
let oscar;

before(async () => {
	server = await Server.start();
	const admin = await server.bootstrapAdmin('acme', server.byRole('sysadmin').username);
	auditor = await server.bootstrapAdmin('acme', server.byRole('auditadmin').username);
	olivia = await server.createUser(admin.ticket, 'acme', 'olivia', { display_name: 'Olivia Chen' });
	nick = await server.createUser(admin.ticket, 'acme', 'nick', { display_name: 'Nick Park' });
	oscar = await server.createUser(admin.ticket, 'acme', 'oscar', { display_name: 'Oscar Ruiz' });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.dispose();
});

async function signIn(page, acct) {
	await openSignIn(page, server);
	await submitSignIn(page, { username: acct.username, password: acct.password });
	await tid(page, 'nav-docs').waitFor({ state: 'visible' });
}

/** Audit records of one event (the auditor's API), newest first. */
function audits(event) {
	return server.audit(auditor.ticket, `event=${encodeURIComponent(event)}`);
}

/** Waits until the audit has a record of event that matches fn. */
async function auditHas(event, fn, what) {
	for (let i = 0; i < 50; i++) {
		if ((await audits(event)).some(fn)) return;
		await sleep(200);
	}
	assert.fail(`the audit has no ${event} record: ${what}`);
}

/** Selects the first occurrence of text in the open editor (a DOM range; Quill picks it up). */
async function selectText(page, text) {
	const ok = await page.evaluate((word) => {
		const root = document.querySelector('[data-testid="doc-editor"] [data-testid="doc-content"]');
		if (!root) return false;
		const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			const i = n.data.indexOf(word);
			if (i < 0) continue;
			const r = document.createRange();
			r.setStart(n, i);
			r.setEnd(n, i + word.length);
			const s = document.getSelection();
			s.removeAllRanges();
			s.addRange(r);
			return true;
		}
		return false;
	}, text);
	assert.ok(ok, `"${text}" is in the editor`);
	await sleep(100);    // Quill reads the selection on selectionchange (next tick)
}

const MARKDOWN = '# Launch plan\n\nWe ship the **beta** on Friday.\n\n- tests\n- docs\n\n> Keep it short.\n';

test('share link for one colleague, refusal for others, live comments, confidential label blocks export and copy', { timeout: 240000 }, async () => {
	await runFlow(server, browser, 'docs-share', async (ui) => {
		const ctxO = await ui.context();
		const ctxN = await ui.context({ locale: 'zh-CN' });
		const ctxX = await ui.context();
		const { page: o, guard: go } = await ui.page(ctxO, 'docs share (olivia)');
		const { page: n, guard: gn } = await ui.page(ctxN, 'docs share (nick)');
		const { page: x, guard: gx } = await ui.page(ctxX, 'docs share (oscar)');
		// answers the pages are built to show
		gx.allowed.push([403, /^\/api\/v1\/doc-links\/[A-Za-z0-9_-]+\/open$/]);
		go.allowed.push([403, /^\/api\/v1\/documents\/\d+\/export$/]);

		await signIn(o, olivia);
		await signIn(n, nick);
		await signIn(x, oscar);

		// Olivia imports a Markdown file: it becomes a document titled after the file.
		await tid(o, 'nav-docs').click();
		await tid(o, 'docs-empty').waitFor({ state: 'visible' });
		await tid(o, 'docs-new-toggle').click();
		await tid(o, 'docs-import').waitFor({ state: 'visible' });
		await tid(o, 'docs-import-file').setInputFiles({ name: 'Launch plan.md', mimeType: 'text/markdown', buffer: Buffer.from(MARKDOWN) });
		await tid(o, 'doc-editor').waitFor({ state: 'visible' });
		await o.waitForFunction(() => /^#\/docs\/\d+$/.test(location.hash));
		const docId = Number((await o.evaluate(() => location.hash)).split('/').pop());
		assert.equal(await tid(o, 'doc-title').inputValue(), 'Launch plan');
		await o.locator('[data-testid="doc-content"] h1', { hasText: 'Launch plan' }).waitFor({ state: 'visible' });
		await o.locator('[data-testid="doc-content"] strong', { hasText: 'beta' }).waitFor({ state: 'visible' });
		await o.locator('[data-testid="doc-content"] li', { hasText: 'docs' }).waitFor({ state: 'visible' });
		// an internal document: the label shows, no watermark, export allowed
		assert.equal(await tid(o, 'doc-label-select').inputValue(), 'internal');
		assert.equal(await tid(o, 'watermark').count(), 0, 'no watermark on an internal document');
		await tid(o, 'doc-menu-toggle').click();
		assert.equal(await tid(o, 'doc-export-md').getAttribute('aria-disabled'), null, 'export is offered');
		const [download] = await Promise.all([o.waitForEvent('download'), tid(o, 'doc-export-md').click()]);
		assert.equal(download.suggestedFilename(), 'Launch plan.md');
		const exported = await (async () => {
			const chunks = [];
			for await (const c of await download.createReadStream()) chunks.push(c);
			return Buffer.concat(chunks).toString('utf8');
		})();
		assert.match(exported, /^# Launch plan/m, 'the export is the document as Markdown');
		assert.match(exported, /\*\*beta\*\*/);
		await auditHas('doc.import', (r) => r.outcome === 'success', 'import');
		await auditHas('doc.export', (r) => r.outcome === 'success', 'export');

		// A share link for Nick only, as a commenter.
		await tid(o, 'doc-share').click();
		await tid(o, 'share-dialog').waitFor({ state: 'visible' });
		const links = tid(o, 'links-section');
		await links.waitFor({ state: 'visible' });
		await tid(o, 'link-empty').waitFor({ state: 'visible' });
		await tid(o, 'link-new-toggle').click();
		await tid(o, 'link-role').selectOption('commenter');
		assert.ok(await tid(o, 'link-scope-users').isChecked(), 'specific people is the default scope');
		await tid(o, 'link-people-search').fill('nick');
		await links.locator('[data-testid="people-item"][data-username="nick"]').click();
		await links.locator('[data-testid="people-item"][data-username="nick"][aria-pressed="true"]').waitFor({ state: 'visible' });
		await tid(o, 'link-create').click();
		await tid(o, 'link-url').waitFor({ state: 'visible' });
		const url = (await tid(o, 'link-url').innerText()).trim();
		assert.match(url, new RegExp(`^${server.origin().replace(/[.]/g, '\\.')}/#/docs/link/[A-Za-z0-9_-]{22}$`), `the link is shown once: ${url}`);
		const row = links.locator('[data-testid="link-row"]');
		await row.first().waitFor({ state: 'visible' });
		assert.equal(await row.count(), 1);
		assert.equal(await row.first().getAttribute('data-state'), 'active');
		assert.match(await row.first().innerText(), /Nick Park/);
		assert.match(await row.first().innerText(), new RegExp(EN['docs.role.commenter']));
		assert.ok(!(await row.first().innerText()).includes(url.split('/').pop()), 'the list does not show the token');
		await shot(o, 'docs-share-01-link-created', { full: false });
		await tid(o, 'share-cancel').click();
		await tid(o, 'share-dialog').waitFor({ state: 'detached' });

		// Oscar is not named: the link is not for him, and the refusal is audited.
		await x.goto(url);
		const refused = tid(x, 'link-open-msg');
		await refused.waitFor({ state: 'visible' });
		assert.equal(await refused.getAttribute('data-kind'), 'forbidden');
		assert.match(await refused.innerText(), new RegExp(EN['docs.linkOpen.notForYou'].replace(/[.]/g, '\\.')));
		await tid(x, 'link-open-back').waitFor({ state: 'visible' });
		await shot(x, 'docs-share-02-not-for-you', { full: false });
		await auditHas('doc.link.open', (r) => r.outcome === 'denied' && /out of scope/.test(JSON.stringify(r.detail)), 'oscar was refused');
		assert.equal((await x.request.get(`${server.origin()}/api/v1/documents/${docId}`)).status(), 404, 'oscar still cannot read it');

		// Nick opens it: he lands in the document as a commenter.
		await n.goto(url);
		await n.waitForFunction((id) => location.hash === `#/docs/${id}`, docId, { timeout: 15000 });
		await tid(n, 'doc-editor').waitFor({ state: 'visible' });
		await n.locator('[data-testid="doc-content"] h1', { hasText: 'Launch plan' }).waitFor({ state: 'visible' });
		await n.waitForFunction(() => document.querySelector('[data-testid="doc-status"]')?.dataset.state === 'saved');
		assert.match(await tid(n, 'doc-role').innerText(), new RegExp(ZH['docs.role.commenter']));
		assert.equal(await tid(n, 'doc-label').getAttribute('data-label'), 'internal', 'a commenter sees the label');
		await auditHas('doc.link.open', (r) => r.outcome === 'success', 'nick got in');

		// Nick comments on "beta".
		await selectText(n, 'beta');
		await n.waitForFunction(() => !document.querySelector('[data-testid="doc-comment-add"]')?.disabled);
		await tid(n, 'doc-comment-add').click();
		await tid(n, 'comments-panel').waitFor({ state: 'visible' });
		assert.equal((await tid(n, 'comment-draft-quote').innerText()).trim(), '“beta”');
		await tid(n, 'comment-body-input').fill('Which Friday? 哪个周五？');
		await tid(n, 'comment-submit').click();
		const nCard = n.locator('[data-testid="comment"]', { hasText: 'Which Friday?' });
		await nCard.waitFor({ state: 'visible' });
		assert.equal((await nCard.locator('[data-testid="comment-quote"]').innerText()).trim(), '“beta”');
		await shot(n, 'docs-share-03-nick-comment', { full: false });

		// It appears live in Olivia's editor, with its text highlighted.
		await tid(o, 'doc-comments-count').waitFor({ state: 'visible', timeout: 30000 });
		assert.equal((await tid(o, 'doc-comments-count').innerText()).trim(), '1');
		await tid(o, 'doc-comments').click();
		const oCard = o.locator('[data-testid="comment"]', { hasText: 'Which Friday?' });
		await oCard.waitFor({ state: 'visible' });
		assert.equal((await oCard.locator('[data-testid="comment-quote"]').innerText()).trim(), '“beta”');
		assert.match(await oCard.innerText(), /Nick Park/);
		await o.locator('[data-testid="doc-cursors"] g.doc-mark rect').first().waitFor({ state: 'attached' });
		// Olivia replies and resolves it; Nick sees the reply.
		await oCard.locator('[data-testid="comment-reply-open"]').click();
		await oCard.locator('[data-testid="reply-body"]').fill('The 14th.');
		await oCard.locator('[data-testid="reply-submit"]').click();
		await oCard.locator('[data-testid="comment-reply"]', { hasText: 'The 14th.' }).waitFor({ state: 'visible' });
		await shot(o, 'docs-share-04-olivia-comments', { full: false });
		await n.locator('[data-testid="comment-reply"]', { hasText: 'The 14th.' }).waitFor({ state: 'visible', timeout: 30000 });
		await auditHas('doc.comment.create', (r) => r.outcome === 'success', 'comment');

		// Olivia classifies it as confidential.
		await tid(o, 'doc-label-select').selectOption('confidential');
		await o.waitForFunction(() => document.querySelector('[data-testid="doc-label-select"]')?.getAttribute('data-label') === 'confidential');
		await tid(o, 'watermark').waitFor({ state: 'attached' });
		await auditHas('doc.classify', (r) => /confidential/.test(JSON.stringify(r.detail)), 'classified');
		// export is no longer offered, and says why
		await tid(o, 'doc-menu-toggle').click();
		await o.waitForFunction(() => document.querySelector('[data-testid="doc-export-md"]')?.getAttribute('aria-disabled') === 'true');
		assert.equal(await tid(o, 'doc-export-html').getAttribute('aria-disabled'), 'true');
		assert.equal((await tid(o, 'doc-export-md-hint').innerText()).trim(), EN['docs.export.noLabel'].replace('{label}', EN['docs.label.confidential']));
		await tid(o, 'doc-export-md').click({ force: true });    // does nothing
		await sleep(300);
		assert.equal(await tid(o, 'doc-export-toast').count(), 0, 'nothing was exported');
		assert.equal((await o.request.get(`${server.origin()}/api/v1/documents/${docId}/export?format=md`)).status(), 403, 'the server refuses it too');
		await shot(o, 'docs-share-05-confidential', { full: false });
		await o.keyboard.press('Escape');

		// Ctrl+C in the editor is blocked and reported.
		await o.click('[data-testid="doc-content"]');
		await selectText(o, 'ship');
		await o.keyboard.press('Control+c');
		await tid(o, 'doc-blocked-toast').first().waitFor({ state: 'visible' });
		assert.match(await tid(o, 'doc-blocked-toast').first().innerText(), /Copying is not allowed/);
		await auditHas('doc.copy', (r) => r.outcome === 'denied', 'blocked copy');
		// so is Ctrl+P (the print notice replaces the page in print media)
		await o.keyboard.press('Control+p');
		await auditHas('doc.print', (r) => r.outcome === 'denied', 'blocked print');
		assert.ok(await o.evaluate(() => document.body.classList.contains('doc-noprint')), 'printing shows the notice only');
		await o.emulateMedia({ media: 'print' });
		assert.equal(await tid(o, 'doc-editor').isVisible(), false, 'the document is hidden when printed');
		await o.emulateMedia({ media: 'screen' });
		await shot(o, 'docs-share-06-copy-blocked', { full: false });

		// Nick's editor follows the new label.
		await n.waitForFunction(() => document.querySelector('[data-testid="doc-label"]')?.getAttribute('data-label') === 'confidential', null, { timeout: 30000 });
		await tid(n, 'watermark').waitFor({ state: 'attached' });
		await shot(n, 'docs-share-07-nick-confidential', { full: false });

		go.assertClean('olivia');
		gn.assertClean('nick');
		gx.assertClean('oscar');
	});
});
