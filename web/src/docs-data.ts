// docs-data.ts — shared pieces of the Documents pages (RG-DOC-g, RG-DOC-h):
// types, routes, the folder tree (built defensively from the flat list the
// server sends: a missing parent or a cycle makes a folder top-level),
// role names and the small dialogs every page uses (name a folder, rename,
// move).  No Quill here: this module is in the main bundle.
import { type Schemas, api } from './api';
import { h, nextId } from './dom';
import { type Key, t } from './i18n';
import { button, busy, errorText, openDialog, selectField, textField, toast } from './ui';

export type Doc = Schemas['Document'];
export type Folder = Schemas['Folder'];
export type DocRole = Schemas['DocRole'];
export type DocGrant = Schemas['DocGrant'];
export type DocVersion = Schemas['DocVersion'];
export type DocPolicy = Schemas['DocPolicy'];
export type DocLabel = Schemas['DocLabel'];
export type DocLink = Schemas['DocLink'];
export type DocComment = Schemas['DocComment'];

export const TITLE_MAX = 200;
export const FOLDER_MAX = 200;
export const LABEL_MAX = 200;

// ---- routes ----

export type DocsRoute =
	| { view: 'list'; folder: number }
	| { view: 'shared' }
	| { view: 'trash' }
	| { view: 'doc'; id: number }
	/** A share link being opened (#/docs/link/TOKEN). */
	| { view: 'link'; token: string };

export function parseDocsRoute(hash = location.hash): DocsRoute {
	const m = /^#\/?docs(?:\/(.*))?$/.exec(hash);
	const rest = (m?.[1] ?? '').split('?')[0];
	if (rest === 'trash') return { view: 'trash' };
	if (rest === 'shared') return { view: 'shared' };
	const link = /^link\/([A-Za-z0-9_-]{1,64})$/.exec(rest);
	if (link) return { view: 'link', token: link[1] };
	let x = /^f\/(\d{1,15})$/.exec(rest);
	if (x) return { view: 'list', folder: Number(x[1]) };
	x = /^(\d{1,15})$/.exec(rest);
	if (x && Number(x[1]) > 0) return { view: 'doc', id: Number(x[1]) };
	return { view: 'list', folder: 0 };
}

export function folderHref(id: number | null | undefined): string {
	return id ? `#/docs/f/${id}` : '#/docs';
}

export function docHref(id: number): string {
	return `#/docs/${id}`;
}

export function linkHref(token: string): string {
	return `#/docs/link/${token}`;
}

export const TRASH_HREF = '#/docs/trash';
export const SHARED_HREF = '#/docs/shared';

// ---- roles ----

const ROLE_RANK: Record<DocRole, number> = { viewer: 1, commenter: 2, editor: 3, owner: 4 };

export function roleAtLeast(role: DocRole | null | undefined, min: DocRole): boolean {
	return !!role && (ROLE_RANK[role] ?? 0) >= ROLE_RANK[min];
}

export function docRoleLabel(role: DocRole): string {
	return t(`docs.role.${role}` as Key);
}

// ---- folders ----

export interface FolderNode {
	folder: Folder;
	parent: FolderNode | null;
	children: FolderNode[];
	depth: number;
}

export interface FolderTree {
	byId: Map<number, FolderNode>;
	roots: FolderNode[];
	/** Depth first, siblings by name. */
	ordered: FolderNode[];
}

export function buildFolderTree(list: Folder[]): FolderTree {
	const byId = new Map<number, FolderNode>();
	for (const f of list) byId.set(f.id, { folder: f, parent: null, children: [], depth: 0 });
	const roots: FolderNode[] = [];
	for (const n of byId.values()) {
		const pid = n.folder.parent_id ?? 0;
		let p = pid ? byId.get(pid) ?? null : null;
		/* refuse cycles: walk up from the would-be parent (bounded by the count) */
		let cur = p;
		for (let i = 0; cur && i <= byId.size; i++) {
			if (cur === n) {
				p = null;
				break;
			}
			cur = cur.folder.parent_id ? byId.get(cur.folder.parent_id) ?? null : null;
		}
		n.parent = p;
		if (p) p.children.push(n);
		else roots.push(n);
	}
	const coll = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
	const sort = (a: FolderNode[]) => a.sort((x, y) => coll.compare(x.folder.name, y.folder.name));
	const ordered: FolderNode[] = [];
	const stack: FolderNode[] = [...sort(roots)].reverse();
	while (stack.length) {
		const n = stack.pop() as FolderNode;
		n.depth = n.parent ? n.parent.depth + 1 : 0;
		ordered.push(n);
		stack.push(...[...sort(n.children)].reverse());
	}
	return { byId, roots, ordered };
}

/** Folders from the top down to id (empty for the top level or an unknown folder). */
export function folderPath(tree: FolderTree, id: number): FolderNode[] {
	const out: FolderNode[] = [];
	let n = tree.byId.get(id) ?? null;
	for (let i = 0; n && i <= tree.byId.size; i++) {
		out.unshift(n);
		n = n.parent;
	}
	return out;
}

/** Whether a is b or inside b. */
export function isInside(tree: FolderTree, a: number, b: number): boolean {
	let n = tree.byId.get(a) ?? null;
	for (let i = 0; n && i <= tree.byId.size; i++) {
		if (n.folder.id === b) return true;
		n = n.parent;
	}
	return false;
}

export async function loadFolders(): Promise<FolderTree> {
	const r = await api('get', '/api/v1/folders');
	return buildFolderTree(r.folders);
}

// ---- names (owners, version authors, grants) ----

const NAMES_TTL_MS = 5 * 60_000;
let names: { at: number; map: Map<number, Schemas['UserRef']> } | null = null;
let namesLoading: Promise<Map<number, Schemas['UserRef']>> | null = null;

/** The tenant's people by id (GET /directory, first 200; kept 5 minutes). */
export function directory(): Promise<Map<number, Schemas['UserRef']>> {
	if (names && Date.now() - names.at < NAMES_TTL_MS) return Promise.resolve(names.map);
	if (!namesLoading) {
		namesLoading = api('get', '/api/v1/directory', { query: { limit: 200 } })
			.then((r) => {
				const map = new Map<number, Schemas['UserRef']>();
				for (const u of r.users) map.set(u.id, u);
				names = { at: Date.now(), map };
				return map;
			})
			.catch(() => names?.map ?? new Map<number, Schemas['UserRef']>())
			.finally(() => {
				namesLoading = null;
			});
	}
	return namesLoading;
}

/** Adds people learnt elsewhere (document peers) to the cache. */
export function learnName(u: Schemas['UserRef']): void {
	names?.map.set(u.id, u);
}

/** A person's name from the cache ("User #7" when unknown). */
export function personName(map: Map<number, Schemas['UserRef']>, id: number, fallback?: string | null): string {
	const u = map.get(id);
	if (u) return u.display_name || u.username;
	return fallback || t('docs.userN', { id });
}

// ---- small dialogs ----

/** Asks for a name (new folder, rename); resolves when saved, null when cancelled. */
export function nameDialog<T>(o: {
	title: string;
	label: string;
	value?: string;
	max: number;
	submit: string;
	testid: string;
	save(name: string): Promise<T>;
}): Promise<T | null> {
	return new Promise((resolve) => {
		let result: T | null = null;
		const f = textField({ label: o.label, value: o.value ?? '', maxLength: o.max, required: true, testid: `${o.testid}-input`, spellcheck: true });
		const formId = nextId('form');
		const form = h('form', { class: 'form', id: formId, attrs: { novalidate: true } }, f.wrap);
		const d = openDialog({ title: o.title, body: form, testid: o.testid, onClose: () => resolve(result) });
		const ok = button(o.submit, { kind: 'primary', type: 'submit', testid: `${o.testid}-submit` });
		ok.setAttribute('form', formId);
		d.footer.append(button(t('common.cancel'), { onClick: () => d.close() }), ok);
		const submit = async (ev?: Event) => {
			ev?.preventDefault();
			const name = f.input.value.trim();
			if (!name) {
				f.setError(t('form.required'));
				f.input.focus();
				return;
			}
			f.setError(null);
			try {
				result = await busy(ok, () => o.save(name));
				d.close();
			} catch (e) {
				f.setError(errorText(e));
			}
		};
		form.addEventListener('submit', (ev) => void submit(ev));
		f.input.focus();
		f.input.select();
	});
}

/** Picks a folder (select over the tree); resolves with the id (0 = top level) or null. */
export function moveDialog(o: {
	title: string;
	tree: FolderTree;
	current: number;
	/** A folder being moved: it and its sub-folders are not offered. */
	exclude?: number;
	save(folder: number): Promise<unknown>;
}): Promise<boolean> {
	return new Promise((resolve) => {
		let moved = false;
		const options = [{ value: '0', label: t('docs.topLevel') }];
		for (const n of o.tree.ordered) {
			if (o.exclude && isInside(o.tree, n.folder.id, o.exclude)) continue;
			options.push({ value: String(n.folder.id), label: `${'\u2003'.repeat(n.depth)}${n.folder.name}` });
		}
		const sel = selectField(t('docs.moveTo'), options, { testid: 'move-folder', value: String(o.current || 0) });
		const err = h('p', { class: 'field-error', hidden: true, attrs: { role: 'alert' } });
		const d = openDialog({ title: o.title, body: [sel.wrap, err], testid: 'move-dialog', onClose: () => resolve(moved) });
		const ok = button(t('docs.move'), {
			kind: 'primary',
			testid: 'move-submit',
			onClick: async () => {
				const target = Number(sel.input.value) || 0;
				if (target === (o.current || 0)) {
					d.close();
					return;
				}
				try {
					await busy(ok, () => o.save(target));
					moved = true;
					d.close();
				} catch (e) {
					err.textContent = errorText(e);
					err.hidden = false;
				}
			},
		});
		d.footer.append(button(t('common.cancel'), { onClick: () => d.close() }), ok);
		sel.input.focus();
	});
}

// ---- document actions shared by the list and the editor ----

export async function renameDoc(doc: Doc): Promise<Doc | null> {
	return nameDialog({
		title: t('docs.renameDoc'),
		label: t('docs.title'),
		value: doc.title,
		max: TITLE_MAX,
		submit: t('docs.rename'),
		testid: 'rename-dialog',
		save: async (title) => (await api('patch', '/api/v1/documents/{id}', { path: { id: doc.id }, body: { title } })).document,
	});
}

export async function moveDoc(doc: Doc, tree?: FolderTree): Promise<boolean> {
	const ft = tree ?? (await loadFolders());
	return moveDialog({
		title: t('docs.moveDoc', { title: doc.title }),
		tree: ft,
		current: doc.folder_id ?? 0,
		save: (folder) => api('patch', '/api/v1/documents/{id}', { path: { id: doc.id }, body: { folder_id: folder } }),
	});
}

export async function duplicateDoc(doc: Doc): Promise<Doc | null> {
	return nameDialog({
		title: t('docs.duplicate'),
		label: t('docs.copyTitle'),
		value: t('docs.copyOf', { title: doc.title }).slice(0, TITLE_MAX),
		max: TITLE_MAX,
		submit: t('docs.duplicate'),
		testid: 'duplicate-dialog',
		save: async (title) => (await api('post', '/api/v1/documents/{id}/duplicate', { path: { id: doc.id }, body: { title } })).document,
	});
}

/** Moves a document to the trash after asking; resolves true when it is there. */
export async function trashDoc(doc: Doc, confirm: (o: { title: string; message: string; confirm: string; danger?: boolean }) => Promise<boolean>): Promise<boolean> {
	const yes = await confirm({
		title: t('docs.deleteTitle'),
		message: t('docs.deleteMessage', { title: doc.title }),
		confirm: t('docs.toTrash'),
		danger: true,
	});
	if (!yes) return false;
	try {
		await api('delete', '/api/v1/documents/{id}', { path: { id: doc.id } });
		toast(t('docs.trashed', { title: doc.title }), 'success');
		return true;
	} catch (e) {
		toast(errorText(e), 'danger');
		return false;
	}
}
