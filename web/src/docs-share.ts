// docs-share.ts — a document's permissions dialog (RG-DOC-h, RG-DOC-e/f):
// the grants (a person, a department — its members — or the whole
// organisation) with their roles, and for the owner the means to add,
// change and remove them and save them all at once (PUT replaces the list;
// the server audits before and after).  Everyone else sees the list
// read-only.  People come from the directory (the chat's people picker);
// departments only when the caller may list them (administrators);
// otherwise people and the whole organisation can still be granted.
// Below the grants, the owner manages share links (docs-links.ts); those
// take effect at once, independently of the grants' Save.
import { ApiError, type SessionInfo, api } from './api';
import { peoplePicker } from './chat-dialogs';
import { chatStore } from './chat-store';
import { type Doc, type DocGrant, type DocRole, directory, docRoleLabel, personName } from './docs-data';
import { linksSection } from './docs-links';
import type { Dept } from './depts';
import { buildDeptTree } from './depts';
import { h, nextId, replace } from './dom';
import { t } from './i18n';
import type { IconName } from './icons';
import { alertBox, badge, button, busy, errorText, icon, loading, openDialog, toast } from './ui';

/** Roles a grant can give (the owner is the document's owner, never a grant). */
type GrantRole = 'viewer' | 'commenter' | 'editor';
const GRANT_ROLES: GrantRole[] = ['viewer', 'commenter', 'editor'];

function grantRole(r: DocRole): GrantRole {
	return r === 'owner' ? 'editor' : r;
}
const MAX_GRANTS = 1000;

type Kind = DocGrant['kind'];

interface Row {
	kind: Kind;
	id: number;
	role: GrantRole;
	name: string;
}

function kindIcon(k: Kind): IconName {
	return k === 'user' ? 'user' : k === 'dept' ? 'dept' : 'users';
}

export function shareDialog(session: SessionInfo, doc: Doc): void {
	const owner = doc.my_role === 'owner';
	const rows: Row[] = [];
	let depts: Dept[] | null = null;
	let deptNames = new Map<number, string>();

	const listEl = h('ul', { class: 'share-list', testid: 'share-list', attrs: { 'aria-label': t('docs.share.who') } });
	const status = h('div', { class: 'share-status' }, loading());
	const err = alertBox('share-error');
	const live = h('p', { class: 'sr-only', attrs: { 'aria-live': 'polite', role: 'status' } });
	const addArea = h('div', { class: 'share-add', hidden: true });
	/* only administrators may list departments (GET /departments); others grant people and the organisation */
	const deptsP: Promise<Dept[] | null> =
		owner && (session.user.role === 'sysadmin' || session.user.role === 'secadmin')
			? api('get', '/api/v1/departments', { quiet401: true }).then(
					(r) => r.departments,
					(e: unknown) => (e instanceof ApiError && (e.status === 403 || e.status === 404) ? null : Promise.reject(e)),
				)
			: Promise.resolve(null);
	const d = openDialog({
		title: t('docs.share.title', { title: doc.title }),
		wide: true,
		testid: 'share-dialog',
		body: [
			owner ? h('p', { class: 'muted' }, t('docs.share.intro')) : h('p', { class: 'alert alert-info', testid: 'share-readonly' }, icon('lock'), h('span', null, t('docs.share.readonly'))),
			h('h3', { class: 'sub-title' }, t('docs.share.who')),
			status,
			listEl,
			addArea,
			err.el,
			live,
			owner ? linksSection({ session, doc, depts: deptsP }) : null,
		],
	});
	const save = owner
		? button(t('docs.share.save'), {
				kind: 'primary',
				testid: 'share-save',
				onClick: () =>
					void busy(save as HTMLButtonElement, async () => {
						err.set(null);
						try {
							const grants = rows.map((r) => ({ kind: r.kind, id: r.kind === 'tenant' ? 0 : r.id, role: r.role }));
							await api('put', '/api/v1/documents/{id}/permissions', { path: { id: doc.id }, body: { grants } });
							toast(t('docs.share.saved'), 'success');
							d.close();
						} catch (e) {
							err.set(errorText(e));
						}
					}),
			})
		: null;
	d.footer.append(button(owner ? t('common.cancel') : t('common.close'), { testid: 'share-cancel', onClick: () => d.close() }), ...(save ? [save] : []));

	function rowName(kind: Kind, id: number, people: Map<number, { id: number; username: string; display_name: string | null }>, given?: string): string {
		if (kind === 'tenant') return t('docs.share.everyone', { org: session.tenant.name });
		if (kind === 'dept') return given || deptNames.get(id) || t('docs.share.deptN', { id });
		return given || personName(people, id);
	}

	function draw(): void {
		const focusKey = listEl.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
		replace(
			listEl,
			h(
				'li',
				{ class: 'share-row share-row-owner', testid: 'share-owner' },
				icon('user', 'icon share-kind'),
				h('span', { class: 'share-name' }, doc.owner === session.user.id ? t('docs.you') : ownerName),
				badge(docRoleLabel('owner'), 'brand'),
			),
			rows.map((r, i) => {
				const key = `${r.kind}:${r.id}`;
				const selId = nextId('role');
				const roleCtl = owner
					? h(
							'select',
							{
								id: selId,
								class: 'input input-sm share-role',
								testid: 'share-role',
								attrs: { 'aria-label': t('docs.share.roleFor', { name: r.name }), 'data-key': key },
								on: {
									change: (ev) => {
										r.role = grantRole((ev.target as HTMLSelectElement).value as DocRole);
									},
								},
							},
							GRANT_ROLES.map((x) => h('option', { value: x }, docRoleLabel(x))),
						)
					: badge(docRoleLabel(r.role), 'neutral');
				if (roleCtl instanceof HTMLSelectElement) roleCtl.value = r.role;
				return h(
					'li',
					{ class: 'share-row', testid: 'share-grant', attrs: { 'data-kind': r.kind, 'data-id': r.id, 'data-name': r.name } },
					icon(kindIcon(r.kind), 'icon share-kind'),
					h('span', { class: 'share-name' }, r.name, r.kind === 'dept' ? h('span', { class: 'muted share-kind-text' }, ` · ${t('docs.share.dept')}`) : null),
					roleCtl,
					owner
						? h(
								'button',
								{
									type: 'button',
									class: 'btn btn-ghost btn-icon',
									testid: 'share-remove',
									title: t('docs.share.remove', { name: r.name }),
									attrs: { 'aria-label': t('docs.share.remove', { name: r.name }), 'data-key': `rm:${key}` },
									on: {
										click: () => {
											rows.splice(i, 1);
												draw();
											drawAdd();
											(listEl.querySelector<HTMLElement>('[data-testid="share-remove"]') ?? addArea.querySelector<HTMLElement>('input, select, button'))?.focus();
										},
									},
								},
								icon('x'),
							)
						: null,
				);
			}),
		);
		if (focusKey) listEl.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
	}

	function add(kind: Kind, id: number, name: string): void {
		const existing = rows.find((r) => r.kind === kind && r.id === id);
		if (existing) {
			listEl.querySelector<HTMLElement>(`[data-key="${CSS.escape(`${kind}:${id}`)}"]`)?.focus();
			return;
		}
		if (rows.length >= MAX_GRANTS) {
			err.set(t('docs.share.tooMany'));
			return;
		}
		rows.push({ kind, id, name, role: 'viewer' });
		draw();
		drawAdd();
		listEl.querySelector<HTMLElement>(`[data-key="${CSS.escape(`${kind}:${id}`)}"]`)?.focus();
		live.textContent = t('docs.share.added', { name });
	}

	function drawAdd(): void {
		if (!owner) return;
		addArea.hidden = false;
		const store = chatStore(session);
		const picker = peoplePicker(store, {
			multi: false,
			exclude: new Set([doc.owner, ...rows.filter((r) => r.kind === 'user').map((r) => r.id)]),
			testid: 'share-people-search',
			onPick: (u) => add('user', u.id, u.display_name || u.username),
		});
		const parts: HTMLElement[] = [h('div', { class: 'share-add-people' }, h('h3', { class: 'sub-title' }, t('docs.share.addPerson')), picker.el)];
		const more: HTMLElement[] = [];
		if (depts && depts.length) {
			const tree = buildDeptTree(depts);
			const selId = nextId('dept');
			const sel = h(
				'select',
				{ id: selId, class: 'input', testid: 'share-dept-select' },
				tree.ordered.map((n) => h('option', { value: String(n.dept.id) }, `${'\u2003'.repeat(n.depth)}${n.dept.name}`)),
			);
			more.push(
				h(
					'div',
					{ class: 'share-add-dept' },
					h('label', { class: 'field-label', htmlFor: selId }, t('docs.share.addDept')),
					h(
						'div',
						{ class: 'field-row' },
						sel,
						button(t('docs.share.add'), {
							small: true,
							icon: 'plus',
							testid: 'share-add-dept',
							onClick: () => {
								const id = Number(sel.value);
								const n = tree.byId.get(id);
								if (n) add('dept', id, n.path.join(' / ') || n.dept.name);
							},
						}),
					),
				),
			);
		}
		const hasTenant = rows.some((r) => r.kind === 'tenant');
		more.push(
			h(
				'div',
				{ class: 'share-add-org' },
				button(t('docs.share.addEveryone', { org: session.tenant.name }), {
					small: true,
					icon: 'users',
					testid: 'share-add-tenant',
					disabled: hasTenant,
					onClick: () => add('tenant', 0, t('docs.share.everyone', { org: session.tenant.name })),
				}),
				depts === null ? h('p', { class: 'field-hint' }, t('docs.share.noDepts')) : null,
			),
		);
		parts.push(h('div', { class: 'share-add-more' }, more));
		replace(addArea, parts);
	}

	let ownerName = '';
	Promise.all([
		api('get', '/api/v1/documents/{id}/permissions', { path: { id: doc.id } }),
		directory(),
		deptsP,
	])
		.then(([perm, people, dl]) => {
			if (!d.dialog.isConnected) return;
			depts = dl;
			if (dl) {
				const tree = buildDeptTree(dl);
				deptNames = new Map(tree.ordered.map((n) => [n.dept.id, n.path.join(' / ') || n.dept.name]));
			}
			ownerName = personName(people, doc.owner, doc.owner_name);
			for (const g of perm.grants) {
				if (g.kind === 'user' && g.id === doc.owner && g.role === 'owner') continue;
				rows.push({ kind: g.kind, id: g.kind === 'tenant' ? 0 : g.id, role: grantRole(g.role), name: rowName(g.kind, g.id, people, g.name) });
			}
			replace(status);
			draw();
			drawAdd();
		})
		.catch((e: unknown) => {
			const a = alertBox();
			a.set(errorText(e));
			replace(status, a.el);
		});
}
