// views/chat.ts — "Chat" (RG-IM-a/b/c, RG-WEB-b, IN-PHISH, MI-3,
// RG-DATA-b): the conversation list (unread badges, last message, kind
// icon, presence; new chat / group / channel / announcement; browse
// channels; message search), the open conversation (history, composer,
// typing line, watermark when the group asks for one, copying blocked when
// the group forbids it) and a side drawer for a thread or the
// conversation's settings and members.  Routes: #/chat, #/chat/ID and
// #/chat/ID?m=MSG (jump to a message).  State lives in chat-store, which
// the event stream keeps current; this page only draws it.
import { avatar, fmtShort, messageList, msgPreview, type MessageList } from '../chat-messages';
import { composer, type Composer } from '../chat-composer';
import { browseDialog, forwardDialog, kindIcon, kindLabel, memberCount, newDirectDialog, newGroupDialog } from '../chat-dialogs';
import { searchPanel } from '../chat-search';
import { infoPanel, presenceDot, type Panel } from '../chat-settings';
import { type Change, type Conv, chatStore } from '../chat-store';
import { watermark } from '../chat-watermark';
import { h, replace } from '../dom';
import { t } from '../i18n';
import { button, errorText, icon, toast } from '../ui';
import type { AppCtx } from './shell';

interface Route {
	conv: number;
	msg: number;
}

function parseRoute(): Route {
	const m = /^#\/?chat(?:\/(\d{1,15}))?(?:\?(.*))?$/.exec(location.hash);
	if (!m) return { conv: 0, msg: 0 };
	const q = new URLSearchParams(m[2] ?? '');
	return { conv: Number(m[1] ?? 0) || 0, msg: Number(q.get('m') ?? 0) || 0 };
}

export function chatHref(conv: number, msg = 0): string {
	return msg ? `#/chat/${conv}?m=${msg}` : `#/chat/${conv}`;
}

interface Pane {
	id: number;
	el: HTMLElement;
	list: MessageList;
	composer: Composer;
	head: HTMLElement;
	typing: HTMLElement;
	body: HTMLElement;
	drawer: { kind: 'thread'; root: number; list: MessageList; composer: Composer; el: HTMLElement } | { kind: 'info'; panel: Panel } | null;
	lastSeen: number;
}

export function chatPage(ctx: AppCtx): HTMLElement {
	const store = chatStore(ctx.session);
	const me = ctx.session.user;

	// ---- the side column ----
	const convList = h('ul', { class: 'conv-list', testid: 'conv-list', attrs: { 'aria-label': t('chat.conversations') } });
	const listStatus = h('div', { class: 'conv-status' });
	const linkBanner = h('p', { class: 'chat-link', testid: 'chat-link-state', hidden: true, attrs: { role: 'status' } });
	const search = searchPanel(store, {
		onOpen: (conv, msg) => {
			location.hash = chatHref(conv, msg);
		},
		onActive: (on) => {
			convList.hidden = on;
			listStatus.hidden = on;
		},
	});
	const newMenu = h(
		'details',
		{ class: 'dropdown', testid: 'chat-new' },
		h(
			'summary',
			{ class: 'btn btn-primary btn-sm', testid: 'chat-new-toggle', attrs: { 'aria-label': t('chat.new') } },
			icon('plus'),
			h('span', { class: 'btn-label' }, t('chat.newShort')),
		),
		h(
			'div',
			{ class: 'dropdown-menu', attrs: { role: 'group', 'aria-label': t('chat.new') } },
			menuButton(t('chat.newDirect'), 'user', 'chat-new-direct', () => newDirectDialog(store, go)),
			menuButton(t('chat.newGroup'), 'users', 'chat-new-group', () => newGroupDialog(store, 'group', go)),
			menuButton(t('chat.newChannel'), 'hash', 'chat-new-channel', () => newGroupDialog(store, 'channel', go)),
			menuButton(t('chat.newAnnounce'), 'megaphone', 'chat-new-announce', () => newGroupDialog(store, 'announce', go)),
			menuButton(t('chat.browse'), 'search', 'chat-browse', () => browseDialog(store, go)),
		),
	);
	function menuButton(label: string, ic: Parameters<typeof icon>[0], testid: string, fn: () => void): HTMLElement {
		return h(
			'button',
			{
				type: 'button',
				class: 'menu-item',
				testid,
				on: {
					click: () => {
						newMenu.open = false;
						fn();
					},
				},
			},
			icon(ic, 'icon icon-sm'),
			h('span', null, label),
		);
	}
	newMenu.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape' && newMenu.open) {
			newMenu.open = false;
			newMenu.querySelector('summary')?.focus();
		}
	});
	document.addEventListener('pointerdown', function outside(ev) {
		if (!root.isConnected && started) {
			document.removeEventListener('pointerdown', outside);
			return;
		}
		if (newMenu.open && !newMenu.contains(ev.target as Node)) newMenu.open = false;
	});

	const side = h(
		'aside',
		{ class: 'chat-side', attrs: { 'aria-label': t('chat.conversations') } },
		h('div', { class: 'chat-side-head' }, h('h2', { class: 'chat-side-title' }, t('chat.conversations')), newMenu),
		search.el,
		linkBanner,
		listStatus,
		convList,
	);

	// ---- the pane ----
	const paneHolder = h('section', { class: 'chat-pane', attrs: { 'aria-label': t('chat.conversation') } });
	const drawer = h('aside', { class: 'chat-drawer', hidden: true, testid: 'chat-drawer' });
	const announcer = h('p', { class: 'sr-only', attrs: { 'aria-live': 'polite', role: 'status' } });
	const root = h('div', { class: 'chat', testid: 'chat' }, side, paneHolder, drawer, announcer);
	let pane: Pane | null = null;
	let started = false;

	function go(id: number): void {
		location.hash = chatHref(id);
	}

	// ---- the list ----

	function drawList(): void {
		const convs = store.sorted();
		if (!store.listLoaded) {
			replace(
				listStatus,
				store.listError
					? h('div', { class: 'conv-error' }, h('p', { class: 'alert alert-danger' }, errorText(store.listError)), button(t('common.retry'), { small: true, icon: 'refresh', onClick: () => void store.loadList() }))
					: h('div', { class: 'loading', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('common.loading')),
			);
		} else if (!convs.length) {
			replace(
				listStatus,
				h(
					'div',
					{ class: 'conv-empty', testid: 'conv-empty' },
					h('p', null, t('chat.noConvsYet')),
					button(t('chat.newDirect'), { small: true, kind: 'primary', icon: 'plus', onClick: () => newDirectDialog(store, go) }),
					button(t('chat.browse'), { small: true, icon: 'search', onClick: () => browseDialog(store, go) }),
				),
			);
		} else {
			replace(listStatus);
		}
		const open = pane?.id ?? 0;
		/* keep keyboard focus on the same conversation across redraws */
		const focused = convList.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.conv : undefined;
		replace(convList, convs.map((c) => convItem(c, c.id === open)));
		if (focused) convList.querySelector<HTMLElement>(`a[data-conv="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
	}

	function convItem(c: Conv, current: boolean): HTMLElement {
		const title = store.convTitle(c);
		const typingUsers = store.typingUsers(c.id);
		let preview: string;
		if (c.my_status === 'pending') preview = t('chat.pendingShort');
		else if (typingUsers.length) preview = t('chat.typingShort');
		else if (c.last_msg) {
			const lm = c.last_msg;
			const who = lm.sender === me.id ? t('chat.you') : c.kind === 'direct' ? '' : store.nameOf(lm.sender);
			preview = who && lm.kind !== 'system' ? `${who}: ${msgPreview(lm)}` : msgPreview(lm);
		} else preview = c.topic || t('chat.noMessages');
		const peerOnline = c.kind === 'direct' && c.peer ? store.isOnline(c.peer.id) : undefined;
		const unread = c.my_status === 'active' ? c.unread : 0;
		return h(
			'li',
			null,
			h(
				'a',
				{
					class: ['conv-item', unread > 0 && 'has-unread', c.my_status === 'pending' && 'is-pending'],
					href: chatHref(c.id),
					testid: 'conv-item',
					attrs: { 'data-conv': c.id, 'data-name': title, 'aria-current': current ? 'page' : null },
				},
				h(
					'span',
					{ class: 'avatar-wrap' },
					c.kind === 'direct' && c.peer ? avatar(title, c.peer.id) : h('span', { class: `conv-kind conv-kind-${c.kind}`, title: kindLabel(c.kind) }, icon(kindIcon(c.kind))),
					peerOnline !== undefined ? presenceDot(peerOnline) : null,
				),
				h(
					'span',
					{ class: 'conv-text' },
					h(
						'span',
						{ class: 'conv-top' },
						h('span', { class: 'conv-name', testid: 'conv-name' }, title),
						c.kind !== 'direct' ? h('span', { class: 'sr-only' }, ` (${kindLabel(c.kind)})`) : null,
						h('span', { class: 'conv-time' }, fmtShort(c.last_msg?.created_at ?? 0)),
					),
					h(
						'span',
						{ class: 'conv-bottom' },
						h('span', { class: ['conv-preview', typingUsers.length > 0 && 'is-typing'], testid: 'conv-preview' }, preview),
						unread > 0
							? h('span', { class: 'conv-unread', testid: 'conv-unread', attrs: { 'aria-label': t('chat.unreadN', { n: unread }) } }, unread > 99 ? '99+' : String(unread))
							: null,
					),
				),
			),
		);
	}

	// ---- the open conversation ----

	function drawEmptyPane(): void {
		pane = null;
		root.classList.remove('chat-has-open');
		closeDrawer();
		replace(
			paneHolder,
			h(
				'div',
				{ class: 'chat-empty', testid: 'chat-empty' },
				icon('chat', 'icon chat-empty-icon'),
				h('p', { class: 'chat-empty-title' }, t('chat.pickOne')),
				h('p', { class: 'muted' }, t('chat.pickOneHint')),
				h('div', { class: 'btn-row' }, button(t('chat.newDirect'), { kind: 'primary', icon: 'plus', onClick: () => newDirectDialog(store, go) }), button(t('chat.browse'), { icon: 'search', onClick: () => browseDialog(store, go) })),
			),
		);
	}

	function headContent(c: Conv): HTMLElement[] {
		const title = store.convTitle(c);
		const online = c.kind === 'direct' && c.peer ? store.isOnline(c.peer.id) : undefined;
		const sub =
			c.kind === 'direct'
				? online === undefined
					? c.peer
						? `@${c.peer.username}`
						: ''
					: online
						? t('chat.online')
						: t('chat.offline')
				: [kindLabel(c.kind), memberCount(c.member_count), c.topic].filter(Boolean).join(' · ');
		const flags: HTMLElement[] = [];
		if (c.settings.watermark) flags.push(h('span', { class: 'chat-flag', title: t('chat.flag.watermark') }, icon('eye', 'icon icon-sm'), h('span', { class: 'sr-only' }, t('chat.flag.watermark'))));
		if (!c.settings.copy) flags.push(h('span', { class: 'chat-flag', title: t('chat.flag.noCopy') }, icon('lock', 'icon icon-sm'), h('span', { class: 'sr-only' }, t('chat.flag.noCopy'))));
		return [
			h(
				'a',
				{ class: 'btn btn-ghost btn-icon chat-back', href: '#/chat', testid: 'chat-back', attrs: { 'aria-label': t('chat.backToList') } },
				icon('chevronLeft'),
			),
			h(
				'span',
				{ class: 'avatar-wrap' },
				c.kind === 'direct' && c.peer ? avatar(title, c.peer.id) : h('span', { class: `conv-kind conv-kind-${c.kind}` }, icon(kindIcon(c.kind))),
				online !== undefined ? presenceDot(online) : null,
			),
			h(
				'div',
				{ class: 'chat-head-text' },
				h('h2', { class: 'chat-title', testid: 'chat-title', tabIndex: -1 }, title, ...flags),
				h('p', { class: 'chat-sub', testid: 'chat-sub' }, sub),
			),
			h(
				'div',
				{ class: 'chat-head-actions' },
				h(
					'button',
					{
						type: 'button',
						class: 'btn btn-ghost btn-icon',
						testid: 'chat-info',
						title: t('chat.info'),
						attrs: { 'aria-label': t('chat.info'), 'aria-pressed': String(pane?.drawer?.kind === 'info') },
						on: { click: () => toggleInfo() },
					},
					icon(c.kind === 'direct' ? 'info' : 'gear'),
				),
			),
		];
	}

	function openConv(id: number): void {
		const c = store.convs.get(id);
		if (!c) {
			if (!store.listLoaded) {
				replace(paneHolder, h('div', { class: 'loading', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('common.loading')));
				return; /* drawn again once the list is in */
			}
			/* maybe joined a moment ago */
			void store.refetchConv(id).then(() => {
				if (store.convs.has(id) && parseRoute().conv === id) route();
				else if (parseRoute().conv === id) {
					drawEmptyPane();
					toast(t('chat.gone'), 'warning');
				}
			});
			return;
		}
		closeDrawer();
		store.openConv = id;
		root.classList.add('chat-has-open');
		const list = messageList(store, id, {
			onReply: (m) => p.composer.setReply(m),
			onThread: (r) => openThread(r),
			onForward: (m) => forwardDialog(store, m.id, id, go),
			focusComposer: () => p.composer.focus(),
		});
		const comp = composer(store, id, { label: t('chat.messageTo', { name: store.convTitle(c) }), onEditLast: () => list.editLast() });
		const head = h('header', { class: 'chat-head' }, headContent(c));
		const typing = h('p', { class: 'chat-typing', testid: 'chat-typing' });
		const body = h('div', { class: 'chat-body' }, list.el);
		const el = h('div', { class: 'chat-conv', attrs: { 'data-conv': id } }, head, body, typing, comp.el);
		const p: Pane = { id, el, list, composer: comp, head, typing, body, drawer: null, lastSeen: c.last_msg?.id ?? 0 };
		pane = p;
		applyConvSettings();
		replace(paneHolder, el);
		list.update();
		void store.ensureMessages(id).then(
			() => {
				if (pane === p) store.markRead(id);
			},
			(e: unknown) => {
				if (pane === p) replace(body, h('p', { class: 'alert alert-danger chat-load-error', attrs: { role: 'alert' } }, errorText(e)));
			},
		);
		void store.loadMembers(id).catch(() => {});
		drawList();
		drawTyping();
	}

	/** Watermark and copy protection follow the conversation's settings. */
	function applyConvSettings(): void {
		if (!pane) return;
		const c = store.convs.get(pane.id);
		if (!c) return;
		const wm = pane.body.querySelector('.wm');
		if (c.settings.watermark && !wm) pane.body.appendChild(watermark(me));
		else if (!c.settings.watermark && wm) wm.remove();
		root.classList.toggle('no-copy', !c.settings.copy);
		const dwm = drawer.querySelector('.wm');
		if (pane.drawer?.kind === 'thread') {
			if (c.settings.watermark && !dwm) pane.drawer.el.appendChild(watermark(me));
			else if (!c.settings.watermark && dwm) dwm.remove();
		}
	}

	function refreshHead(): void {
		if (!pane) return;
		const c = store.convs.get(pane.id);
		if (!c) return;
		const focused = pane.head.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.testid : null;
		replace(pane.head, headContent(c));
		if (focused) pane.head.querySelector<HTMLElement>(`[data-testid="${focused}"]`)?.focus();
		pane.composer.refresh();
		applyConvSettings();
	}

	function drawTyping(): void {
		if (!pane) return;
		const names = store.typingUsers(pane.id).map((u) => store.nameOf(u));
		let text = '';
		if (names.length === 1) text = t('chat.typing1', { name: names[0] });
		else if (names.length === 2) text = t('chat.typing2', { a: names[0], b: names[1] });
		else if (names.length > 2) text = t('chat.typingMany');
		pane.typing.textContent = text;
	}

	function announceNew(): void {
		if (!pane) return;
		const c = store.convs.get(pane.id);
		const lm = c?.last_msg;
		if (!lm || lm.id <= pane.lastSeen) return;
		pane.lastSeen = lm.id;
		if (lm.sender !== me.id) announcer.textContent = t('chat.announce', { name: store.nameOf(lm.sender), text: msgPreview(lm).slice(0, 120) });
	}

	// ---- drawer: thread or info ----

	function closeDrawer(): void {
		if (pane) pane.drawer = null;
		drawer.hidden = true;
		root.classList.remove('chat-has-drawer');
		replace(drawer);
	}

	function openThread(rootId: number): void {
		if (!pane) return;
		const p = pane;
		const list = messageList(
			store,
			p.id,
			{
				onReply: (m) => tc.setReply(m),
				onThread: () => {},
				onForward: (m) => forwardDialog(store, m.id, p.id, go),
				focusComposer: () => tc.focus(),
			},
			rootId,
		);
		const tc = composer(store, p.id, { threadRoot: rootId, label: t('chat.replyThreadLabel'), onEditLast: () => list.editLast() });
		const el = h(
			'div',
			{ class: 'drawer-inner', testid: 'thread-panel' },
			h(
				'div',
				{ class: 'drawer-head' },
				h('h2', { class: 'drawer-title', tabIndex: -1 }, t('chat.thread')),
				h('button', { type: 'button', class: 'btn btn-ghost btn-icon', testid: 'thread-close', attrs: { 'aria-label': t('common.close') }, on: { click: () => closeDrawer() } }, icon('x')),
			),
			h('div', { class: 'chat-body' }, list.el),
			tc.el,
		);
		p.drawer = { kind: 'thread', root: rootId, list, composer: tc, el };
		replace(drawer, el);
		drawer.hidden = false;
		root.classList.add('chat-has-drawer');
		applyConvSettings();
		list.update();
		void store.loadThread(p.id, rootId).catch((e: unknown) => toast(errorText(e), 'danger'));
		tc.focus();
	}

	function toggleInfo(): void {
		if (!pane) return;
		if (pane.drawer?.kind === 'info') {
			closeDrawer();
			refreshHead();
			pane.head.querySelector<HTMLElement>('[data-testid="chat-info"]')?.focus();
			return;
		}
		const p = pane;
		const panel = infoPanel(store, p.id, {
			role: me.role,
			close: () => {
				closeDrawer();
				refreshHead();
				p.head.querySelector<HTMLElement>('[data-testid="chat-info"]')?.focus();
			},
			onGone: () => {
				closeDrawer();
				location.hash = '#/chat';
			},
		});
		p.drawer = { kind: 'info', panel };
		replace(drawer, panel.el);
		drawer.hidden = false;
		root.classList.add('chat-has-drawer');
		refreshHead();
		panel.el.querySelector<HTMLElement>('.drawer-title')?.focus();
	}

	drawer.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape' && !ev.defaultPrevented && !document.querySelector('dialog[open]')) {
			const wasInfo = pane?.drawer?.kind === 'info';
			closeDrawer();
			if (wasInfo) refreshHead();
			pane?.composer.focus();
		}
	});

	// ---- copy protection (settings.copy false) ----
	const blockCopy = (ev: Event) => {
		if (!root.classList.contains('no-copy')) return;
		const target = ev.target as HTMLElement | null;
		if (target?.closest('.composer, input, textarea')) return;
		ev.preventDefault();
		if (ev.type === 'copy' || ev.type === 'cut') toast(t('chat.copyBlocked'), 'warning');
	};
	root.addEventListener('copy', blockCopy);
	root.addEventListener('cut', blockCopy);
	root.addEventListener('dragstart', blockCopy);

	// ---- keyboard: Alt+↑/↓ moves between conversations ----
	root.addEventListener('keydown', (ev) => {
		if (!ev.altKey || (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown')) return;
		const convs = store.sorted();
		if (!convs.length) return;
		ev.preventDefault();
		const i = convs.findIndex((c) => c.id === pane?.id);
		const next = ev.key === 'ArrowDown' ? Math.min(convs.length - 1, i + 1) : Math.max(0, i - 1);
		go(convs[next < 0 ? 0 : next].id);
	});

	// ---- store changes ----
	const off = store.on((ch: Change) => {
		if (!root.isConnected && started) {
			off();
			return;
		}
		switch (ch.kind) {
			case 'list':
				drawList();
				if (pane && store.convs.has(pane.id)) {
					refreshHead();
					updatePanel();
					announceNew();
				} else if (!pane && parseRoute().conv && store.listLoaded) route();
				break;
			case 'msgs':
				if (pane && ch.conv === pane.id) {
					pane.list.update();
					if (pane.drawer?.kind === 'thread') pane.drawer.list.update();
				}
				break;
			case 'receipt':
				if (pane && ch.conv === pane.id) pane.list.update();
				break;
			case 'typing':
				drawList();
				if (pane && ch.conv === pane.id) drawTyping();
				break;
			case 'members':
				if (pane && ch.conv === pane.id) {
					pane.list.update();
					updatePanel(true);
				}
				break;
			case 'presence':
				drawList();
				refreshHead();
				updatePanel(true);
				break;
			case 'link':
				drawLink();
				break;
			case 'gone':
				if (pane && ch.conv === pane.id) {
					toast(ch.why === 'dissolve' ? t('chat.wasDissolved') : t('chat.wasRemoved'), 'warning');
					location.hash = '#/chat';
				}
				break;
			default:
				break;
		}
	});

	/** Redraws the details panel when what it shows changed (not on every message). */
	let panelSig = '';
	function updatePanel(force = false): void {
		if (pane?.drawer?.kind !== 'info') return;
		const c = store.convs.get(pane.id);
		const sig = c
			? JSON.stringify([c.name, c.topic, c.settings, c.member_count, c.my_role, c.my_status, c.legal_hold, c.peer])
			: '';
		if (!force && sig === panelSig) return;
		panelSig = sig;
		pane.drawer.panel.update();
	}

	function drawLink(): void {
		const s = store.link;
		linkBanner.hidden = s === 'online';
		linkBanner.className = `chat-link chat-link-${s}`;
		replace(linkBanner, s === 'online' ? null : [h('span', { class: 'spinner' }), s === 'offline' ? t('chat.offlineBanner') : t('chat.connecting')]);
	}

	const onVisible = () => {
		if (!root.isConnected && started) {
			document.removeEventListener('visibilitychange', onVisible);
			window.removeEventListener('focus', onVisible);
			return;
		}
		if (pane && document.visibilityState === 'visible') store.markRead(pane.id);
	};
	document.addEventListener('visibilitychange', onVisible);
	window.addEventListener('focus', onVisible);

	// ---- routing ----
	function route(): void {
		const r = parseRoute();
		if (!r.conv) {
			store.openConv = 0;
			drawEmptyPane();
			drawList();
			return;
		}
		if (!pane || pane.id !== r.conv) openConv(r.conv);
		if (r.msg && pane && pane.id === r.conv) {
			const p = pane;
			void store.ensureMessages(r.conv).then(() => p.list.jumpTo(r.msg));
			history.replaceState(null, '', chatHref(r.conv));
		}
	}

	const onHash = () => {
		if (!root.isConnected) {
			window.removeEventListener('hashchange', onHash);
			if (store.openConv === pane?.id) store.openConv = 0;
			return;
		}
		route();
	};
	window.addEventListener('hashchange', onHash);

	drawLink();
	drawList();
	queueMicrotask(() => {
		started = true;
		route();
	});
	return root;
}
