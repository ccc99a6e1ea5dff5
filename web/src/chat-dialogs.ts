// chat-dialogs.ts — the chat dialogs (RG-IM-b): the people picker
// (GET /directory), "new chat" (direct), "new group / channel /
// announcement channel" with its first settings, "browse channels"
// (discover=1, join or ask to join) and "forward" (refused by the server
// when the source group forbids it: forward_disabled).
import { ApiError, type Conversation, type UserRef, api } from './api';
import type { ChatStore } from './chat-store';
import { avatar } from './chat-messages';
import { type Child, h, nextId, replace } from './dom';
import { type Key, t } from './i18n';
import type { IconName } from './icons';
import { alertBox, busy, button, checkbox, errorText, icon, openDialog, textField, toast } from './ui';

export type NewKind = 'group' | 'channel' | 'announce';

export function kindIcon(kind: Conversation['kind']): IconName {
	switch (kind) {
		case 'channel':
			return 'hash';
		case 'announce':
			return 'megaphone';
		case 'group':
			return 'users';
		default:
			return 'user';
	}
}

/** "3 members" / "1 member". */
export function memberCount(n: number): string {
	return n === 1 ? t('chat.memberCount1') : t('chat.memberCount', { n });
}

export function kindLabel(kind: Conversation['kind']): string {
	return t(`chat.kind.${kind}` as Key);
}

/**
 * A people picker: a search box over the directory and a result list.
 * multi: people are toggled into a chip list; otherwise onPick runs at once.
 */
export function peoplePicker(
	store: ChatStore,
	o: { multi: boolean; exclude?: Set<number>; onPick?(u: UserRef): void; testid?: string },
): { el: HTMLElement; selected(): UserRef[]; focus(): void } {
	const chosen = new Map<number, UserRef>();
	const listId = nextId('people');
	const q = textField({ label: t('chat.findPeople'), testid: o.testid ?? 'people-search', placeholder: t('chat.findPeopleHint'), maxLength: 64 });
	q.input.type = 'search';
	q.input.setAttribute('aria-controls', listId);
	const results = h('ul', { id: listId, class: 'people-list', testid: 'people-results', attrs: { 'aria-label': t('chat.people') } });
	const chips = h('ul', { class: 'people-chips', hidden: !o.multi, attrs: { 'aria-label': t('chat.selectedPeople') } });
	const status = h('p', { class: 'muted people-status', attrs: { 'aria-live': 'polite' } });
	let gen = 0;
	let timer: number | undefined;

	function drawChips(): void {
		replace(
			chips,
			[...chosen.values()].map((u) =>
				h(
					'li',
					{ class: 'people-chip' },
					h('span', null, u.display_name || u.username),
					h(
						'button',
						{
							type: 'button',
							class: 'btn btn-ghost btn-icon',
							attrs: { 'aria-label': t('chat.removePerson', { name: u.display_name || u.username }) },
							on: {
								click: () => {
									chosen.delete(u.id);
									drawChips();
									void search();
								},
							},
						},
						icon('x', 'icon icon-sm'),
					),
				),
			),
		);
		chips.hidden = !o.multi || chosen.size === 0;
	}

	async function search(): Promise<void> {
		const mine = ++gen;
		try {
			const r = await api('get', '/api/v1/directory', { query: { q: q.input.value.trim(), limit: 30 } });
			if (mine !== gen) return;
			const users = r.users.filter((u) => u.id !== store.me.id && !o.exclude?.has(u.id));
			for (const u of users) store.learnUser(u);
			replace(
				results,
				users.map((u) => {
					const on = chosen.has(u.id);
					return h(
						'li',
						null,
						h(
							'button',
							{
								type: 'button',
								class: ['people-item', on && 'is-on'],
								testid: 'people-item',
								attrs: { 'data-username': u.username, 'aria-pressed': o.multi ? String(on) : null },
								on: {
									click: () => {
										if (!o.multi) {
											o.onPick?.(u);
											return;
										}
										if (chosen.has(u.id)) chosen.delete(u.id);
										else chosen.set(u.id, u);
										drawChips();
										void search();
									},
								},
							},
							avatar(u.display_name || u.username, u.id),
							h('span', { class: 'people-text' }, h('span', { class: 'people-name' }, u.display_name || u.username), h('span', { class: 'people-user' }, `@${u.username}`)),
							o.multi && on ? icon('check', 'icon people-check') : null,
						),
					);
				}),
			);
			replace(status, users.length ? '' : t('chat.noPeople'));
		} catch (e) {
			if (mine === gen) replace(status, errorText(e));
		}
	}

	q.input.addEventListener('input', () => {
		window.clearTimeout(timer);
		timer = window.setTimeout(() => void search(), 250);
	});
	q.input.addEventListener('keydown', (ev) => {
		if (ev.key === 'ArrowDown') {
			ev.preventDefault();
			results.querySelector<HTMLElement>('button')?.focus();
		}
	});
	results.addEventListener('keydown', (ev) => {
		const all = [...results.querySelectorAll<HTMLElement>('button')];
		const i = all.indexOf(document.activeElement as HTMLElement);
		if (ev.key === 'ArrowDown' && i >= 0) {
			ev.preventDefault();
			all[Math.min(all.length - 1, i + 1)]?.focus();
		} else if (ev.key === 'ArrowUp' && i >= 0) {
			ev.preventDefault();
			if (i === 0) q.input.focus();
			else all[i - 1]?.focus();
		}
	});
	void search();
	return {
		el: h('div', { class: 'people' }, q.wrap, chips, status, results),
		selected: () => [...chosen.values()],
		focus: () => q.input.focus(),
	};
}

/** "New chat": pick one person; opens (or reuses) the direct conversation. */
export function newDirectDialog(store: ChatStore, open: (id: number) => void): void {
	const err = alertBox();
	const d = openDialog({ title: t('chat.newDirect'), testid: 'new-direct-dialog' });
	const picker = peoplePicker(store, {
		multi: false,
		onPick: async (u) => {
			err.set(null);
			try {
				const r = await api('post', '/api/v1/conversations', { body: { kind: 'direct', members: [u.id] } });
				store.adopt(r.conversation);
				d.close();
				open(r.conversation.id);
			} catch (e) {
				err.set(errorText(e));
			}
		},
	});
	d.body.append(picker.el, err.el);
	picker.focus();
}

/** "New group / channel / announcement channel". */
export function newGroupDialog(store: ChatStore, kind: NewKind, open: (id: number) => void): void {
	const titles: Record<NewKind, Key> = { group: 'chat.newGroup', channel: 'chat.newChannel', announce: 'chat.newAnnounce' };
	const d = openDialog({ title: t(titles[kind]), testid: 'new-group-dialog', wide: true });
	const err = alertBox('new-group-error');
	const name = textField({ label: t('chat.groupName'), testid: 'group-name', maxLength: 128, required: true });
	const topic = textField({ label: t('chat.groupTopic'), testid: 'group-topic', maxLength: 1024 });
	const approval = checkbox(t('chat.set.joinApproval'), { testid: 'group-approval', hint: t('chat.set.joinApprovalHint') });
	const watermarkBox = checkbox(t('chat.set.watermark'), { testid: 'group-watermark', hint: t('chat.set.watermarkHint') });
	const noCopy = checkbox(t('chat.set.noCopy'), { testid: 'group-nocopy' });
	const noForward = checkbox(t('chat.set.noForward'), { testid: 'group-noforward' });
	const picker = peoplePicker(store, { multi: true, testid: 'group-people' });
	const create = button(t('chat.create'), { kind: 'primary', type: 'submit', testid: 'group-create' });
	const explain: Record<NewKind, Key> = { group: 'chat.groupExplain', channel: 'chat.channelExplain', announce: 'chat.announceExplain' };
	const form = h(
		'form',
		{
			class: 'form',
			attrs: { novalidate: true },
			on: {
				submit: (ev) => {
					ev.preventDefault();
					const n = name.input.value.trim();
					if (!n) {
						name.setError(t('form.required'));
						name.input.focus();
						return;
					}
					name.setError(null);
					err.set(null);
					const settings: { join_approval?: boolean; watermark?: boolean; copy?: boolean; forward?: boolean } = {
						watermark: watermarkBox.input.checked,
						copy: !noCopy.input.checked,
						forward: !noForward.input.checked,
					};
					if (kind !== 'group') settings.join_approval = approval.input.checked;
					void busy(create, async () => {
						try {
							const r = await api('post', '/api/v1/conversations', {
								body: {
									kind,
									name: n,
									topic: topic.input.value.trim(),
									members: picker.selected().map((u) => u.id),
									settings,
								},
							});
							store.adopt(r.conversation);
							d.close();
							open(r.conversation.id);
						} catch (e) {
							err.set(errorText(e));
						}
					});
				},
			},
		},
		h('p', { class: 'muted' }, t(explain[kind])),
		h('div', { class: 'form-grid' }, name.wrap, topic.wrap),
		h('fieldset', { class: 'fieldset' }, h('legend', null, t('chat.members')), picker.el),
		h(
			'fieldset',
			{ class: 'fieldset' },
			h('legend', null, t('chat.security')),
			h('div', { class: 'check-grid' }, kind !== 'group' ? approval.wrap : null, watermarkBox.wrap, noCopy.wrap, noForward.wrap),
		),
		err.el,
		h('div', { class: 'form-actions' }, button(t('common.cancel'), { onClick: () => d.close() }), create),
	);
	d.body.append(form);
	name.input.focus();
}

/** "Browse channels": open channels of the organisation the user is not in. */
export function browseDialog(store: ChatStore, open: (id: number) => void): void {
	const d = openDialog({ title: t('chat.browse'), testid: 'browse-dialog', wide: true });
	const list = h('ul', { class: 'browse-list', testid: 'browse-list' });
	const status = h('div', { attrs: { 'aria-live': 'polite' } }, h('div', { class: 'loading', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('common.loading')));
	d.body.append(status, list);
	void (async () => {
		try {
			const r = await api('get', '/api/v1/conversations', { query: { discover: 1 } });
			replace(status, r.conversations.length ? '' : h('p', { class: 'muted' }, t('chat.noChannels')));
			replace(
				list,
				r.conversations.map((c) => {
					const join = button(c.settings.join_approval ? t('chat.askToJoin') : t('chat.join'), {
						small: true,
						kind: 'primary',
						testid: 'browse-join',
					});
					join.addEventListener('click', () =>
						void busy(join, async () => {
							try {
								const res = await api('post', '/api/v1/conversations/{id}/join', { path: { id: c.id } });
								if (res.status === 'pending') {
									toast(t('chat.joinRequested', { name: c.name }), 'info');
									replace(join, h('span', { class: 'btn-label' }, t('chat.requested')));
									join.disabled = true;
									void store.loadList();
									return;
								}
								await store.refetchConv(c.id);
								d.close();
								open(c.id);
							} catch (e) {
								toast(errorText(e), 'danger');
							}
						}),
					);
					return h(
						'li',
						{ class: 'browse-item', testid: 'browse-item', attrs: { 'data-name': c.name } },
						h('span', { class: 'conv-kind' }, icon(kindIcon(c.kind))),
						h(
							'span',
							{ class: 'browse-text' },
							h('span', { class: 'browse-name' }, c.name),
							h('span', { class: 'muted' }, [c.topic, memberCount(c.member_count)].filter(Boolean).join(' · ')),
						),
						join,
					);
				}),
			);
		} catch (e) {
			replace(status, h('p', { class: 'alert alert-danger' }, errorText(e)));
		}
	})();
}

/** "Forward": choose one of the user's conversations. */
export function forwardDialog(store: ChatStore, msgId: number, from: number, open: (id: number) => void): void {
	const d = openDialog({ title: t('chat.forwardTitle'), testid: 'forward-dialog' });
	const filter = textField({ label: t('chat.findConv'), testid: 'forward-filter', maxLength: 64 });
	filter.input.type = 'search';
	const list = h('ul', { class: 'people-list', testid: 'forward-list' });
	const draw = () => {
		const f = filter.input.value.trim().toLowerCase();
		const convs = store
			.sorted()
			.filter((c) => c.my_status === 'active' && c.can_post && c.id !== from)
			.filter((c) => !f || store.convTitle(c).toLowerCase().includes(f));
		const items: Child[] = convs.map((c) =>
			h(
				'li',
				null,
				h(
					'button',
					{
						type: 'button',
						class: 'people-item',
						testid: 'forward-item',
						attrs: { 'data-name': store.convTitle(c) },
						on: {
							click: async (ev) => {
								const btn = ev.currentTarget as HTMLButtonElement;
								btn.disabled = true;
								try {
									const r = await api('post', '/api/v1/messages/{id}/forward', { path: { id: msgId }, body: { conv: c.id } });
									store.applyMessage(r.message);
									d.close();
									toast(t('chat.forwarded'), 'success');
									open(c.id);
								} catch (e) {
									btn.disabled = false;
									if (e instanceof ApiError && e.code === 'forward_disabled') toast(t('err.forward_disabled'), 'warning');
									else toast(errorText(e), 'danger');
								}
							},
						},
					},
					h('span', { class: 'conv-kind' }, icon(kindIcon(c.kind))),
					h('span', { class: 'people-text' }, h('span', { class: 'people-name' }, store.convTitle(c)), h('span', { class: 'people-user' }, kindLabel(c.kind))),
				),
			),
		);
		replace(list, items.length ? items : h('li', { class: 'muted' }, t('chat.noConvs')));
	};
	filter.input.addEventListener('input', draw);
	d.body.append(filter.wrap, list);
	draw();
	filter.input.focus();
}
