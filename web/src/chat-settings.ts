// chat-settings.ts — the conversation panel (RG-IM-b, RG-DATA-b): what the
// group is and which security settings are on; for owners and admins the
// settings form (name, topic, who may invite, guests, join approval,
// history for new members, forward, copy, watermark, member limit,
// retention); the members with role change, mute, poster right, removal,
// approval of pending members and ownership transfer; leave and dissolve.
// Security administrators can set legal hold.  The server checks every
// change again and audits it.
import { ApiError, type Conversation, type Member, type Role, api } from './api';
import { kindIcon, kindLabel, memberCount, peoplePicker } from './chat-dialogs';
import { avatar } from './chat-messages';
import type { ChatStore } from './chat-store';
import { type Child, h, replace } from './dom';
import { fmtTime, t } from './i18n';
import {
	alertBox,
	badge,
	busy,
	button,
	checkbox,
	confirmDialog,
	details,
	errorText,
	icon,
	openDialog,
	selectField,
	textField,
	toast,
} from './ui';

const MUTES: { label: 'chat.mute1h' | 'chat.mute1d' | 'chat.mute1w'; secs: number }[] = [
	{ label: 'chat.mute1h', secs: 3600 },
	{ label: 'chat.mute1d', secs: 86_400 },
	{ label: 'chat.mute1w', secs: 7 * 86_400 },
];

export interface Panel {
	el: HTMLElement;
	update(): void;
}

export function infoPanel(
	store: ChatStore,
	convId: number,
	o: { role: Role; close(): void; onGone(): void },
): Panel {
	const body = h('div', { class: 'drawer-body' });
	const el = h(
		'div',
		{ class: 'drawer-inner', testid: 'conv-panel' },
		h(
			'div',
			{ class: 'drawer-head' },
			h('h2', { class: 'drawer-title', tabIndex: -1 }, t('chat.info')),
			h(
				'button',
				{
					type: 'button',
					class: 'btn btn-ghost btn-icon',
					testid: 'panel-close',
					attrs: { 'aria-label': t('common.close') },
					on: { click: () => o.close() },
				},
				icon('x'),
			),
		),
		body,
	);
	let members: Member[] | null = null;
	let membersErr: unknown = null;
	let formDirty = false;

	const conv = () => store.convs.get(convId);
	const isAdmin = (c: Conversation) => c.my_role === 'owner' || c.my_role === 'admin';

	async function reloadMembers(): Promise<void> {
		try {
			members = await store.loadMembers(convId, true);
			membersErr = null;
		} catch (e) {
			membersErr = e;
		}
		update();
	}

	// ---- summary ----

	function summary(c: Conversation): HTMLElement {
		const s = c.settings;
		const flags: HTMLElement[] = [];
		if (s.watermark) flags.push(badge(t('chat.flag.watermark'), 'brand'));
		if (!s.copy) flags.push(badge(t('chat.flag.noCopy'), 'warning'));
		if (!s.forward) flags.push(badge(t('chat.flag.noForward'), 'warning'));
		if (s.join_approval) flags.push(badge(t('chat.flag.approval'), 'neutral'));
		if (legalHold(c)) flags.push(badge(t('chat.flag.legalHold'), 'danger', 'flag-legal-hold'));
		if (s.retention_days) flags.push(badge(t('chat.flag.retention', { n: s.retention_days }), 'neutral'));
		const peer = c.kind === 'direct' ? c.peer : null;
		return h(
			'div',
			{ class: 'panel-summary' },
			h(
				'div',
				{ class: 'panel-id' },
				peer ? avatar(peer.display_name || peer.username, peer.id, 'avatar-lg') : h('span', { class: 'conv-kind conv-kind-lg' }, icon(kindIcon(c.kind))),
				h(
					'div',
					null,
					h('p', { class: 'panel-name', testid: 'panel-name' }, store.convTitle(c)),
					h('p', { class: 'muted' }, peer ? `@${peer.username}` : `${kindLabel(c.kind)} · ${memberCount(c.member_count)}`),
				),
			),
			c.topic ? h('p', { class: 'panel-topic' }, c.topic) : null,
			flags.length ? h('div', { class: 'badges' }, flags) : null,
		);
	}

	// ---- settings ----

	function settingsForm(c: Conversation): HTMLElement {
		const s = c.settings;
		const err = alertBox('settings-error');
		const name = textField({ label: t('chat.groupName'), testid: 'set-name', value: c.name, maxLength: 128, required: true });
		const topic = textField({ label: t('chat.groupTopic'), testid: 'set-topic', value: c.topic, maxLength: 1024 });
		const invite = selectField(
			t('chat.set.invite'),
			[
				{ value: 'admins', label: t('chat.set.inviteAdmins') },
				{ value: 'members', label: t('chat.set.inviteMembers') },
			],
			{ testid: 'set-invite', value: s.invite },
		);
		const boxes = {
			guests: checkbox(t('chat.set.guests'), { testid: 'set-guests', checked: s.guests, hint: t('chat.set.guestsHint') }),
			join_approval: checkbox(t('chat.set.joinApproval'), { testid: 'set-approval', checked: s.join_approval, hint: t('chat.set.joinApprovalHint') }),
			history_visible: checkbox(t('chat.set.history'), { testid: 'set-history', checked: s.history_visible, hint: t('chat.set.historyHint') }),
			forward: checkbox(t('chat.set.forward'), { testid: 'set-forward', checked: s.forward }),
			copy: checkbox(t('chat.set.copy'), { testid: 'set-copy', checked: s.copy }),
			watermark: checkbox(t('chat.set.watermark'), { testid: 'set-watermark', checked: s.watermark, hint: t('chat.set.watermarkHint') }),
		};
		const limit = textField({
			label: t('chat.set.limit'),
			testid: 'set-limit',
			type: 'number',
			value: String(s.member_limit),
			min: '2',
			max: '100000',
			inputMode: 'numeric',
		});
		const retention = textField({
			label: t('chat.set.retention'),
			testid: 'set-retention',
			type: 'number',
			value: String(s.retention_days),
			min: '0',
			max: '36500',
			inputMode: 'numeric',
			hint: t('chat.set.retentionHint'),
		});
		const save = button(t('chat.save'), { kind: 'primary', type: 'submit', testid: 'set-save' });
		const form = h(
			'form',
			{
				class: 'form panel-form',
				attrs: { novalidate: true },
				on: {
					input: () => {
						formDirty = true;
					},
					submit: (ev) => {
						ev.preventDefault();
						err.set(null);
						const n = name.input.value.trim();
						if (!n) {
							name.setError(t('form.required'));
							name.input.focus();
							return;
						}
						name.setError(null);
						const lim = Number(limit.input.value);
						if (!Number.isInteger(lim) || lim < 2 || lim > 100000) {
							limit.setError(t('policy.range', { min: 2, max: 100000 }));
							limit.input.focus();
							return;
						}
						limit.setError(null);
						const ret = Number(retention.input.value);
						if (!Number.isInteger(ret) || ret < 0 || ret > 36500) {
							retention.setError(t('policy.range', { min: 0, max: 36500 }));
							retention.input.focus();
							return;
						}
						retention.setError(null);
						void busy(save, async () => {
							try {
								const r = await api('patch', '/api/v1/conversations/{id}', {
									path: { id: convId },
									body: {
										name: n,
										topic: topic.input.value.trim(),
										settings: {
											invite: invite.input.value === 'members' ? 'members' : 'admins',
											guests: boxes.guests.input.checked,
											join_approval: boxes.join_approval.input.checked,
											history_visible: boxes.history_visible.input.checked,
											forward: boxes.forward.input.checked,
											copy: boxes.copy.input.checked,
											watermark: boxes.watermark.input.checked,
											member_limit: lim,
											retention_days: ret,
										},
									},
								});
								formDirty = false;
								store.adopt(r.conversation);
								toast(t('chat.saved'), 'success');
							} catch (e) {
								err.set(errorText(e));
							}
						});
					},
				},
			},
			name.wrap,
			topic.wrap,
			invite.wrap,
			h(
				'fieldset',
				{ class: 'fieldset' },
				h('legend', null, t('chat.security')),
				h('div', { class: 'panel-checks' }, Object.values(boxes).map((b) => b.wrap)),
			),
			h('div', { class: 'form-grid' }, limit.wrap, retention.wrap),
			err.el,
			h('div', { class: 'form-actions' }, save),
		);
		return form;
	}

	function settingsReadOnly(c: Conversation): HTMLElement {
		const s = c.settings;
		const yes = (b: boolean) => (b ? t('chat.yes') : t('chat.no'));
		return details(
			[
				[t('chat.set.invite'), s.invite === 'members' ? t('chat.set.inviteMembers') : t('chat.set.inviteAdmins')],
				[t('chat.set.guests'), yes(s.guests)],
				[t('chat.set.joinApproval'), yes(s.join_approval)],
				[t('chat.set.history'), yes(s.history_visible)],
				[t('chat.set.forward'), yes(s.forward)],
				[t('chat.set.copy'), yes(s.copy)],
				[t('chat.set.watermark'), yes(s.watermark)],
				[t('chat.set.limit'), String(s.member_limit)],
				[t('chat.set.retention'), s.retention_days ? t('chat.days', { n: s.retention_days }) : t('chat.retentionDefault')],
				[t('chat.flag.legalHold'), yes(legalHold(c))],
			],
			'settings-readonly',
		);
	}

	function holdControl(c: Conversation): Child {
		if (o.role !== 'secadmin') return null;
		const on = legalHold(c);
		const b = button(on ? t('chat.holdOff') : t('chat.holdOn'), { small: true, kind: on ? 'secondary' : 'danger', testid: 'set-hold' });
		b.addEventListener('click', async () => {
			const ok = await confirmDialog({
				title: on ? t('chat.holdOff') : t('chat.holdOn'),
				message: on ? t('chat.holdOffConfirm') : t('chat.holdOnConfirm'),
				confirm: on ? t('chat.holdOff') : t('chat.holdOn'),
				danger: !on,
			});
			if (!ok) return;
			try {
				const r = await busy(b, () => api('put', '/api/v1/conversations/{id}/hold', { path: { id: convId }, body: { legal_hold: !on } }));
				store.adopt(r.conversation);
			} catch (e) {
				toast(errorText(e), 'danger');
			}
		});
		return h('div', { class: 'panel-hold' }, h('p', { class: 'muted' }, t('chat.holdExplain')), b);
	}

	// ---- members ----

	async function memberAction(fn: () => Promise<unknown>, done?: string): Promise<void> {
		try {
			await fn();
			if (done) toast(done, 'success');
			await reloadMembers();
			void store.refetchConv(convId);
		} catch (e) {
			toast(errorText(e), 'danger');
		}
	}

	function patchMember(uid: number, body: { role?: 'admin' | 'member'; muted_until?: number; approve?: true; poster?: boolean }) {
		return api('patch', '/api/v1/conversations/{id}/members/{uid}', { path: { id: convId, uid }, body });
	}

	function memberRow(c: Conversation, m: Member): HTMLElement {
		const me = m.user_id === store.me.id;
		const name = m.display_name || m.username;
		const online = store.isOnline(m.user_id);
		const now = Date.now() / 1000;
		const canManage = !me && m.role !== 'owner' && (c.my_role === 'owner' || (c.my_role === 'admin' && m.role === 'member'));
		const acts: HTMLElement[] = [];
		if (canManage && m.status === 'active') {
			if (c.my_role === 'owner') {
				acts.push(
					button(m.role === 'admin' ? t('chat.makeMember') : t('chat.makeAdmin'), {
						small: true,
						testid: 'member-role',
						onClick: () => void memberAction(() => patchMember(m.user_id, { role: m.role === 'admin' ? 'member' : 'admin' }), t('chat.roleChanged')),
					}),
				);
			}
			if (m.muted_until > now) {
				acts.push(button(t('chat.unmute'), { small: true, testid: 'member-unmute', onClick: () => void memberAction(() => patchMember(m.user_id, { muted_until: 0 })) }));
			} else {
				for (const mu of MUTES) {
					acts.push(
						button(t(mu.label), {
							small: true,
							testid: 'member-mute',
							onClick: () => void memberAction(() => patchMember(m.user_id, { muted_until: Math.floor(Date.now() / 1000) + mu.secs }), t('chat.mutedDone', { name })),
						}),
					);
				}
			}
			if (c.kind === 'announce') {
				acts.push(
					button(m.poster ? t('chat.posterOff') : t('chat.posterOn'), {
						small: true,
						testid: 'member-poster',
						onClick: () => void memberAction(() => patchMember(m.user_id, { poster: !m.poster })),
					}),
				);
			}
			if (c.my_role === 'owner') {
				acts.push(
					button(t('chat.transfer'), {
						small: true,
						testid: 'member-transfer',
						onClick: async () => {
							const ok = await confirmDialog({
								title: t('chat.transfer'),
								message: t('chat.transferConfirm', { name }),
								confirm: t('chat.transfer'),
								danger: true,
							});
							if (!ok) return;
							await memberAction(async () => {
								const r = await api('post', '/api/v1/conversations/{id}/transfer', { path: { id: convId }, body: { user_id: m.user_id } });
								store.adopt(r.conversation);
							}, t('chat.transferred', { name }));
						},
					}),
				);
			}
			acts.push(
				button(t('chat.remove'), {
					small: true,
					kind: 'danger',
					testid: 'member-remove',
					onClick: async () => {
						const ok = await confirmDialog({
							title: t('chat.remove'),
							message: t('chat.removeConfirm', { name }),
							confirm: t('chat.remove'),
							danger: true,
						});
						if (ok) await memberAction(() => api('delete', '/api/v1/conversations/{id}/members/{uid}', { path: { id: convId, uid: m.user_id } }), t('chat.removed', { name }));
					},
				}),
			);
		}
		const roleBadge =
			m.role === 'owner' ? badge(t('chat.role.owner'), 'brand') : m.role === 'admin' ? badge(t('chat.role.admin'), 'brand') : null;
		return h(
			'li',
			{ class: 'member', testid: 'member-row', attrs: { 'data-username': m.username } },
			h(
				'div',
				{ class: 'member-main' },
				h('span', { class: 'avatar-wrap' }, avatar(name, m.user_id), online !== undefined ? presenceDot(online) : null),
				h(
					'span',
					{ class: 'member-text' },
					h('span', { class: 'member-name' }, name, me ? h('span', { class: 'muted' }, ` (${t('chat.you')})`) : null),
					h('span', { class: 'member-user' }, `@${m.username}`),
				),
				h(
					'span',
					{ class: 'badges' },
					roleBadge,
					m.poster && c.kind === 'announce' ? badge(t('chat.poster'), 'neutral') : null,
					m.muted_until > now ? badge(t('chat.mutedUntil', { time: fmtTime(m.muted_until) }), 'warning', 'member-muted') : null,
				),
			),
			acts.length
				? h(
						'details',
						{ class: 'member-manage' },
						h('summary', { testid: 'member-manage', attrs: { 'aria-label': t('chat.manageMember', { name }) } }, t('chat.manage')),
						h('div', { class: 'btn-row' }, acts),
					)
				: null,
		);
	}

	function pendingRow(m: Member): HTMLElement {
		const name = m.display_name || m.username;
		return h(
			'li',
			{ class: 'member', testid: 'pending-row', attrs: { 'data-username': m.username } },
			h('div', { class: 'member-main' }, avatar(name, m.user_id), h('span', { class: 'member-text' }, h('span', { class: 'member-name' }, name), h('span', { class: 'member-user' }, `@${m.username}`))),
			h(
				'div',
				{ class: 'btn-row' },
				button(t('chat.approve'), {
					small: true,
					kind: 'primary',
					testid: 'pending-approve',
					onClick: () => void memberAction(() => patchMember(m.user_id, { approve: true }), t('chat.approved', { name })),
				}),
				button(t('chat.reject'), {
					small: true,
					testid: 'pending-reject',
					onClick: () => void memberAction(() => api('delete', '/api/v1/conversations/{id}/members/{uid}', { path: { id: convId, uid: m.user_id } })),
				}),
			),
		);
	}

	function addPeople(c: Conversation): void {
		const d = openDialog({ title: t('chat.addPeople'), testid: 'add-people-dialog' });
		const picker = peoplePicker(store, { multi: true, exclude: new Set((members ?? []).map((m) => m.user_id)), testid: 'add-people-search' });
		const err = alertBox();
		const add = button(t('chat.add'), { kind: 'primary', testid: 'add-people-submit' });
		add.addEventListener('click', () =>
			void busy(add, async () => {
				const ids = picker.selected().map((u) => u.id);
				if (!ids.length) {
					err.set(t('chat.pickSomeone'), 'warning');
					return;
				}
				try {
					const r = await api('post', '/api/v1/conversations/{id}/members', { path: { id: c.id }, body: { user_ids: ids } });
					d.close();
					toast(r.pending.length ? t('chat.addedPending', { n: r.added.length, p: r.pending.length }) : t('chat.added', { n: r.added.length }), 'success');
					await reloadMembers();
					void store.refetchConv(c.id);
				} catch (e) {
					err.set(errorText(e));
				}
			}),
		);
		d.body.append(picker.el, err.el);
		d.footer.append(button(t('common.cancel'), { onClick: () => d.close() }), add);
		picker.focus();
	}

	function membersSection(c: Conversation): HTMLElement {
		const canInvite = c.kind !== 'direct' && (isAdmin(c) || c.settings.invite === 'members');
		const head = h(
			'div',
			{ class: 'panel-sub' },
			h('h3', { class: 'sub-title' }, t('chat.membersN', { n: c.member_count })),
			canInvite ? button(t('chat.addPeople'), { small: true, icon: 'userPlus', testid: 'panel-add-people', onClick: () => addPeople(c) }) : null,
		);
		if (membersErr) return h('div', null, head, h('p', { class: 'alert alert-danger' }, errorText(membersErr)));
		if (!members) return h('div', null, head, h('div', { class: 'loading', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('common.loading')));
		const pending = members.filter((m) => m.status === 'pending');
		const active = members
			.filter((m) => m.status === 'active')
			.sort((a, b) => rank(a) - rank(b) || (a.display_name || a.username).localeCompare(b.display_name || b.username));
		return h(
			'div',
			null,
			head,
			pending.length && isAdmin(c)
				? h('div', { class: 'panel-pending' }, h('h4', { class: 'panel-h4' }, t('chat.pendingN', { n: pending.length })), h('ul', { class: 'member-list', testid: 'pending-list' }, pending.map(pendingRow)))
				: null,
			h('ul', { class: 'member-list', testid: 'member-list' }, active.map((m) => memberRow(c, m))),
		);
	}

	function dangerZone(c: Conversation): Child {
		if (c.kind === 'direct') return null;
		const leave = button(t('chat.leave'), {
			testid: 'panel-leave',
			onClick: async () => {
				const ok = await confirmDialog({
					title: t('chat.leave'),
					message: c.my_role === 'owner' ? t('chat.leaveOwner') : t('chat.leaveConfirm', { name: store.convTitle(c) }),
					confirm: t('chat.leave'),
					danger: true,
				});
				if (!ok) return;
				try {
					await api('delete', '/api/v1/conversations/{id}/members/{uid}', { path: { id: convId, uid: store.me.id } });
					toast(t('chat.left', { name: store.convTitle(c) }), 'success');
					store.convs.delete(convId);
					void store.loadList();
					o.onGone();
				} catch (e) {
					toast(errorText(e), 'danger');
				}
			},
		});
		const dissolve =
			c.my_role === 'owner'
				? button(t('chat.dissolve'), {
						kind: 'danger',
						testid: 'panel-dissolve',
						onClick: async () => {
							const ok = await confirmDialog({
								title: t('chat.dissolve'),
								message: t('chat.dissolveConfirm', { name: store.convTitle(c) }),
								confirm: t('chat.dissolve'),
								danger: true,
							});
							if (!ok) return;
							try {
								await api('delete', '/api/v1/conversations/{id}', { path: { id: convId } });
								toast(t('chat.dissolved', { name: store.convTitle(c) }), 'success');
								store.convs.delete(convId);
								void store.loadList();
								o.onGone();
							} catch (e) {
								toast(e instanceof ApiError && e.code === 'forbidden' ? t('chat.err.forbidden') : errorText(e), 'danger');
							}
						},
					})
				: null;
		return h('div', { class: 'panel-danger' }, h('h3', { class: 'sub-title' }, t('chat.dangerZone')), h('div', { class: 'btn-row' }, leave, dissolve));
	}

	function update(): void {
		const c = conv();
		if (!c) {
			replace(body, h('p', { class: 'muted' }, t('chat.gone')));
			return;
		}
		/* do not throw away what the user is typing in the form, nor lose focus or an open "Manage" */
		const keepForm = formDirty ? body.querySelector('form.panel-form') : null;
		const active = body.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
		const activeRow = active?.closest<HTMLElement>('[data-username]')?.dataset.username;
		const activeId = active?.dataset.testid;
		const openRows = [...body.querySelectorAll<HTMLDetailsElement>('details.member-manage[open]')]
			.map((d) => d.closest<HTMLElement>('[data-username]')?.dataset.username)
			.filter((u): u is string => !!u);
		const editable = isAdmin(c) && c.kind !== 'direct';
		replace(
			body,
			summary(c),
			c.kind !== 'direct'
				? h('section', { class: 'panel-sec' }, h('h3', { class: 'sub-title' }, t('chat.settings')), keepForm ?? (editable ? settingsForm(c) : settingsReadOnly(c)), holdControl(c))
				: null,
			c.kind !== 'direct' ? h('section', { class: 'panel-sec' }, membersSection(c)) : null,
			dangerZone(c),
		);
		for (const u of openRows) {
			const d = body.querySelector<HTMLDetailsElement>(`[data-username="${CSS.escape(u)}"] details.member-manage`);
			if (d) d.open = true;
		}
		if (active && !active.isConnected && activeId) {
			const scope = activeRow ? body.querySelector(`[data-username="${CSS.escape(activeRow)}"]`) : body;
			scope?.querySelector<HTMLElement>(`[data-testid="${CSS.escape(activeId)}"]`)?.focus({ preventScroll: true });
		}
	}

	const c0 = conv();
	if (c0 && c0.kind !== 'direct') void reloadMembers();
	update();
	return { el, update };
}

function legalHold(c: Conversation): boolean {
	return !!(c.legal_hold ?? c.settings.legal_hold);
}

function rank(m: Member): number {
	return m.role === 'owner' ? 0 : m.role === 'admin' ? 1 : 2;
}

export function presenceDot(online: boolean): HTMLElement {
	return h('span', {
		class: ['presence', online ? 'presence-on' : 'presence-off'],
		title: online ? t('chat.online') : t('chat.offline'),
		attrs: { role: 'img', 'aria-label': online ? t('chat.online') : t('chat.offline') },
	});
}
