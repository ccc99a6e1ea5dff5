// docs-links.ts — share links (RG-DOC-e/f, RG-DOC-h; docs/collab.md):
//  - linksSection(): the owner's part of the share dialog: create a link
//    (role; scope: named people, departments — when the caller may list
//    them —, everyone in the organisation, or guests, refused with the
//    reason when the label or the organisation's policy does not allow it;
//    optional expiry, password and "no download"), shown once with a Copy
//    button (the server stores only a hash of the token), and the list of
//    the document's links with their scope, role, expiry and state, each
//    revocable;
//  - linkOpenPage(): #/docs/link/TOKEN — opens a link for the signed-in
//    user (POST /doc-links/{token}/open), asks for the password when the
//    link has one, and says plainly when the link is not for this user,
//    expired or was revoked, or does not exist; on success it goes to the
//    document.  A link never admits anyone who is not signed in: the app
//    shows the sign-in first and keeps the hash.
import { ApiError, type SessionInfo, api } from './api';
import { peoplePicker } from './chat-dialogs';
import { chatStore } from './chat-store';
import { labelText, loadPolicy } from './docs-classify';
import { type Doc, type DocLink, type DocRole, directory, docHref, docRoleLabel, folderHref, personName } from './docs-data';
import { type Dept, buildDeptTree } from './depts';
import { h, nextId, replace } from './dom';
import { fmtTime, t } from './i18n';
import type { IconName } from './icons';
import { alertBox, badge, button, busy, checkbox, confirmDialog, errorText, icon, loading, passwordField, secretValue, selectField, toast } from './ui';

type Scope = DocLink['scope'];
type LinkRole = 'viewer' | 'commenter' | 'editor';
const LINK_ROLES: LinkRole[] = ['viewer', 'commenter', 'editor'];
const IDS_MAX = 200;
const PASSWORD_MAX = 128;
const NAMES_SHOWN = 3;

function scopeIcon(s: Scope): IconName {
	return s === 'users' ? 'user' : s === 'depts' ? 'dept' : s === 'tenant' ? 'users' : 'globe';
}

/** "2025-01-31T17:00" (datetime-local) for a unix time, in local time. */
function localInput(unix: number): string {
	const d = new Date(unix * 1000);
	const p = (n: number) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// ---- the owner's links (inside the share dialog) ----

export function linksSection(o: { session: SessionInfo; doc: Doc; depts: Promise<Dept[] | null> }): HTMLElement {
	const { session, doc } = o;
	const listEl = h('ul', { class: 'link-list', testid: 'link-list', attrs: { 'aria-label': t('docs.links.existing') } }, h('li', null, loading()));
	const created = h('div', { class: 'link-created', hidden: true, testid: 'link-created', attrs: { role: 'status' } });
	const form = h('div', { class: 'link-form' });
	const newBox = h(
		'details',
		{ class: 'link-new', testid: 'link-new' },
		h('summary', { class: 'btn btn-secondary btn-sm', testid: 'link-new-toggle' }, icon('link'), h('span', { class: 'btn-label' }, t('docs.links.create'))),
		form,
	);
	const headId = nextId('links');
	const el = h(
		'section',
		{ class: 'links', testid: 'links-section', attrs: { 'aria-labelledby': headId } },
		h('h3', { class: 'sub-title', id: headId }, t('docs.links.title')),
		h('p', { class: 'muted' }, t('docs.links.intro')),
		created,
		newBox,
		listEl,
	);

	let depts: Dept[] | null = null;
	let deptNames = new Map<number, string>();
	let people = new Map<number, { id: number; username: string; display_name: string | null }>();
	/** Why guests cannot be chosen ('' when they may be tried). */
	let guestsWhy = '';

	// ---- the list ----

	function scopeText(l: DocLink): string {
		if (l.scope === 'tenant') return t('docs.share.everyone', { org: session.tenant.name });
		if (l.scope === 'guests') return t('docs.links.scope.guests');
		const names = l.ids.map((id) => (l.scope === 'users' ? personName(people, id) : deptNames.get(id) || t('docs.share.deptN', { id })));
		const shown = names.slice(0, NAMES_SHOWN).join(', ');
		return names.length > NAMES_SHOWN ? t('docs.links.andMore', { names: shown, n: names.length - NAMES_SHOWN }) : shown;
	}

	function state(l: DocLink): 'active' | 'revoked' | 'expired' {
		if (l.revoked_at) return 'revoked';
		if (l.expires_at && l.expires_at * 1000 <= Date.now()) return 'expired';
		return 'active';
	}

	function row(l: DocLink): HTMLElement {
		const st = state(l);
		const meta: string[] = [];
		meta.push(l.expires_at ? (st === 'expired' ? t('docs.links.expiredAt', { time: fmtTime(l.expires_at) }) : t('docs.links.expiresAt', { time: fmtTime(l.expires_at) })) : t('docs.links.noExpiry'));
		if (l.password) meta.push(t('docs.links.withPassword'));
		if (l.no_download) meta.push(t('docs.links.noDownload'));
		meta.push(t('docs.links.createdAt', { time: fmtTime(l.created_at) }));
		const scopeName = scopeText(l);
		const revoke =
			st === 'active'
				? button(t('docs.links.revoke'), {
						small: true,
						kind: 'ghost',
						icon: 'x',
						testid: 'link-revoke',
						onClick: async () => {
							const yes = await confirmDialog({ title: t('docs.links.revokeTitle'), message: t('docs.links.revokeMessage', { scope: scopeName }), confirm: t('docs.links.revoke'), danger: true });
							if (!yes) return;
							try {
								await api('delete', '/api/v1/doc-links/{id}', { path: { id: l.id } });
								toast(t('docs.links.revoked'), 'success');
								await reload();
								(listEl.querySelector<HTMLElement>('[data-testid="link-revoke"]') ?? newBox.querySelector('summary'))?.focus();
							} catch (e) {
								toast(errorText(e), 'danger');
							}
						},
					})
				: null;
		if (revoke) revoke.setAttribute('aria-label', t('docs.links.revokeFor', { scope: scopeName }));
		return h(
			'li',
			{ class: ['link-row', st !== 'active' && 'is-inactive'], testid: 'link-row', attrs: { 'data-id': l.id, 'data-state': st, 'data-scope': l.scope } },
			icon(scopeIcon(l.scope), 'icon share-kind'),
			h(
				'span',
				{ class: 'link-text' },
				h('span', { class: 'link-scope-name', testid: 'link-scope-name' }, scopeName),
				h('span', { class: 'link-meta muted' }, meta.join(' · ')),
			),
			badge(docRoleLabel(l.role), 'neutral'),
			st === 'active' ? null : badge(st === 'revoked' ? t('docs.links.stateRevoked') : t('docs.links.stateExpired'), st === 'revoked' ? 'danger' : 'warning', 'link-state'),
			revoke,
		);
	}

	async function reload(): Promise<void> {
		try {
			const r = await api('get', '/api/v1/documents/{id}/links', { path: { id: doc.id } });
			if (!r.links.length) {
				replace(listEl, h('li', { class: 'muted link-empty', testid: 'link-empty' }, t('docs.links.none')));
				return;
			}
			const order = { active: 0, expired: 1, revoked: 2 };
			const sorted = [...r.links].sort((a, b) => order[state(a)] - order[state(b)] || b.created_at - a.created_at);
			replace(listEl, sorted.map(row));
		} catch (e) {
			const a = alertBox();
			a.set(errorText(e));
			replace(listEl, h('li', null, a.el));
		}
	}

	// ---- the form ----

	function drawForm(): void {
		const roleSel = selectField(
			t('docs.links.role'),
			LINK_ROLES.map((r) => ({ value: r, label: docRoleLabel(r) })),
			{ testid: 'link-role', value: 'viewer' },
		);
		const err = alertBox('link-error');
		const groupName = nextId('scope');
		const scopes: { value: Scope; label: string; why: string }[] = [
			{ value: 'users', label: t('docs.links.scope.users'), why: '' },
			{ value: 'depts', label: t('docs.links.scope.depts'), why: depts && depts.length ? '' : t('docs.links.deptsOnlyAdmin') },
			{ value: 'tenant', label: t('docs.share.everyone', { org: session.tenant.name }), why: '' },
			{ value: 'guests', label: t('docs.links.scope.guests'), why: guestsWhy },
		];
		const radios = new Map<Scope, HTMLInputElement>();
		const whyEls = new Map<Scope, HTMLElement>();
		const scopeBox = h(
			'fieldset',
			{ class: 'link-scopes' },
			h('legend', { class: 'field-label' }, t('docs.links.scope')),
			scopes.map((s) => {
				const id = nextId('sc');
				const input = h('input', { type: 'radio', id, name: groupName, value: s.value, testid: `link-scope-${s.value}`, disabled: !!s.why, checked: s.value === 'users' });
				radios.set(s.value, input);
				const why = h('span', { class: 'field-hint', id: `${id}-why`, hidden: !s.why, testid: `link-scope-${s.value}-why` }, s.why);
				whyEls.set(s.value, why);
				input.setAttribute('aria-describedby', `${id}-why`);
				input.addEventListener('change', drawTarget);
				return h('div', { class: 'check link-scope' }, input, h('label', { htmlFor: id }, s.label, why));
			}),
		);

		// who: people or departments
		const store = chatStore(session);
		const picker = peoplePicker(store, { multi: true, testid: 'link-people-search' });
		const chosenDepts = new Map<number, string>();
		const deptChips = h('ul', { class: 'people-chips', hidden: true, attrs: { 'aria-label': t('docs.links.chosenDepts') } });
		const drawDeptChips = () => {
			replace(
				deptChips,
				[...chosenDepts.entries()].map(([id, name]) =>
					h(
						'li',
						{ class: 'people-chip' },
						h('span', null, name),
						h(
							'button',
							{
								type: 'button',
								class: 'btn btn-ghost btn-icon',
								attrs: { 'aria-label': t('docs.share.remove', { name }) },
								on: {
									click: () => {
										chosenDepts.delete(id);
										drawDeptChips();
									},
								},
							},
							icon('x', 'icon icon-sm'),
						),
					),
				),
			);
			deptChips.hidden = chosenDepts.size === 0;
		};
		let deptPart: HTMLElement | null = null;
		if (depts && depts.length) {
			const tree = buildDeptTree(depts);
			const selId = nextId('dept');
			const sel = h(
				'select',
				{ id: selId, class: 'input', testid: 'link-dept-select' },
				tree.ordered.map((n) => h('option', { value: String(n.dept.id) }, `${'\u2003'.repeat(n.depth)}${n.dept.name}`)),
			);
			deptPart = h(
				'div',
				{ class: 'link-depts' },
				h('label', { class: 'field-label', htmlFor: selId }, t('docs.share.addDept')),
				h(
					'div',
					{ class: 'field-row' },
					sel,
					button(t('docs.share.add'), {
						small: true,
						icon: 'plus',
						testid: 'link-dept-add',
						onClick: () => {
							const id = Number(sel.value);
							const n = tree.byId.get(id);
							if (n && chosenDepts.size < IDS_MAX) chosenDepts.set(id, n.path.join(' / ') || n.dept.name);
							drawDeptChips();
						},
					}),
				),
				deptChips,
			);
		}
		const target = h('div', { class: 'link-target' });
		function scope(): Scope {
			for (const [v, r] of radios) if (r.checked) return v;
			return 'users';
		}
		function drawTarget(): void {
			const s = scope();
			replace(target, s === 'users' ? picker.el : s === 'depts' ? deptPart : null);
			target.hidden = s !== 'users' && s !== 'depts';
		}
		drawTarget();

		const expires = h('input', { type: 'datetime-local', class: 'input', id: nextId('exp'), testid: 'link-expires', min: localInput(Date.now() / 1000 + 60) });
		const expiresWrap = h(
			'div',
			{ class: 'field' },
			h('label', { class: 'field-label', htmlFor: expires.id }, t('docs.links.expires')),
			expires,
			h('p', { class: 'field-hint' }, t('docs.links.expiresHint')),
		);
		const pw = passwordField({ label: t('docs.links.password'), testid: 'link-password', maxLength: PASSWORD_MAX, autocomplete: 'new-password', hint: t('docs.links.passwordHint') });
		const noDl = checkbox(t('docs.links.noDownloadLabel'), { testid: 'link-nodownload', hint: t('docs.links.noDownloadHint') });
		const create = button(t('docs.links.createBtn'), { kind: 'primary', small: true, icon: 'link', testid: 'link-create' });

		create.addEventListener('click', () =>
			void busy(create, async () => {
				err.set(null);
				const s = scope();
				const body: {
					role: LinkRole;
					scope: Scope;
					ids?: number[];
					expires_at?: number;
					password?: string;
					no_download?: boolean;
				} = { role: roleSel.input.value as LinkRole, scope: s };
				if (s === 'users') {
					const ids = picker.selected().map((u) => u.id);
					if (!ids.length) {
						err.set(t('docs.links.needPeople'));
						picker.focus();
						return;
					}
					body.ids = ids.slice(0, IDS_MAX);
				} else if (s === 'depts') {
					if (!chosenDepts.size) {
						err.set(t('docs.links.needDepts'));
						return;
					}
					body.ids = [...chosenDepts.keys()].slice(0, IDS_MAX);
				}
				if (expires.value) {
					const at = Math.floor(new Date(expires.value).getTime() / 1000);
					if (!Number.isFinite(at) || at * 1000 <= Date.now()) {
						err.set(t('docs.links.expiryPast'));
						expires.focus();
						return;
					}
					body.expires_at = at;
				}
				if (pw.input.value) body.password = pw.input.value;
				if (noDl.input.checked) body.no_download = true;
				try {
					const r = await api('post', '/api/v1/documents/{id}/links', { path: { id: doc.id }, body });
					pw.input.value = '';
					showCreated(`${location.origin}${r.link.url.startsWith('/') ? '' : '/'}${r.link.url}`, body);
					newBox.open = false;
					/* a fresh form the next time it is opened */
					replace(form);
					await reload();
				} catch (e) {
					if (e instanceof ApiError && e.code === 'label_forbids') {
						/* the label allows guests (checked first), so the organisation's policy does not */
						guestsWhy = guestsWhy || t('docs.links.guestsPolicy');
						const g = radios.get('guests');
						if (g) {
							g.disabled = true;
							g.checked = false;
						}
						const w = whyEls.get('guests');
						if (w) {
							w.textContent = guestsWhy;
							w.hidden = false;
						}
						const u = radios.get('users');
						if (u) u.checked = true;
						drawTarget();
						err.set(guestsWhy);
					} else err.set(errorText(e));
				}
			}),
		);

		replace(
			form,
			h(
				'div',
				{ class: 'link-form-grid' },
				h('div', { class: 'link-form-col' }, roleSel.wrap, scopeBox),
				h('div', { class: 'link-form-col' }, target),
			),
			h('div', { class: 'link-form-grid' }, h('div', { class: 'link-form-col' }, expiresWrap, noDl.wrap), h('div', { class: 'link-form-col' }, pw.wrap)),
			err.el,
			h('div', { class: 'btn-row' }, create),
		);
	}

	function showCreated(url: string, body: { role: LinkRole; scope: Scope }): void {
		replace(
			created,
			h('p', { class: 'link-created-title' }, icon('check', 'icon icon-sm'), t('docs.links.created', { role: docRoleLabel(body.role as DocRole) })),
			secretValue(url, 'link-url', 'link-copy'),
			h('p', { class: 'field-hint' }, t('docs.links.onlyOnce')),
		);
		created.hidden = false;
		created.querySelector<HTMLElement>('[data-testid="link-copy"]')?.focus();
	}

	/* the form (and its people search) is built when it is first opened */
	let ready = false;
	newBox.addEventListener('toggle', () => {
		if (!newBox.open || !ready) return;
		if (!form.firstChild) drawForm();
		form.querySelector<HTMLElement>('select, input')?.focus();
	});

	Promise.all([o.depts.catch(() => null), directory(), loadPolicy(doc.id)])
		.then(([dl, ppl, policy]) => {
			depts = dl;
			if (dl) {
				const tree = buildDeptTree(dl);
				deptNames = new Map(tree.ordered.map((n) => [n.dept.id, n.path.join(' / ') || n.dept.name]));
			}
			people = ppl;
			if (!policy.external_links) guestsWhy = t('docs.links.guestsLabel', { label: labelText(policy.name) });
		})
		.catch(() => {
			/* without names and departments: ids are shown, people can still be chosen */
		})
		.finally(() => {
			ready = true;
			if (newBox.open && !form.firstChild) {
				drawForm();
				form.querySelector<HTMLElement>('select, input')?.focus();
			}
			void reload();
		});
	return el;
}

// ---- opening a link ----

/** The page of #/docs/link/TOKEN. */
export function linkOpenPage(token: string): HTMLElement {
	const body = h('div', { class: 'link-open-body', attrs: { 'aria-live': 'polite' } });
	const root = h(
		'div',
		{ class: 'docs-page link-open', testid: 'link-open' },
		h('div', { class: 'card link-open-card' }, h('h1', { class: 'link-open-title', tabIndex: -1 }, icon('link'), h('span', null, t('docs.linkOpen.title'))), body),
	);
	const back = () => h('a', { class: 'btn btn-secondary btn-sm', href: folderHref(0), testid: 'link-open-back' }, icon('chevronLeft'), h('span', { class: 'btn-label' }, t('docs.backToAll')));

	function message(kind: string, titleText: string, text: string, tone: 'warning' | 'danger' | 'info'): void {
		replace(
			body,
			h(
				'div',
				{ class: `alert alert-${tone} link-open-msg`, testid: 'link-open-msg', attrs: { role: 'alert', 'data-kind': kind } },
				icon(tone === 'info' ? 'info' : 'alert'),
				h('span', null, h('strong', { class: 'link-open-msg-title' }, titleText), h('span', { class: 'link-open-msg-text' }, text)),
			),
			h('div', { class: 'btn-row' }, back()),
		);
	}

	function askPassword(wrong: boolean): void {
		const pw = passwordField({ label: t('docs.linkOpen.password'), testid: 'link-open-password', maxLength: PASSWORD_MAX, autocomplete: 'off', required: true });
		const ok = button(t('docs.linkOpen.submit'), { kind: 'primary', type: 'submit', testid: 'link-open-submit' });
		const formEl = h(
			'form',
			{ class: 'form', attrs: { novalidate: true } },
			h('p', null, t('docs.linkOpen.needsPassword')),
			pw.wrap,
			h('div', { class: 'btn-row' }, back(), ok),
		);
		formEl.addEventListener('submit', (ev) => {
			ev.preventDefault();
			const v = pw.input.value;
			if (!v) {
				pw.setError(t('form.required'));
				pw.input.focus();
				return;
			}
			void busy(ok, () => attempt(v, pw.setError));
		});
		replace(body, formEl);
		if (wrong) pw.setError(t('docs.linkOpen.wrongPassword'));
		pw.input.focus();
	}

	async function attempt(password?: string, fieldError?: (m: string | null) => void): Promise<void> {
		try {
			const r = await api('post', '/api/v1/doc-links/{token}/open', { path: { token }, body: password ? { password } : {} });
			replace(body, h('p', { class: 'muted', testid: 'link-open-ok' }, t('docs.linkOpen.opening', { title: r.document.title })));
			location.replace(docHref(r.document_id));
		} catch (e) {
			const code = e instanceof ApiError ? e.code : '';
			if (code === 'password_required') askPassword(false);
			else if (code === 'wrong_password') {
				if (fieldError) {
					fieldError(t('docs.linkOpen.wrongPassword'));
					body.querySelector<HTMLInputElement>('input[type="password"], input[type="text"]')?.select();
				} else askPassword(true);
			} else if (code === 'forbidden') message('forbidden', t('docs.linkOpen.notForYou'), t('docs.linkOpen.notForYouText'), 'warning');
			else if (code === 'link_expired') message('expired', t('docs.linkOpen.expired'), t('docs.linkOpen.expiredText'), 'warning');
			else if (code === 'not_found') message('not_found', t('docs.linkOpen.notFound'), t('docs.linkOpen.notFoundText'), 'danger');
			else if (fieldError && code === 'rate_limited') fieldError(errorText(e));
			else {
				message('error', t('docs.linkOpen.failed'), errorText(e), 'danger');
				body.querySelector('.btn-row')?.append(button(t('common.retry'), { small: true, icon: 'refresh', testid: 'link-open-retry', onClick: () => void start() }));
			}
		}
	}

	function start(): void {
		replace(body, loading());
		void attempt();
	}

	start();
	return root;
}
