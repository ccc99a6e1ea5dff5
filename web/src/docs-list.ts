// docs-list.ts — the Documents list (RG-DOC-g, RG-DOC-h): folders with a
// breadcrumb, the folder's sub-folders and the documents the caller may
// read, with create / rename / move / duplicate / delete (to the trash);
// "Shared with me" (every document of others the caller may read, in
// whatever folder it is);
// "Import Markdown" (a .md file of at most 64 KiB becomes a new document,
// titled after the file);
// and the Trash (restore; "delete forever" only for security
// administrators, whom the server alone lets purge).  Every row is a link
// plus an actions menu reachable by keyboard (a <details> disclosure, Esc
// closes it).  What the caller may do follows my_role; the server checks
// every call again.
import { ApiError, type SessionInfo, api } from './api';
import {
	type Doc,
	type Folder,
	type FolderTree,
	TITLE_MAX,
	FOLDER_MAX,
	SHARED_HREF,
	TRASH_HREF,
	directory,
	docHref,
	docRoleLabel,
	duplicateDoc,
	folderHref,
	folderPath,
	loadFolders,
	moveDialog,
	moveDoc,
	nameDialog,
	personName,
	renameDoc,
	roleAtLeast,
	trashDoc,
} from './docs-data';
import { h, nextId, replace } from './dom';
import { fmtAgo, fmtTime, t } from './i18n';
import type { IconName } from './icons';
import { alertBox, badge, button, confirmDialog, errorText, icon, loading, toast } from './ui';

/** The largest Markdown file (and request) the server takes. */
const IMPORT_MAX = 64 * 1024;

export interface ListCtx {
	session: SessionInfo;
	/** Is the page still on screen (menus stop listening when not). */
	alive(): boolean;
}

// ---- the actions menu of a row ----

export interface MenuItem {
	label: string;
	icon: IconName;
	testid: string;
	danger?: boolean;
	/** Shown but not usable; hint says why (read by screen readers too). */
	disabled?: boolean;
	hint?: string;
	run(): void;
}

/** A ⋯ menu (details/summary: keyboard and screen-reader friendly without script state). */
export function actionsMenu(label: string, items: MenuItem[], ctx: { alive(): boolean }, testid = 'row-menu'): HTMLElement {
	const menu = h(
		'details',
		{ class: 'dropdown docs-menu', testid },
		h('summary', { class: 'btn btn-ghost btn-icon', testid: `${testid}-toggle`, attrs: { 'aria-label': label, title: label } }, icon('more')),
		h(
			'div',
			{ class: 'dropdown-menu', attrs: { role: 'group', 'aria-label': label } },
			items.map((it) => {
				const hintId = it.hint ? nextId('mh') : undefined;
				return h(
					'button',
					{
						type: 'button',
						class: ['menu-item', it.danger && 'menu-item-danger', it.hint && 'menu-item-hinted'],
						testid: it.testid,
						title: it.hint,
						/* aria-disabled, not disabled: it stays focusable so the reason is read out */
						attrs: { 'aria-describedby': hintId, 'aria-disabled': it.disabled ? 'true' : null },
						on: {
							click: () => {
								if (it.disabled) return;
								menu.open = false;
								it.run();
							},
						},
					},
					icon(it.icon, 'icon icon-sm'),
					h('span', { class: 'menu-item-text' }, h('span', null, it.label), it.hint ? h('span', { class: 'menu-item-hint', id: hintId, testid: `${it.testid}-hint` }, it.hint) : null),
				);
			}),
		),
	);
	menu.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape' && menu.open) {
			ev.stopPropagation();
			menu.open = false;
			menu.querySelector('summary')?.focus();
		}
	});
	menu.addEventListener('toggle', () => {
		if (!menu.open) return;
		menu.querySelector<HTMLElement>('.menu-item')?.focus();
		const outside = (ev: PointerEvent) => {
			if (!ctx.alive() || !menu.open || !menu.contains(ev.target as Node)) {
				menu.open = false;
				document.removeEventListener('pointerdown', outside);
			}
		};
		document.addEventListener('pointerdown', outside);
	});
	return menu;
}

// ---- the folder view ----

/** A folder's contents, or (shared) the documents of others the caller may read. */
export function docsList(ctx: ListCtx, folderId: number, shared = false): HTMLElement {
	const me = ctx.session.user;
	const crumbs = h('nav', { class: 'docs-crumbs', testid: 'docs-crumbs', attrs: { 'aria-label': t('docs.breadcrumb') } });
	const body = h('div', { class: 'docs-body', attrs: { 'aria-live': 'polite', 'aria-busy': 'true' } }, loading());
	let tree: FolderTree | null = null;
	let gen = 0;

	const newMenu = h(
		'details',
		{ class: 'dropdown', testid: 'docs-new' },
		h('summary', { class: 'btn btn-primary btn-sm', testid: 'docs-new-toggle', attrs: { 'aria-label': t('docs.new') } }, icon('plus'), h('span', { class: 'btn-label' }, t('docs.newShort'))),
		h(
			'div',
			{ class: 'dropdown-menu', attrs: { role: 'group', 'aria-label': t('docs.new') } },
			h(
				'button',
				{ type: 'button', class: 'menu-item', testid: 'docs-new-doc', on: { click: () => { newMenu.open = false; void newDocument(); } } },
				icon('docPlus', 'icon icon-sm'),
				h('span', null, t('docs.newDoc')),
			),
			h(
				'button',
				{ type: 'button', class: 'menu-item', testid: 'docs-new-folder', on: { click: () => { newMenu.open = false; void newFolder(); } } },
				icon('folderPlus', 'icon icon-sm'),
				h('span', null, t('docs.newFolder')),
			),
			h(
				'button',
				{ type: 'button', class: 'menu-item', testid: 'docs-import', on: { click: () => { newMenu.open = false; importInput.click(); } } },
				icon('upload', 'icon icon-sm'),
				h('span', null, t('docs.import.menu')),
			),
		),
	);
	/* the file picker of "Import Markdown" (a hidden input; the menu item opens it) */
	const importInput = h('input', {
		type: 'file',
		class: 'offscreen',
		testid: 'docs-import-file',
		tabIndex: -1,
		attrs: { accept: '.md,.markdown,.txt,text/markdown,text/plain', 'aria-hidden': 'true' },
		on: {
			change: () => {
				const f = importInput.files?.[0];
				importInput.value = '';
				if (f) void importMarkdown(f);
			},
		},
	});
	newMenu.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape' && newMenu.open) {
			newMenu.open = false;
			newMenu.querySelector('summary')?.focus();
		}
	});
	newMenu.addEventListener('toggle', () => {
		if (!newMenu.open) return;
		newMenu.querySelector<HTMLElement>('.menu-item')?.focus();
		const outside = (ev: PointerEvent) => {
			if (!newMenu.contains(ev.target as Node)) {
				newMenu.open = false;
				document.removeEventListener('pointerdown', outside);
			}
		};
		document.addEventListener('pointerdown', outside);
	});

	const head = h(
		'div',
		{ class: 'docs-head' },
		crumbs,
		h(
			'div',
			{ class: 'docs-head-actions' },
			shared ? null : newMenu,
			shared ? null : importInput,
			shared ? null : h('a', { class: 'btn btn-secondary btn-sm', href: SHARED_HREF, testid: 'docs-shared-link' }, icon('users'), h('span', { class: 'btn-label' }, t('docs.shared'))),
			h('a', { class: 'btn btn-secondary btn-sm', href: TRASH_HREF, testid: 'docs-trash-link' }, icon('trash'), h('span', { class: 'btn-label' }, t('docs.trash'))),
		),
	);
	const root = h('div', { class: 'docs-page', testid: shared ? 'docs-shared-page' : 'docs-list-page' }, head, body);

	function drawCrumbs(): void {
		if (shared) {
			replace(
				crumbs,
				h('ol', null, h('li', null, h('a', { href: folderHref(0), testid: 'crumb' }, t('docs.all'))), h('li', null, icon('chevronRight', 'icon icon-sm docs-crumb-sep'), h('span', { attrs: { 'aria-current': 'page' }, testid: 'crumb' }, t('docs.shared')))),
			);
			return;
		}
		const path = tree ? folderPath(tree, folderId) : [];
		const items: HTMLElement[] = [
			h('li', null, path.length ? h('a', { href: folderHref(0), testid: 'crumb' }, t('docs.all')) : h('span', { attrs: { 'aria-current': 'page' }, testid: 'crumb' }, t('docs.all'))),
		];
		path.forEach((n, i) => {
			const last = i === path.length - 1;
			items.push(
				h(
					'li',
					null,
					icon('chevronRight', 'icon icon-sm docs-crumb-sep'),
					last
						? h('span', { attrs: { 'aria-current': 'page' }, testid: 'crumb' }, n.folder.name)
						: h('a', { href: folderHref(n.folder.id), testid: 'crumb' }, n.folder.name),
				),
			);
		});
		replace(crumbs, h('ol', null, items));
	}

	async function load(): Promise<void> {
		const mine = ++gen;
		body.setAttribute('aria-busy', 'true');
		try {
			const [ft, docs, people] = await Promise.all([
				loadFolders(),
				/* no folder: every document the caller may read, in any folder */
				api('get', '/api/v1/documents', { query: shared ? {} : { folder: folderId } }),
				directory(),
			]);
			if (mine !== gen) return;
			tree = ft;
			drawCrumbs();
			if (!shared && folderId && !ft.byId.has(folderId)) {
				replace(body, h('div', { class: 'docs-empty' }, h('p', null, t('docs.folderGone')), h('a', { class: 'btn btn-secondary btn-sm', href: folderHref(0) }, t('docs.backToAll'))));
				return;
			}
			const node = folderId ? ft.byId.get(folderId) : null;
			const folders = shared ? [] : node ? node.children : ft.roots;
			const coll = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
			const list = shared ? docs.documents.filter((d) => d.owner !== me.id) : docs.documents;
			const sorted = [...list].sort((a, b) => b.updated_at - a.updated_at || coll.compare(a.title, b.title));
			const rows: HTMLElement[] = [
				...folders.map((n) => folderRow(n.folder)),
				...sorted.map((d) => docRow(d, personName(people, d.owner, d.owner_name))),
			];
			if (!rows.length && shared) {
				replace(body, h('div', { class: 'docs-empty', testid: 'docs-empty' }, icon('users', 'icon docs-empty-icon'), h('p', { class: 'docs-empty-title' }, t('docs.sharedEmpty'))));
				return;
			}
			if (!rows.length) {
				replace(
					body,
					h(
						'div',
						{ class: 'docs-empty', testid: 'docs-empty' },
						icon('doc', 'icon docs-empty-icon'),
						h('p', { class: 'docs-empty-title' }, folderId ? t('docs.emptyFolder') : t('docs.emptyAll')),
						h(
							'div',
							{ class: 'btn-row' },
							button(t('docs.newDoc'), { kind: 'primary', icon: 'docPlus', testid: 'docs-empty-new', onClick: () => void newDocument() }),
							button(t('docs.newFolder'), { icon: 'folderPlus', onClick: () => void newFolder() }),
						),
					),
				);
				return;
			}
			replace(
				body,
				h(
					'div',
					{ class: 'docs-table', attrs: { role: 'table', 'aria-label': t('docs.contents') } },
					h(
						'div',
						{ class: 'docs-row docs-row-head', attrs: { role: 'row' } },
						h('span', { attrs: { role: 'columnheader' } }, t('docs.col.name')),
						h('span', { class: 'docs-col-owner', attrs: { role: 'columnheader' } }, t('docs.col.owner')),
						h('span', { class: 'docs-col-updated', attrs: { role: 'columnheader' } }, t('docs.col.updated')),
						h('span', { class: 'sr-only', attrs: { role: 'columnheader' } }, t('common.actions')),
					),
					h('div', { class: 'docs-rows', testid: 'docs-list', attrs: { role: 'rowgroup' } }, rows),
				),
			);
		} catch (e) {
			if (mine !== gen) return;
			const a = alertBox();
			a.set(errorText(e));
			replace(body, a.el, button(t('common.retry'), { icon: 'refresh', small: true, onClick: () => void load() }));
		} finally {
			if (mine === gen) body.removeAttribute('aria-busy');
		}
	}

	function folderRow(f: Folder): HTMLElement {
		return h(
			'div',
			{ class: 'docs-row', testid: 'docs-item', attrs: { role: 'row', 'data-kind': 'folder', 'data-id': f.id, 'data-name': f.name } },
			h(
				'span',
				{ class: 'docs-cell-name', attrs: { role: 'cell' } },
				h('a', { class: 'docs-link', href: folderHref(f.id), testid: 'docs-item-open' }, icon('folder', 'icon docs-kind docs-kind-folder'), h('span', { class: 'docs-name' }, f.name), h('span', { class: 'sr-only' }, ` (${t('docs.folder')})`)),
			),
			h('span', { class: 'docs-col-owner muted', attrs: { role: 'cell' } }, '—'),
			h('span', { class: 'docs-col-updated muted', attrs: { role: 'cell' } }, fmtTime(f.created_at)),
			h(
				'span',
				{ class: 'docs-cell-actions', attrs: { role: 'cell' } },
				actionsMenu(t('docs.actionsFor', { name: f.name }), [
					{ label: t('docs.rename'), icon: 'edit', testid: 'folder-rename', run: () => void renameFolder(f) },
					{ label: t('docs.move'), icon: 'move', testid: 'folder-move', run: () => void moveFolder(f) },
					{ label: t('docs.deleteFolder'), icon: 'trash', testid: 'folder-delete', danger: true, run: () => void deleteFolder(f) },
				], ctx),
			),
		);
	}

	function docRow(d: Doc, owner: string): HTMLElement {
		const items: MenuItem[] = [];
		if (roleAtLeast(d.my_role, 'editor')) {
			items.push({ label: t('docs.rename'), icon: 'edit', testid: 'doc-rename', run: () => void renameDoc(d).then((x) => x && void load()) });
			items.push({ label: t('docs.move'), icon: 'move', testid: 'doc-move', run: () => void moveDoc(d, tree ?? undefined).then((x) => x && void load()) });
		}
		items.push({
			label: t('docs.duplicate'),
			icon: 'copy',
			testid: 'doc-duplicate',
			run: () =>
				void duplicateDoc(d).then((x) => {
					if (x) {
						toast(t('docs.duplicated', { title: x.title }), 'success');
						void load();
					}
				}),
		});
		if (d.my_role === 'owner') {
			items.push({ label: t('docs.toTrash'), icon: 'trash', testid: 'doc-delete', danger: true, run: () => void trashDoc(d, confirmDialog).then((x) => x && void load()) });
		}
		return h(
			'div',
			{ class: 'docs-row', testid: 'docs-item', attrs: { role: 'row', 'data-kind': 'doc', 'data-id': d.id, 'data-name': d.title } },
			h(
				'span',
				{ class: 'docs-cell-name', attrs: { role: 'cell' } },
				h(
					'a',
					{ class: 'docs-link', href: docHref(d.id), testid: 'docs-item-open' },
					icon('doc', 'icon docs-kind docs-kind-doc'),
					h('span', { class: 'docs-name' }, d.title || t('docs.untitled')),
					d.my_role !== 'owner' ? badge(docRoleLabel(d.my_role), 'neutral') : null,
				),
				h('span', { class: 'docs-sub muted' }, `${d.owner === me.id ? t('docs.you') : owner} · ${fmtAgo(d.updated_at)}`),
			),
			h('span', { class: 'docs-col-owner', attrs: { role: 'cell' } }, d.owner === me.id ? t('docs.you') : owner),
			h('span', { class: 'docs-col-updated', attrs: { role: 'cell', title: fmtTime(d.updated_at) } }, fmtAgo(d.updated_at)),
			h('span', { class: 'docs-cell-actions', attrs: { role: 'cell' } }, actionsMenu(t('docs.actionsFor', { name: d.title }), items, ctx)),
		);
	}

	async function newDocument(): Promise<void> {
		try {
			const r = await api('post', '/api/v1/documents', { body: { title: t('docs.untitled').slice(0, TITLE_MAX), folder_id: folderId || undefined } });
			location.hash = `${docHref(r.document.id)}?new=1`;
		} catch (e) {
			toast(errorText(e), 'danger');
		}
	}

	/** POST /documents/import with the file's text; the title is the file's name without its extension. */
	async function importMarkdown(f: File): Promise<void> {
		if (f.size > IMPORT_MAX) {
			toast(t('docs.import.tooLarge', { max: '64 KiB' }), 'danger', 'docs-import-error');
			return;
		}
		let markdown: string;
		try {
			markdown = await f.text();
		} catch {
			toast(t('docs.import.unreadable'), 'danger', 'docs-import-error');
			return;
		}
		const title = (f.name.replace(/\.(md|markdown|txt)$/i, '').trim() || t('docs.untitled')).slice(0, TITLE_MAX);
		const body = { title, markdown, folder_id: folderId || undefined };
		/* the server takes at most 64 KiB of JSON: escaping can make a file near the limit too large */
		if (new TextEncoder().encode(JSON.stringify(body)).length > IMPORT_MAX) {
			toast(t('docs.import.tooLarge', { max: '64 KiB' }), 'danger', 'docs-import-error');
			return;
		}
		try {
			const r = await api('post', '/api/v1/documents/import', { body });
			toast(t('docs.import.done', { title: r.document.title }), 'success');
			location.hash = docHref(r.document.id);
		} catch (e) {
			toast(errorText(e), 'danger', 'docs-import-error');
		}
	}

	async function newFolder(): Promise<void> {
		const f = await nameDialog({
			title: t('docs.newFolder'),
			label: t('docs.folderName'),
			max: FOLDER_MAX,
			submit: t('docs.create'),
			testid: 'folder-dialog',
			save: async (name) => (await api('post', '/api/v1/folders', { body: { name, parent_id: folderId || undefined } })).folder,
		});
		if (f) void load();
	}

	async function renameFolder(f: Folder): Promise<void> {
		const x = await nameDialog({
			title: t('docs.renameFolder'),
			label: t('docs.folderName'),
			value: f.name,
			max: FOLDER_MAX,
			submit: t('docs.rename'),
			testid: 'folder-dialog',
			save: async (name) => (await api('patch', '/api/v1/folders/{id}', { path: { id: f.id }, body: { name } })).folder,
		});
		if (x) void load();
	}

	async function moveFolder(f: Folder): Promise<void> {
		const ft = tree ?? (await loadFolders());
		const moved = await moveDialog({
			title: t('docs.moveFolder', { name: f.name }),
			tree: ft,
			current: f.parent_id ?? 0,
			exclude: f.id,
			save: (parent) => api('patch', '/api/v1/folders/{id}', { path: { id: f.id }, body: { parent_id: parent } }),
		});
		if (moved) void load();
	}

	async function deleteFolder(f: Folder): Promise<void> {
		const yes = await confirmDialog({ title: t('docs.deleteFolder'), message: t('docs.deleteFolderMessage', { name: f.name }), confirm: t('docs.deleteFolder'), danger: true });
		if (!yes) return;
		try {
			await api('delete', '/api/v1/folders/{id}', { path: { id: f.id } });
			toast(t('docs.folderDeleted', { name: f.name }), 'success');
			void load();
		} catch (e) {
			toast(e instanceof ApiError && (e.code === 'not_empty' || e.status === 409) ? t('docs.folderNotEmpty') : errorText(e), 'warning');
		}
	}

	drawCrumbs();
	void load();
	return root;
}

// ---- the trash ----

export function docsTrash(ctx: ListCtx): HTMLElement {
	const secadmin = ctx.session.user.role === 'secadmin';
	const body = h('div', { class: 'docs-body', attrs: { 'aria-busy': 'true' } }, loading());
	const root = h(
		'div',
		{ class: 'docs-page', testid: 'docs-trash' },
		h(
			'div',
			{ class: 'docs-head' },
			h(
				'nav',
				{ class: 'docs-crumbs', attrs: { 'aria-label': t('docs.breadcrumb') } },
				h('ol', null, h('li', null, h('a', { href: folderHref(0) }, t('docs.all'))), h('li', null, icon('chevronRight', 'icon icon-sm docs-crumb-sep'), h('span', { attrs: { 'aria-current': 'page' } }, t('docs.trash')))),
			),
		),
		h('p', { class: 'muted docs-trash-note' }, secadmin ? t('docs.trashNoteSec') : t('docs.trashNote')),
		body,
	);
	let gen = 0;

	async function load(): Promise<void> {
		const mine = ++gen;
		try {
			const r = await api('get', '/api/v1/documents', { query: { trash: 1 } });
			if (mine !== gen) return;
			if (!r.documents.length) {
				replace(body, h('div', { class: 'docs-empty', testid: 'trash-empty' }, icon('trash', 'icon docs-empty-icon'), h('p', { class: 'docs-empty-title' }, t('docs.trashEmpty'))));
				return;
			}
			const docs = [...r.documents].sort((a, b) => (b.deleted_at ?? 0) - (a.deleted_at ?? 0));
			replace(
				body,
				h(
					'ul',
					{ class: 'trash-list', testid: 'trash-list', attrs: { 'aria-label': t('docs.trash') } },
					docs.map((d) => trashRow(d)),
				),
			);
		} catch (e) {
			if (mine !== gen) return;
			const a = alertBox();
			a.set(errorText(e));
			replace(body, a.el, button(t('common.retry'), { icon: 'refresh', small: true, onClick: () => void load() }));
		} finally {
			if (mine === gen) body.removeAttribute('aria-busy');
		}
	}

	function trashRow(d: Doc): HTMLElement {
		const restore = button(t('docs.restore'), {
			small: true,
			icon: 'recall',
			testid: 'trash-restore',
			onClick: async () => {
				try {
					restore.disabled = true;
					await api('post', '/api/v1/documents/{id}/restore', { path: { id: d.id } });
					toast(t('docs.restored', { title: d.title }), 'success');
					void load();
				} catch (e) {
					restore.disabled = false;
					toast(errorText(e), 'danger');
				}
			},
		});
		const purge = secadmin
			? button(t('docs.purge'), {
					small: true,
					kind: 'danger',
					icon: 'trash',
					testid: 'trash-purge',
					onClick: async () => {
						const yes = await confirmDialog({ title: t('docs.purgeTitle'), message: t('docs.purgeMessage', { title: d.title }), confirm: t('docs.purge'), danger: true });
						if (!yes) return;
						try {
							await api('delete', '/api/v1/documents/{id}/purge', { path: { id: d.id } });
							toast(t('docs.purged', { title: d.title }), 'success');
							void load();
						} catch (e) {
							toast(errorText(e), 'danger');
						}
					},
				})
			: null;
		return h(
			'li',
			{ class: 'trash-item', testid: 'trash-item', attrs: { 'data-id': d.id, 'data-name': d.title } },
			icon('doc', 'icon docs-kind docs-kind-doc'),
			h(
				'span',
				{ class: 'trash-text' },
				h('span', { class: 'docs-name' }, d.title || t('docs.untitled')),
				h(
					'span',
					{ class: 'muted docs-sub-always' },
					t('docs.deletedAt', { time: fmtTime(d.deleted_at ?? 0) }),
					d.purge_after ? ` · ${t('docs.purgeAfter', { time: fmtTime(d.purge_after) })}` : '',
				),
			),
			h('span', { class: 'btn-row trash-actions' }, restore, purge),
		);
	}

	void load();
	return root;
}
