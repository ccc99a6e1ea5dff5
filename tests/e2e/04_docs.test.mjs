// 04 — collaborative documents in the browser: Alice (English) creates a
// folder and a document, writes in it, saves a named version and shares it
// with Bob (Simplified Chinese) as an editor through the share dialog.  Both
// have the document open; each sees the other in the presence list and
// Bob's caret is drawn in Alice's editor.  They type at the same time at
// different places (Alice at the end, Bob at the start), Alice makes her
// line bold, and both editors converge to the same text, which is also the
// server's content.  Bob restores the earlier version from the history
// panel and Alice's editor follows without a reload.  Finally Alice (the
// owner) moves the document to the trash — Bob's editor says it is gone —
// and restores it from the trash.  A second flow stops the server while
// both keep typing and starts it again: the edits made offline reach the
// server and both editors converge (the reconnect path of docs-sync.ts).
// Requirement IDs: RG-DOC-a (content only through the real server, sealed
// there), RG-DOC-g (versions, trash and restore), RG-DOC-h (sharing and
// roles: the editor's toolbar, 404 for a trashed document), RG-APP-h
// (watermark over the editor), WC-UI, WC-I18N, WC-CSP.

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
let alice;
let bob;

before(async () => {
	server = await Server.start();
	const admin = await server.bootstrapAdmin('acme', server.byRole('sysadmin').username);
	alice = await server.createUser(admin.ticket, 'acme', 'alice', { display_name: 'Alice Wang' });
	bob = await server.createUser(admin.ticket, 'acme', 'bob', { display_name: 'Bob Li' });
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

/** The editor's text as Quill holds it: one line per block, each ending in "\n". */
function editorText(page) {
	return page.evaluate(() => {
		const root = document.querySelector('[data-testid="doc-editor"] [data-testid="doc-content"]');
		if (!root) return null;
		const blocks = root.querySelectorAll('p, h1, h2, h3, li, blockquote, .ql-code-block');
		return [...blocks].map((b) => `${b.textContent}\n`).join('');
	});
}

/** The document's text on the server (GET /documents/{id} through the page's session). */
async function serverText(page, id) {
	const r = await page.request.get(`${server.origin()}/api/v1/documents/${id}`);
	assert.equal(r.status(), 200, 'the document can be read');
	const j = await r.json();
	return j.content.ops.map((op) => (typeof op.insert === 'string' ? op.insert : '')).join('');
}

function waitSaved(page, timeout = 15000) {
	return page.waitForFunction(() => document.querySelector('[data-testid="doc-status"]')?.dataset.state === 'saved', null, { timeout });
}

const docRow = (page, title) => page.locator(`[data-testid="docs-item"][data-kind="doc"][data-name="${title}"]`);

test('two people co-edit a document: share, presence, concurrent typing, version restore, trash', { timeout: 240000 }, async () => {
	await runFlow(server, browser, 'docs', async (ui) => {
		const ctxA = await ui.context();
		const ctxB = await ui.context({ locale: 'zh-CN' });
		const { page: a, guard: ga } = await ui.page(ctxA, 'docs (alice)');
		const { page: b, guard: gb } = await ui.page(ctxB, 'docs (bob)');

		await signIn(a, alice);
		await signIn(b, bob);
		assert.equal((await tid(a, 'nav-docs').innerText()).trim(), EN['nav.docs']);
		assert.equal((await tid(b, 'nav-docs').innerText()).trim(), ZH['nav.docs'], 'the rail is in Chinese for bob');

		// Alice: a folder, and a new document in it.
		await tid(a, 'nav-docs').click();
		await tid(a, 'docs-empty').waitFor({ state: 'visible' });
		await tid(a, 'docs-new-toggle').click();
		await tid(a, 'docs-new-folder').click();
		await tid(a, 'folder-dialog-input').fill('Planning');
		await tid(a, 'folder-dialog-submit').click();
		const folder = a.locator('[data-testid="docs-item"][data-kind="folder"][data-name="Planning"]');
		await folder.waitFor({ state: 'visible' });
		await folder.locator('[data-testid="docs-item-open"]').click();
		await a.waitForFunction(() => /^#\/docs\/f\/\d+$/.test(location.hash));
		const folderId = Number((await a.evaluate(() => location.hash)).split('/').pop());
		await tid(a, 'docs-empty').waitFor({ state: 'visible' });
		await tid(a, 'docs-new-toggle').click();
		await tid(a, 'docs-new-doc').click();
		await tid(a, 'doc-editor').waitFor({ state: 'visible' });
		await a.waitForFunction(() => /^#\/docs\/\d+$/.test(location.hash));
		const docId = Number((await a.evaluate(() => location.hash)).split('/').pop());
		await waitSaved(a);
		assert.equal(await a.evaluate(() => document.activeElement?.dataset.testid), 'doc-title', 'a new document starts in its title');
		await tid(a, 'doc-title').fill('Q3 plan');
		await tid(a, 'doc-title').press('Enter');            // saves the title, moves into the text
		await a.keyboard.type('Goals\nShip the editor.', { delay: 10 });
		await waitSaved(a);
		assert.equal(await editorText(a), 'Goals\nShip the editor.\n');
		assert.equal(await serverText(a, docId), 'Goals\nShip the editor.\n', 'the server holds what was typed');
		assert.equal(await tid(a, 'watermark').count(), 0, 'an internal document carries no watermark by default');
		await tid(a, 'doc-toolbar').waitFor({ state: 'visible' });

		// A named version of this text.
		await tid(a, 'doc-history').click();
		await tid(a, 'history-panel').waitFor({ state: 'visible' });
		await tid(a, 'history-save-label').fill('First draft');
		await tid(a, 'history-save').click();
		await a.locator('[data-testid="history-item"]', { hasText: 'First draft' }).waitFor({ state: 'visible' });
		await tid(a, 'history-close').click();
		await tid(a, 'history-panel').waitFor({ state: 'detached' });

		// Share with Bob as an editor through the dialog (people picker, role select).
		await tid(a, 'doc-share').click();
		await tid(a, 'share-dialog').waitFor({ state: 'visible' });
		await tid(a, 'share-people-search').fill('bob');
		await a.locator('[data-testid="people-item"][data-username="bob"]').click();
		const grant = a.locator(`[data-testid="share-grant"][data-kind="user"][data-id="${bob.id}"]`);
		await grant.waitFor({ state: 'visible' });
		await grant.locator('[data-testid="share-role"]').selectOption('editor');
		await shot(a, 'docs-01-share-dialog', { full: false });
		await tid(a, 'share-save').click();
		await tid(a, 'share-dialog').waitFor({ state: 'detached' });
		const perms = await (await a.request.get(`${server.origin()}/api/v1/documents/${docId}/permissions`)).json();
		assert.deepEqual(perms.grants, [{ kind: 'user', id: bob.id, role: 'editor' }], 'the grant was saved');

		// Bob finds it under "Shared with me" and in the folder, and opens it: same text, and he may edit.
		await tid(b, 'nav-docs').click();
		await tid(b, 'docs-shared-link').click();
		await tid(b, 'docs-shared-page').waitFor({ state: 'visible' });
		await docRow(b, 'Q3 plan').waitFor({ state: 'visible' });
		await tid(b, 'crumb').first().click();
		await b.locator('[data-testid="docs-item"][data-kind="folder"][data-name="Planning"] [data-testid="docs-item-open"]').click();
		await b.waitForFunction((f) => location.hash === `#/docs/f/${f}`, folderId);
		await docRow(b, 'Q3 plan').waitFor({ state: 'visible' });
		await docRow(b, 'Q3 plan').locator('[data-testid="docs-item-open"]').click();
		await tid(b, 'doc-editor').waitFor({ state: 'visible' });
		await waitSaved(b);
		assert.equal(await tid(b, 'doc-title').inputValue(), 'Q3 plan');
		assert.equal(await editorText(b), 'Goals\nShip the editor.\n', 'bob sees alice\'s text');
		await tid(b, 'doc-toolbar').waitFor({ state: 'visible' });
		assert.equal(await tid(b, 'doc-role').innerText(), '', 'an editor is not marked view-only');

		// Presence both ways, and Bob's caret in Alice's editor.
		await a.locator(`[data-testid="doc-peer"][data-user="${bob.id}"]`).waitFor({ state: 'visible', timeout: 10000 });
		await b.locator(`[data-testid="doc-peer"][data-user="${alice.id}"]`).waitFor({ state: 'visible', timeout: 10000 });
		await b.click('[data-testid="doc-content"]');
		await b.keyboard.press('Control+Home');
		await a.locator(`[data-testid="doc-cursors"] g[data-user="${bob.id}"]`).waitFor({ state: 'attached', timeout: 10000 });
		await a.waitForFunction((u) => document.querySelector(`[data-testid="doc-cursors"] g[data-user="${u}"]`)?.dataset.index === '0', bob.id, { timeout: 10000 });

		// Both type at the same time, at different places.
		await a.click('[data-testid="doc-content"]');
		await a.keyboard.press('Control+End');
		await a.keyboard.press('Enter');
		await b.keyboard.press('Control+Home');
		await Promise.all([
			a.keyboard.type('Alice was here.', { delay: 25 }),
			b.keyboard.type('Bob first. ', { delay: 25 }),
		]);
		await waitSaved(a);
		await waitSaved(b);
		const want = 'Bob first. Goals\nShip the editor.\nAlice was here.\n';
		for (let i = 0; i < 50 && ((await editorText(a)) !== want || (await editorText(b)) !== want); i++) await sleep(200);
		assert.equal(await editorText(a), want, 'alice\'s editor has both edits');
		assert.equal(await editorText(b), want, 'bob\'s editor converged to the same text');
		assert.equal(await serverText(a, docId), want, 'and so has the server');

		// Formatting travels too: Alice makes her line bold.
		await a.keyboard.press('Shift+Home');
		await tid(a, 'tb-bold').click();
		assert.equal(await tid(a, 'tb-bold').getAttribute('aria-pressed'), 'true');
		await b.locator('[data-testid="doc-content"] strong', { hasText: 'Alice was here.' }).waitFor({ state: 'visible', timeout: 10000 });
		await waitSaved(a);
		await shot(a, 'docs-02-alice-coediting', { full: false });
		await shot(b, 'docs-03-bob-coediting', { full: false });

		// Bob restores the first draft; Alice's editor follows without a reload.
		await tid(b, 'doc-history').click();
		const draft = b.locator('[data-testid="history-item"]', { hasText: 'First draft' });
		await draft.waitFor({ state: 'visible' });
		await draft.locator('[data-testid="history-preview"]').click();
		await tid(b, 'history-preview-dialog').waitFor({ state: 'visible' });
		await b.locator('[data-testid="history-preview-text"]', { hasText: 'Ship the editor.' }).waitFor({ state: 'visible' });
		assert.equal(await b.locator('[data-testid="history-preview-text"]', { hasText: 'Alice was here.' }).count(), 0, 'the preview shows the old text');
		await shot(b, 'docs-04-version-preview', { full: false });
		await tid(b, 'history-preview-restore').click();
		await tid(b, 'confirm-ok').click();
		const old = 'Goals\nShip the editor.\n';
		await a.waitForFunction((w) => {
			const root = document.querySelector('[data-testid="doc-content"]');
			const blocks = root ? root.querySelectorAll('p, h1, h2, h3, li, blockquote, .ql-code-block') : [];
			return [...blocks].map((x) => `${x.textContent}\n`).join('') === w;
		}, old, { timeout: 15000 });
		for (let i = 0; i < 50 && (await editorText(b)) !== old; i++) await sleep(200);
		assert.equal(await editorText(b), old, 'bob sees the restored version');
		await waitSaved(a);
		await waitSaved(b);
		assert.equal(await serverText(a, docId), old, 'the restored text is the current revision');
		await tid(b, 'history-close').click();

		// The owner moves it to the trash; Bob's editor says it is gone.
		await tid(a, 'doc-menu-toggle').click();
		await tid(a, 'doc-delete').click();
		await tid(a, 'confirm-ok').click();
		await a.waitForFunction((f) => location.hash === `#/docs/f/${f}`, folderId);
		await tid(a, 'docs-empty').waitFor({ state: 'visible' });
		await tid(b, 'doc-banner').waitFor({ state: 'visible', timeout: 10000 });
		assert.equal((await tid(b, 'doc-banner').innerText()).trim(), ZH['docs.n.gone']);
		await b.waitForFunction(() => document.querySelector('[data-testid="doc-status"]')?.dataset.state === 'error');
		assert.equal(await b.locator('[data-testid="doc-content"][contenteditable="true"]').count(), 0, 'bob can no longer type');
		assert.equal((await b.request.get(`${server.origin()}/api/v1/documents/${docId}`)).status(), 404, 'a trashed document is not readable by others');
		await shot(b, 'docs-05-bob-gone', { full: false });

		// ... and restores it from the trash.
		await tid(a, 'docs-trash-link').click();
		const trashed = a.locator(`[data-testid="trash-item"][data-id="${docId}"]`);
		await trashed.waitFor({ state: 'visible' });
		assert.equal(await tid(a, 'trash-purge').count(), 0, 'only a security administrator may delete for good');
		await shot(a, 'docs-06-trash', { full: false });
		await trashed.locator('[data-testid="trash-restore"]').click();
		await tid(a, 'trash-empty').waitFor({ state: 'visible' });
		await a.goto(`${server.origin()}/#/docs/f/${folderId}`);
		await docRow(a, 'Q3 plan').waitFor({ state: 'visible' });
		await docRow(a, 'Q3 plan').locator('[data-testid="docs-item-open"]').click();
		await waitSaved(a);
		assert.equal(await editorText(a), old, 'the restored document kept its content');

		ga.assertClean('alice');
		gb.assertClean('bob');
	});
});

test('edits typed while the server is down are sent after it comes back, and both editors converge', { timeout: 180000 }, async () => {
	await runFlow(server, browser, 'docs-reconnect', async (ui) => {
		const ctxA = await ui.context();
		const ctxB = await ui.context();
		const { page: a, guard: ga } = await ui.page(ctxA, 'docs reconnect (alice)');
		const { page: b, guard: gb } = await ui.page(ctxB, 'docs reconnect (bob)');
		await signIn(a, alice);
		await signIn(b, bob);

		// Alice creates a document and shares it with Bob over the API (her page's session).
		const session = await (await a.request.get(`${server.origin()}/api/v1/auth/session`)).json();
		const headers = { 'X-CSRF-Token': session.csrf_token };
		let r = await a.request.post(`${server.origin()}/api/v1/documents`, { data: { title: 'Offline notes' }, headers });
		assert.equal(r.status(), 201);
		const docId = (await r.json()).document.id;
		r = await a.request.put(`${server.origin()}/api/v1/documents/${docId}/permissions`, { data: { grants: [{ kind: 'user', id: bob.id, role: 'editor' }] }, headers });
		assert.equal(r.status(), 200);

		for (const p of [a, b]) {
			await p.goto(`${server.origin()}/#/docs/${docId}`);
			await waitSaved(p);
		}
		await a.click('[data-testid="doc-content"]');
		await a.keyboard.type('First line.', { delay: 10 });
		await waitSaved(a);
		for (let i = 0; i < 50 && (await editorText(b)) !== 'First line.\n'; i++) await sleep(100);
		assert.equal(await editorText(b), 'First line.\n');

		// The server stops; both go on typing (Alice at the start, Bob at the end).
		const port = server.port;
		await server.stop();
		for (const p of [a, b])
			await p.waitForFunction(() => document.querySelector('[data-testid="doc-status"]')?.dataset.state === 'offline', null, { timeout: 15000 });
		await a.keyboard.press('Control+Home');
		await a.keyboard.type('Alice offline. ', { delay: 10 });
		await b.click('[data-testid="doc-content"]');
		await b.keyboard.press('Control+End');
		await b.keyboard.type(' Bob offline.', { delay: 10 });
		assert.equal(await editorText(a), 'Alice offline. First line.\n', 'typing goes on offline');
		await shot(a, 'docs-07-offline', { full: false });

		// It comes back (same port, same data): both reconnect and converge.
		await server.spawnOn(port);
		await waitSaved(a, 60000);
		await waitSaved(b, 60000);
		const want = 'Alice offline. First line. Bob offline.\n';
		for (let i = 0; i < 50 && ((await editorText(a)) !== want || (await editorText(b)) !== want); i++) await sleep(200);
		assert.equal(await editorText(a), want, 'alice has both offline edits');
		assert.equal(await editorText(b), want, 'bob has both offline edits');
		assert.equal(await serverText(a, docId), want, 'the server has them too');

		// While the server was down the browser could not connect: those failures are expected.
		const outage = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to/;
		for (const g of [ga, gb]) g.problems = g.problems.filter((x) => !outage.test(x));
		ga.assertClean('alice');
		gb.assertClean('bob');
	});
});
