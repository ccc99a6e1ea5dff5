// views/users.ts — "Users" for sysadmin (create, disable/enable, unlock,
// reset password, unmask PII) and secadmin (unlock, role, MFA reset,
// sessions).  PII is masked by the server; unmasking is an explicit,
// audited action (PS-IA-a, separation of duties).  Departments are shown by
// name (full path in the details), and a new user can be put in one.
import { ApiError, type Role, type Schemas, type User, api } from '../api';
import { type Dept, type DeptTree, buildDeptTree, deptName, deptOptions, deptPath } from '../depts';
import { type Child, append, h, replace } from '../dom';
import { fmtTime, t } from '../i18n';
import {
	alertBox,
	asyncView,
	badge,
	busy,
	button,
	confirmDialog,
	details,
	errorText,
	openDialog,
	secretValue,
	section,
	selectField,
	table,
	textField,
	toast,
} from '../ui';
import { sessionTable } from './security';
import { type AppCtx, roleLabel } from './shell';

const PAGE = 100;
const ROLES: Role[] = ['member', 'guest', 'sysadmin', 'secadmin', 'auditadmin'];

function statusBadges(u: User): HTMLElement[] {
	const out: HTMLElement[] = [];
	out.push(u.status === 'active' ? badge(t('user.active'), 'success') : badge(t('user.disabled'), 'neutral'));
	if (u.locked) out.push(badge(t('user.locked'), 'danger'));
	out.push(u.mfa_enabled ? badge(t('user.mfaOn'), 'brand') : badge(t('user.mfaOff'), 'neutral'));
	if (u.must_change_password) out.push(badge(t('user.mustChange'), 'warning'));
	return out;
}

export function usersPage(ctx: AppCtx): HTMLElement {
	const me = ctx.session.user;
	const isSys = me.role === 'sysadmin';
	const isSec = me.role === 'secadmin';

	let users: User[] = [];
	let nextAfter: number | null = null;
	let filter = '';
	let depts: DeptTree = buildDeptTree([]);

	const tableHolder = h('div', { class: 'users-table' });
	const more = button(t('users.more'), { testid: 'users-more', onClick: () => void loadMore() });
	const count = h('p', { class: 'muted', attrs: { 'aria-live': 'polite' } });

	/** A department's name, with the path of its parents underneath. */
	function deptCell(id: number): Child {
		const up = depts.byId.get(id)?.parent;
		return [h('div', null, deptName(depts, id)), up ? h('div', { class: 'cell-sub' }, up.path.join(t('dept.pathSep'))) : null];
	}

	function drawTable(): void {
		const f = filter.trim().toLowerCase();
		const shown = f
			? users.filter(
					(u) =>
						u.username.toLowerCase().includes(f) ||
						(u.display_name ?? '').toLowerCase().includes(f) ||
						roleLabel(u.role).toLowerCase().includes(f) ||
						(u.dept_id ? deptPath(depts, u.dept_id).toLowerCase().includes(f) : false),
				)
			: users;
		const rows = shown.map((u) =>
			h(
				'tr',
				{ testid: 'user-row', attrs: { 'data-username': u.username } },
				h(
					'td',
					null,
					h('div', { class: 'cell-main' }, h('span', { class: 'mono' }, u.username), u.id === me.id ? badge(t('users.you'), 'brand') : null),
					h('div', { class: 'cell-sub' }, u.display_name ?? ''),
				),
				h('td', null, roleLabel(u.role)),
				h('td', null, h('div', { class: 'badges' }, statusBadges(u))),
				h('td', null, u.dept_id ? deptCell(u.dept_id) : '—'),
				h('td', null, fmtTime(u.last_login_at)),
				h(
					'td',
					{ class: 'cell-actions' },
					button(t('users.manage'), {
						small: true,
						testid: 'user-open',
						title: t('users.manageUser', { user: u.username }),
						onClick: () => openUser(u),
					}),
				),
			),
		);
		replace(
			tableHolder,
			table(
				[t('user.username'), t('user.role'), t('user.status'), t('user.dept'), t('user.lastLogin'), t('common.actions')],
				rows,
				{ testid: 'users-table', caption: t('nav.users'), empty: f ? t('users.noMatch') : t('users.none') },
			),
		);
		more.hidden = nextAfter === null;
		replace(count, t('users.count', { shown: shown.length, loaded: users.length }));
	}

	async function loadFirst(): Promise<HTMLElement> {
		const [page, d] = await Promise.all([
			api('get', '/api/v1/users', { query: { limit: PAGE } }),
			api('get', '/api/v1/departments').catch(() => ({ departments: [] as Dept[] })),
		]);
		depts = buildDeptTree(d.departments);
		users = page.users;
		nextAfter = page.next_after;
		drawTable();
		return h('div', null, count, tableHolder, h('div', { class: 'load-more' }, more));
	}

	async function loadMore(): Promise<void> {
		if (nextAfter === null) return;
		try {
			const page = await busy(more, () => api('get', '/api/v1/users', { query: { after: nextAfter ?? undefined, limit: PAGE } }));
			users = users.concat(page.users);
			nextAfter = page.next_after;
			drawTable();
		} catch (e) {
			toast(errorText(e), 'danger');
		}
	}

	function updateUser(u: User): void {
		users = users.map((x) => (x.id === u.id ? u : x));
		drawTable();
	}

	// ---- one user ----
	function openUser(initial: User): void {
		let u = initial;
		let unmasked = false;
		const d = openDialog({ title: u.username, wide: true, testid: 'user-dialog' });
		const self = u.id === me.id;

		const act = async (btn: HTMLButtonElement, fn: () => Promise<User | null>, done: string) => {
			try {
				const r = await busy(btn, fn);
				if (r) {
					u = r;
					unmasked = false;
					updateUser(r);
				}
				toast(done, 'success');
				draw();
			} catch (e) {
				toast(errorText(e), 'danger');
			}
		};
		const confirmThen = async (
			ev: MouseEvent,
			title: string,
			message: string,
			fn: () => Promise<User | null>,
			done: string,
			danger = true,
		) => {
			const btn = ev.currentTarget as HTMLButtonElement;
			if (await confirmDialog({ title, message, confirm: title, danger })) await act(btn, fn, done);
		};
		const id = () => ({ id: u.id });

		function draw(): void {
			const info = details(
				[
					[t('user.displayName'), u.display_name ?? null],
					[t('user.role'), roleLabel(u.role)],
					[t('user.dept'), u.dept_id ? deptPath(depts, u.dept_id) : null],
					[t('user.email'), u.email ? h('span', { class: 'mono', testid: 'user-email' }, u.email) : null],
					[t('user.phone'), u.phone ? h('span', { class: 'mono', testid: 'user-phone' }, u.phone) : null],
					[t('user.idCard'), u.id_card ? h('span', { class: 'mono', testid: 'user-idcard' }, u.id_card) : null],
					[t('user.created'), fmtTime(u.created_at)],
					[t('user.lastLogin'), fmtTime(u.last_login_at)],
					[t('user.lockedUntil'), u.locked ? fmtTime(u.locked_until) : null],
				],
				'user-details',
			);
			const pii = h(
				'div',
				{ class: 'pii-line' },
				unmasked ? badge(t('users.unmasked'), 'warning', 'user-unmasked') : badge(t('users.masked'), 'neutral'),
				h('span', { class: 'muted' }, unmasked ? t('users.unmaskedNote') : t('users.maskedNote')),
				isSys && !unmasked
					? button(t('users.unmask'), {
							small: true,
							icon: 'eye',
							testid: 'user-unmask',
							onClick: async (ev) => {
								const btn = ev.currentTarget as HTMLButtonElement;
								const ok = await confirmDialog({
									title: t('users.unmask'),
									message: t('users.unmaskConfirm', { user: u.username }),
									confirm: t('users.unmask'),
								});
								if (!ok) return;
								try {
									const r = await busy(btn, () => api('get', '/api/v1/users/{id}', { path: id(), query: { unmask: 1 } }));
									u = r.user;
									unmasked = true;
									draw();
								} catch (e) {
									toast(errorText(e), 'danger');
								}
							},
						})
					: null,
			);

			const actions = h('div', { class: 'btn-row' });
			if ((isSys || isSec) && u.locked) {
				actions.appendChild(
					button(t('users.unlock'), {
						kind: 'primary',
						testid: 'user-unlock',
						onClick: (ev) =>
							void act(
								ev.currentTarget as HTMLButtonElement,
								async () => (await api('post', '/api/v1/users/{id}/unlock', { path: id() })).user,
								t('users.unlockedDone'),
							),
					}),
				);
			}
			if (isSys && !self) {
				actions.appendChild(
					button(t('users.resetPassword'), {
						icon: 'key',
						testid: 'user-reset-password',
						onClick: async (ev) => {
							const btn = ev.currentTarget as HTMLButtonElement;
							const ok = await confirmDialog({
								title: t('users.resetPassword'),
								message: t('users.resetConfirm', { user: u.username }),
								confirm: t('users.resetPassword'),
								danger: true,
							});
							if (!ok) return;
							try {
								const r = await busy(btn, () => api('post', '/api/v1/users/{id}/reset-password', { path: id() }));
								showOneTime(t('users.resetDone', { user: u.username }), r.initial_password);
								const fresh = await api('get', '/api/v1/users/{id}', { path: id() });
								u = fresh.user;
								updateUser(u);
								draw();
							} catch (e) {
								toast(errorText(e), 'danger');
							}
						},
					}),
				);
			}
			if (isSec && !self && u.mfa_enabled) {
				actions.appendChild(
					button(t('users.mfaReset'), {
						kind: 'danger',
						testid: 'user-mfa-reset',
						onClick: (ev) =>
							void confirmThen(
								ev,
								t('users.mfaReset'),
								t('users.mfaResetConfirm', { user: u.username }),
								async () => (await api('post', '/api/v1/users/{id}/mfa-reset', { path: id() })).user,
								t('users.mfaResetDone'),
							),
					}),
				);
			}

			if (isSys && !self) {
				if (u.status === 'active')
					actions.appendChild(
						button(t('users.disable'), {
							kind: 'danger',
							testid: 'user-disable',
							onClick: (ev) =>
								void confirmThen(
									ev,
									t('users.disable'),
									t('users.disableConfirm', { user: u.username }),
									async () => (await api('post', '/api/v1/users/{id}/disable', { path: id() })).user,
									t('users.disabledDone'),
								),
						}),
					);
				else
					actions.appendChild(
						button(t('users.enable'), {
							kind: 'primary',
							testid: 'user-enable',
							onClick: (ev) =>
								void act(
									ev.currentTarget as HTMLButtonElement,
									async () => (await api('post', '/api/v1/users/{id}/enable', { path: id() })).user,
									t('users.enabledDone'),
								),
						}),
					);
			}
			let roleBlock: HTMLElement | null = null;
			if (isSec) {
				if (self) {
					roleBlock = h('p', { class: 'muted' }, t('users.roleNotSelf'));
				} else {
					const sel = selectField(
						t('user.role'),
						ROLES.map((r) => ({ value: r, label: roleLabel(r) })),
						{ testid: 'user-role-select', value: u.role, hint: t('users.roleHint') },
					);
					const save = button(t('users.roleSave'), {
						kind: 'primary',
						testid: 'user-role-save',
						onClick: (ev) => {
							const role = sel.input.value as Role;
							if (role === u.role) return;
							void confirmThen(
								ev,
								t('users.roleSave'),
								t('users.roleConfirm', { user: u.username, role: roleLabel(role) }),
								async () => (await api('put', '/api/v1/users/{id}/role', { path: id(), body: { role } })).user,
								t('users.roleDone'),
								false,
							);
						},
					});
					roleBlock = h('div', { class: 'inline-form' }, sel.wrap, save);
				}
			}

			let sessBlock: HTMLElement | null = null;
			if (isSec) {
				const view = asyncView(async () => {
					const r = await api('get', '/api/v1/users/{id}/sessions', { path: id() });
					return sessionTable(r.sessions, null);
				}, 'user-sessions');
				sessBlock = h(
					'div',
					null,
					h('h3', { class: 'sub-title' }, t('sec.sessions')),
					view.el,
					h(
						'div',
						{ class: 'btn-row' },
						button(t('users.revokeAll'), {
							kind: 'danger',
							small: true,
							testid: 'user-sessions-revoke',
							onClick: async (ev) => {
								const btn = ev.currentTarget as HTMLButtonElement;
								const ok = await confirmDialog({
									title: t('users.revokeAll'),
									message: t('users.revokeAllConfirm', { user: u.username }),
									confirm: t('users.revokeAll'),
									danger: true,
								});
								if (!ok) return;
								try {
									const r = await busy(btn, () => api('post', '/api/v1/users/{id}/sessions/revoke', { path: id() }));
									toast(t('users.revokedN', { n: r.revoked }), 'success');
									view.reload();
								} catch (e) {
									toast(errorText(e), 'danger');
								}
							},
						}),
					),
				);
			}

			replace(
				d.body,
				h('div', { class: 'badges' }, statusBadges(u)),
				info,
				pii,
				actions.childElementCount ? h('div', null, h('h3', { class: 'sub-title' }, t('common.actions')), actions) : null,
				roleBlock ? h('div', null, h('h3', { class: 'sub-title' }, t('users.roleTitle')), roleBlock) : null,
				sessBlock,
			);
		}
		draw();
	}

	function showOneTime(title: string, pw: string): void {
		const d = openDialog({ title: t('users.oneTimeTitle'), testid: 'onetime-dialog' });
		append(
			d.body,
			h('div', { class: 'alert alert-success', attrs: { role: 'status' } }, h('span', null, title)),
			h('p', null, t('users.oneTimeLabel')),
			secretValue(pw, 'onetime-password', 'onetime-copy'),
			h('p', { class: 'muted' }, t('users.oneTimeNote')),
		);
		const done = button(t('common.done'), { kind: 'primary', testid: 'onetime-done', onClick: () => d.close() });
		d.footer.appendChild(done);
		done.focus();
	}

	// ---- create ----
	function createDialog(): void {
		const d = openDialog({ title: t('users.create'), wide: true, testid: 'create-dialog' });
		const err = alertBox('create-error');
		const username = textField({
			label: t('user.username'),
			testid: 'create-username',
			maxLength: 64,
			required: true,
			autocomplete: 'off',
			pattern: '[a-z0-9._\\-]{3,64}',
			hint: t('users.usernameHint'),
		});
		const display = textField({ label: t('user.displayName'), testid: 'create-display-name', maxLength: 64, autocomplete: 'off' });
		const role = selectField(
			t('user.role'),
			(['member', 'guest'] as Role[]).map((r) => ({ value: r, label: roleLabel(r) })),
			{ testid: 'create-role', value: 'member', hint: t('users.createRoleHint') },
		);
		const dept = selectField(t('user.dept'), [{ value: '', label: t('users.noDept') }, ...deptOptions(depts)], {
			testid: 'user-dept-select',
			hint: depts.ordered.length ? undefined : t('users.deptNoneYet'),
		});
		const email = textField({ label: t('user.email'), testid: 'create-email', type: 'email', maxLength: 254, autocomplete: 'off' });
		const phone = textField({ label: t('user.phone'), testid: 'create-phone', type: 'tel', maxLength: 32, autocomplete: 'off' });
		const idcard = textField({ label: t('user.idCard'), testid: 'create-idcard', maxLength: 32, autocomplete: 'off' });
		const go = button(t('users.createSubmit'), { kind: 'primary', type: 'submit', testid: 'create-submit' });
		const form = h(
			'form',
			{
				class: 'form',
				attrs: { novalidate: true },
				on: {
					submit: (ev) => {
						ev.preventDefault();
						err.set(null);
						const name = username.input.value.trim();
						if (!/^[a-z0-9._-]{3,64}$/.test(name)) {
							username.setError(t('users.usernameHint'));
							username.input.focus();
							return;
						}
						username.setError(null);
						const body: Schemas['UserCreateRequest'] = { username: name, role: role.input.value as 'member' | 'guest' };
						const opt = (v: string) => v.trim() || undefined;
						body.display_name = opt(display.input.value);
						body.email = opt(email.input.value);
						body.phone = opt(phone.input.value);
						body.id_card = opt(idcard.input.value);
						const deptId = Number(dept.input.value);
						if (Number.isSafeInteger(deptId) && deptId > 0) body.dept_id = deptId;
						void (async () => {
							try {
								const r = await busy(go, () => api('post', '/api/v1/users', { body }));
								users = users.concat([r.user]);
								drawTable();
								d.close();
								showOneTime(t('users.created', { user: r.user.username }), r.initial_password);
							} catch (e) {
								if (e instanceof ApiError && e.code === 'conflict') {
									username.setError(t('users.exists'));
									username.input.focus();
								} else err.set(errorText(e));
							}
						})();
					},
				},
			},
			h('div', { class: 'form-grid' }, username.wrap, display.wrap, role.wrap, dept.wrap, email.wrap, phone.wrap, idcard.wrap),
			h('p', { class: 'muted' }, t('users.createNote')),
			err.el,
			h('div', { class: 'form-actions' }, button(t('common.cancel'), { onClick: () => d.close() }), go),
		);
		append(d.body, form);
		username.input.focus();
	}

	const filterField = textField({ label: t('users.filter'), testid: 'users-filter', maxLength: 64, placeholder: t('users.filterPlaceholder') });
	filterField.input.type = 'search';
	filterField.input.addEventListener('input', () => {
		filter = filterField.input.value;
		drawTable();
	});
	const list = asyncView(loadFirst, 'users-list');

	return h(
		'div',
		{ class: 'page page-users' },
		section(
			t('users.title'),
			h(
				'div',
				{ class: 'toolbar' },
				filterField.wrap,
				h(
					'div',
					{ class: 'toolbar-actions' },
					button(t('common.refresh'), { icon: 'refresh', testid: 'users-refresh', onClick: () => list.reload() }),
					isSys ? button(t('users.create'), { kind: 'primary', icon: 'plus', testid: 'users-create', onClick: createDialog }) : null,
				),
			),
			isSec ? h('p', { class: 'muted' }, t('users.secadminNote')) : h('p', { class: 'muted' }, t('users.sysadminNote')),
			list.el,
		),
	);
}
