// chat-messages.ts — the message list of a conversation or a thread
// (RG-IM-a/b/c, IN-PHISH, RG-DATA-b): history paging on scroll to the top,
// day separators, grouping of consecutive messages, the "new messages"
// line, server HTML rendered through chat-html (allow-list copy; links go
// to the warning page), attachments, reactions, replies and thread
// references, pending and failed sends, inline editing, recall ("message
// recalled" appears live for everyone through the message.recall event),
// forward (disabled when the group forbids it) and copy (hidden when the
// group forbids it).  The list is patched by key, so a new message or a
// reaction does not rebuild the others and the scroll position holds.
import { ApiError, type Conversation, fileUrl, api } from './api';
import { htmlText, renderMessageHtml } from './chat-html';
import { decorateLink, openLinkWarning, worstVerdict } from './chat-link';
import { type ChatStore, type LocalMsg, type Msg, RECEIPT_GROUP_MAX } from './chat-store';
import { type Child, h, nextId, replace } from './dom';
import { getLang, t } from './i18n';
import { badge, button, confirmDialog, copyText, errorText, icon, toast } from './ui';

export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '👀', '✅'] as const;
const GROUP_GAP_S = 5 * 60;
const LOAD_OLDER_PX = 160;
const JUMP_PAGES = 20;

export interface ListHooks {
	onReply(m: Msg): void;
	onThread(root: number): void;
	onForward(m: Msg): void;
	/** After the user finished editing (focus goes back to the composer). */
	focusComposer(): void;
}

export interface MessageList {
	el: HTMLElement;
	update(): void;
	jumpTo(id: number): Promise<boolean>;
	/** Starts editing the newest own message; false when there is none. */
	editLast(): boolean;
	scrollToBottom(): void;
}

// ---- formatting ----

const timeFmt = new Map<string, Intl.DateTimeFormat>();
function fmt(kind: 'time' | 'day' | 'full'): Intl.DateTimeFormat {
	const key = `${getLang()}:${kind}`;
	let f = timeFmt.get(key);
	if (!f) {
		const o: Intl.DateTimeFormatOptions =
			kind === 'time'
				? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
				: kind === 'day'
					? { year: 'numeric', month: 'long', day: 'numeric', weekday: 'long' }
					: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
		f = new Intl.DateTimeFormat(getLang(), o);
		timeFmt.set(key, f);
	}
	return f;
}

export function fmtClock(unix: number): string {
	return fmt('time').format(new Date(unix * 1000));
}

function dayKey(unix: number): string {
	const d = new Date(unix * 1000);
	return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function dayLabel(unix: number): string {
	const d = new Date(unix * 1000);
	const today = new Date();
	const yesterday = new Date(Date.now() - 86_400_000);
	const same = (a: Date, b: Date) => a.toDateString() === b.toDateString();
	if (same(d, today)) return t('chat.today');
	if (same(d, yesterday)) return t('chat.yesterday');
	return fmt('day').format(d);
}

/** Short time for lists: the clock today, else the date. */
export function fmtShort(unix: number): string {
	if (!unix) return '';
	const d = new Date(unix * 1000);
	if (d.toDateString() === new Date().toDateString()) return fmtClock(unix);
	const o: Intl.DateTimeFormatOptions =
		d.getFullYear() === new Date().getFullYear() ? { month: 'numeric', day: 'numeric' } : { year: 'numeric', month: 'numeric', day: 'numeric' };
	return new Intl.DateTimeFormat(getLang(), o).format(d);
}

export function fmtSize(n: number): string {
	if (n < 1024) return t('chat.bytes', { n });
	if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
	return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** One-line plain text of a message (previews, quotes, search results). */
export function msgPreview(m: Msg): string {
	if (m.recalled) return t('chat.recalled');
	const text = m.html ? htmlText(m.html) : (m.body ?? '').replace(/\s+/g, ' ').trim();
	if (m.file) return text ? `[${t('chat.file')}] ${m.file.name} · ${text}` : `[${t('chat.file')}] ${m.file.name}`;
	return text;
}

/** A small round avatar with the name's first letter. */
export function avatar(name: string, id: number, cls = ''): HTMLElement {
	const ch = Array.from(name.trim())[0] ?? '?';
	return h('span', { class: ['avatar', `avatar-c${id % 8}`, cls], attrs: { 'aria-hidden': 'true' } }, ch.toUpperCase());
}

// ---- the list ----

type Item = { key: string; sig: string; make: () => HTMLElement };

export function messageList(store: ChatStore, convId: number, hooks: ListHooks, threadRoot = 0): MessageList {
	const list = h('ol', { class: 'msg-list', attrs: { 'aria-label': threadRoot ? t('chat.thread') : t('chat.messages') } });
	const top = h('div', { class: 'msg-top' });
	const scroller = h(
		'div',
		{
			class: 'msg-scroll',
			testid: threadRoot ? 'thread-scroll' : 'msg-scroll',
			tabIndex: 0,
			attrs: { role: 'region', 'aria-label': threadRoot ? t('chat.thread') : t('chat.messages') },
		},
		top,
		list,
	);
	const jump = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-secondary btn-sm msg-jump',
			hidden: true,
			testid: 'msg-jump-latest',
			on: { click: () => scrollToBottom() },
		},
		icon('arrowDown', 'icon icon-sm'),
		t('chat.jumpLatest'),
	);
	const el = h('div', { class: 'msg-view' }, scroller, jump);

	let editing = 0;
	let menuFor = 0;
	let highlight = 0;
	let first = true;
	const conv0 = store.convs.get(convId);
	/* messages after this id are "new" for this visit */
	const lastReadAtOpen = conv0 && conv0.unread > 0 ? conv0.last_read : Number.MAX_SAFE_INTEGER;

	const conv = (): Conversation | undefined => store.convs.get(convId);
	const canModerate = () => {
		const c = conv();
		return !!c && (c.my_role === 'owner' || c.my_role === 'admin') && c.kind !== 'direct';
	};

	// ---- items ----

	function items(): Item[] {
		const cm = store.convMsgs(convId);
		const out: Item[] = [];
		let ids: number[];
		if (threadRoot) {
			ids = [threadRoot, ...store.threadReplies(convId, threadRoot).map((m) => m.id)];
		} else {
			ids = cm.timeline;
		}
		const msgs = ids.map((id) => cm.byId.get(id)).filter((m): m is Msg => !!m);
		const locals = store.localMsgs(convId, threadRoot || undefined).filter((l) => threadRoot || !l.thread_root);
		let prev: { sender: number; at: number; day: string; system: boolean } | null = null;
		let newLine = false;
		const c = conv();
		const lastOwn = [...msgs].reverse().find((m) => m.sender === store.me.id && !m.recalled)?.id ?? 0;
		for (const m of msgs) {
			const day = dayKey(m.created_at);
			if (!prev || prev.day !== day) {
				out.push({ key: `d:${day}`, sig: `${getLang()}:${dayLabel(m.created_at)}`, make: () => daySep(m.created_at) });
				prev = null;
			}
			if (!threadRoot && !newLine && m.id > lastReadAtOpen && m.sender !== store.me.id) {
				newLine = true;
				out.push({ key: 'new', sig: getLang(), make: newSep });
				prev = null;
			}
			const system = m.kind === 'system';
			const cont =
				!!prev &&
				!system &&
				!prev.system &&
				prev.sender === m.sender &&
				m.created_at - prev.at < GROUP_GAP_S &&
				!m.reply_to &&
				!(m.thread_root && !threadRoot) &&
				!m.forwarded;
			const replies = !threadRoot ? store.threadReplies(convId, m.id).length : 0;
			const receipt = m.id === lastOwn && c ? receiptText(c, m) : '';
			const sig = JSON.stringify([
				m.edited_at,
				m.recalled,
				m.reactions,
				cont,
				store.nameOf(m.sender),
				m.reply_to ? replyQuote(m.reply_to) : '',
				m.thread_root && !threadRoot ? threadQuote(m.thread_root) : '',
				replies,
				receipt,
				editing === m.id,
				menuFor === m.id,
				highlight === m.id,
				c?.settings.forward,
				c?.settings.copy,
				c?.my_role,
				getLang(),
			]);
			out.push({ key: `m:${m.id}`, sig, make: () => (system ? systemItem(m) : msgItem(m, cont, replies, receipt)) });
			prev = { sender: m.sender, at: m.created_at, day, system };
		}
		for (const l of locals) {
			out.push({ key: `l:${l.cid}`, sig: `${l.state}:${l.error ?? ''}:${getLang()}`, make: () => localItem(l) });
		}
		return out;
	}

	function receiptText(c: Conversation, m: Msg): string {
		if (c.kind === 'direct') return store.readBy(convId, m.id) > 0 ? t('chat.read') : '';
		if (c.member_count > RECEIPT_GROUP_MAX) return '';
		const n = store.readBy(convId, m.id);
		return n > 0 ? t('chat.readBy', { n }) : '';
	}

	function replyQuote(id: number): string {
		const m = store.msg(convId, id);
		if (!m) return t('chat.earlierMessage');
		return `${store.nameOf(m.sender)}: ${msgPreview(m)}`.slice(0, 140);
	}

	function threadQuote(id: number): string {
		const m = store.msg(convId, id);
		return m ? msgPreview(m).slice(0, 80) : t('chat.earlierMessage');
	}

	// ---- item builders ----

	function daySep(at: number): HTMLElement {
		return h('li', { class: 'msg-day', attrs: { role: 'separator' } }, h('span', null, dayLabel(at)));
	}

	function newSep(): HTMLElement {
		return h('li', { class: 'msg-new', testid: 'msg-new-line', attrs: { role: 'separator' } }, h('span', null, t('chat.newMessages')));
	}

	function systemItem(m: Msg): HTMLElement {
		return h(
			'li',
			{ class: 'msg-system', testid: 'msg-system', attrs: { 'data-id': m.id } },
			h('span', null, m.recalled ? t('chat.recalled') : m.html ? htmlText(m.html) : (m.body ?? '')),
		);
	}

	function bodyOf(m: Msg): Child {
		if (m.recalled) {
			return h(
				'p',
				{ class: 'msg-recalled', testid: 'msg-recalled' },
				icon('recall', 'icon icon-sm'),
				m.sender === store.me.id ? t('chat.recalledMine') : t('chat.recalledBy', { name: store.nameOf(m.sender) }),
			);
		}
		if (editing === m.id) return editor(m);
		if (m.html) {
			const body = h('div', { class: 'msg-body md', testid: 'msg-body' });
			body.appendChild(
				renderMessageHtml(m.html, {
					me: store.me.username,
					onLink: (href, text) => openLinkWarning(href, text, m),
					decorateLink: (a, href) => decorateLink(a, m, href),
				}),
			);
			return body;
		}
		if (m.body) return h('div', { class: 'msg-body msg-plain', testid: 'msg-body' }, m.body);
		return null;
	}

	function fileCard(m: Msg): Child {
		if (!m.file || m.recalled) return null;
		const f = m.file;
		return h(
			'div',
			{ class: 'msg-file', testid: 'msg-file' },
			h('span', { class: 'msg-file-icon' }, icon('file')),
			h('span', { class: 'msg-file-text' }, h('span', { class: 'msg-file-name', testid: 'msg-file-name' }, f.name), h('span', { class: 'msg-file-size' }, fmtSize(f.size))),
			h(
				'a',
				{
					class: 'btn btn-secondary btn-sm',
					href: fileUrl(f.id),
					download: f.name,
					testid: 'msg-file-download',
					title: t('chat.downloadFile', { name: f.name }),
				},
				icon('download', 'icon icon-sm'),
				h('span', { class: 'btn-label' }, t('chat.download')),
			),
		);
	}

	function linkWarn(m: Msg): Child {
		if (m.recalled || !m.links?.length) return null;
		const w = worstVerdict(m);
		if (w === 'blocked' || w === 'malicious') {
			return h('p', { class: 'msg-warn msg-warn-danger', testid: 'msg-link-warning' }, icon('alert', 'icon icon-sm'), t('chat.linkMalicious'));
		}
		if (w === 'lookalike') {
			return h('p', { class: 'msg-warn msg-warn-warning', testid: 'msg-link-warning' }, icon('alert', 'icon icon-sm'), t('chat.linkLookalike'));
		}
		return null;
	}

	function reactionsRow(m: Msg): Child {
		if (m.recalled) return null;
		const entries = Object.entries(m.reactions ?? {}).filter(([, users]) => users.length > 0);
		if (!entries.length) return null;
		return h(
			'div',
			{ class: 'msg-reactions' },
			entries.map(([emoji, users]) => {
				const mine = users.includes(store.me.id);
				const names = users.slice(0, 12).map((u) => store.nameOf(u)).join(', ') + (users.length > 12 ? ' …' : '');
				return h(
					'button',
					{
						type: 'button',
						class: ['reaction', mine && 'reaction-mine'],
						testid: 'reaction',
						title: t('chat.reactedBy', { names, emoji }),
						attrs: { 'aria-pressed': String(mine), 'data-emoji': emoji },
						on: { click: () => void react(m, emoji, !mine) },
					},
					h('span', { class: 'reaction-emoji' }, emoji),
					h('span', { class: 'reaction-count' }, String(users.length)),
				);
			}),
		);
	}

	function msgItem(m: Msg, cont: boolean, replies: number, receipt: string): HTMLElement {
		const mine = m.sender === store.me.id;
		const name = store.nameOf(m.sender);
		const head = cont
			? null
			: h(
					'div',
					{ class: 'msg-head' },
					h('span', { class: 'msg-sender', testid: 'msg-sender' }, name),
					h('time', { class: 'msg-time', title: fmt('full').format(new Date(m.created_at * 1000)), attrs: { datetime: new Date(m.created_at * 1000).toISOString() } }, fmtClock(m.created_at)),
					m.forwarded ? badge(t('chat.forwarded'), 'neutral') : null,
					m.edited_at && !m.recalled ? h('span', { class: 'msg-edited', title: fmt('full').format(new Date(m.edited_at * 1000)) }, t('chat.edited')) : null,
				);
		const quote = m.reply_to && !m.recalled
			? h(
					'button',
					{
						type: 'button',
						class: 'msg-quote',
						testid: 'msg-quote',
						title: t('chat.showOriginal'),
						on: { click: () => void jumpTo(m.reply_to) },
					},
					icon('reply', 'icon icon-sm'),
					h('span', null, replyQuote(m.reply_to)),
				)
			: null;
		const threadRef = m.thread_root && !threadRoot && !m.recalled
			? h(
					'button',
					{ type: 'button', class: 'msg-threadref', on: { click: () => hooks.onThread(m.thread_root) } },
					icon('thread', 'icon icon-sm'),
					h('span', null, t('chat.inThread', { text: threadQuote(m.thread_root) })),
				)
			: null;
		const threadSummary = replies > 0 && !threadRoot
			? h(
					'button',
					{ type: 'button', class: 'msg-replies', testid: 'msg-replies', on: { click: () => hooks.onThread(m.id) } },
					icon('thread', 'icon icon-sm'),
					replies === 1 ? t('chat.reply1') : t('chat.replies', { n: replies }),
				)
			: null;
		const contTime = cont ? h('time', { class: 'msg-ctime', title: fmt('full').format(new Date(m.created_at * 1000)) }, fmtClock(m.created_at)) : null;
		const li = h(
			'li',
			{
				class: ['msg', mine && 'msg-mine', cont && 'msg-cont', m.recalled && 'msg-is-recalled', highlight === m.id && 'msg-hl'],
				testid: 'msg',
				attrs: { 'data-id': m.id, 'data-sender': m.sender },
			},
			h('div', { class: 'msg-gutter' }, cont ? contTime : avatar(name, m.sender)),
			h(
				'div',
				{ class: 'msg-main' },
				head,
				quote,
				threadRef,
				bodyOf(m),
				fileCard(m),
				linkWarn(m),
				reactionsRow(m),
				threadSummary,
				receipt ? h('p', { class: 'msg-receipt', testid: 'msg-receipt' }, receipt) : null,
			),
			m.recalled || editing === m.id ? null : tools(m),
		);
		return li;
	}

	function localItem(l: LocalMsg): HTMLElement {
		const failed = l.state === 'failed';
		return h(
			'li',
			{ class: ['msg', 'msg-mine', 'msg-local', failed && 'msg-failed'], testid: 'msg-local', attrs: { 'data-cid': l.cid } },
			h('div', { class: 'msg-gutter' }, avatar(store.nameOf(store.me.id), store.me.id)),
			h(
				'div',
				{ class: 'msg-main' },
				h('div', { class: 'msg-head' }, h('span', { class: 'msg-sender' }, store.nameOf(store.me.id))),
				h('div', { class: 'msg-body msg-plain' }, l.body),
				failed
					? h(
							'div',
							{ class: 'msg-fail', attrs: { role: 'alert' } },
							icon('alert', 'icon icon-sm'),
							h('span', null, sendErrorText(l.error ?? '')),
							button(t('chat.retry'), { small: true, kind: 'link', testid: 'msg-retry', onClick: () => store.retry(l.cid) }),
							button(t('chat.discard'), { small: true, kind: 'link', onClick: () => store.discard(l.cid) }),
						)
					: h('p', { class: 'msg-sending', testid: 'msg-sending' }, t('chat.sending')),
			),
		);
	}

	// ---- per-message actions ----

	function tools(m: Msg): HTMLElement {
		const c = conv();
		const quick = (label: string, ic: Parameters<typeof icon>[0], fn: () => void, testid: string) =>
			h(
				'button',
				{
					type: 'button',
					class: 'btn btn-ghost btn-icon msg-tool',
					tabIndex: -1,
					title: label,
					testid,
					attrs: { 'aria-label': label },
					on: { click: fn },
				},
				icon(ic),
			);
		const moreId = nextId('menu');
		const more = h(
			'button',
			{
				type: 'button',
				class: 'btn btn-ghost btn-icon msg-tool msg-more',
				title: t('chat.actions'),
				testid: 'msg-more',
				attrs: {
					'aria-label': t('chat.actionsFor', { name: store.nameOf(m.sender), time: fmtClock(m.created_at) }),
					'aria-haspopup': 'menu',
					'aria-expanded': String(menuFor === m.id),
					'aria-controls': menuFor === m.id ? moreId : null,
				},
				on: {
					click: () => {
						menuFor = menuFor === m.id ? 0 : m.id;
						update();
						if (menuFor) list.querySelector<HTMLElement>(`li[data-id="${m.id}"] .menu [role="menuitem"]:not([disabled])`)?.focus();
					},
				},
			},
			icon('more'),
		);
		const bar = h(
			'div',
			{ class: 'msg-tools', attrs: { role: 'toolbar', 'aria-label': t('chat.actions') } },
			quick(t('chat.react', { emoji: '👍' }), 'smile', () => void react(m, '👍', !(m.reactions?.['👍'] ?? []).includes(store.me.id)), 'msg-quick-react'),
			c?.can_post ? quick(t('chat.reply'), 'reply', () => hooks.onReply(m), 'msg-reply') : null,
			!threadRoot ? quick(t('chat.replyThread'), 'thread', () => hooks.onThread(m.thread_root || m.id), 'msg-thread') : null,
			more,
		);
		if (menuFor === m.id) bar.appendChild(menu(m, moreId, more));
		return bar;
	}

	function menu(m: Msg, id: string, opener: HTMLElement): HTMLElement {
		const c = conv();
		const mine = m.sender === store.me.id;
		const close = (focus = true) => {
			menuFor = 0;
			update();
			if (focus) list.querySelector<HTMLElement>(`li[data-id="${m.id}"] .msg-more`)?.focus();
		};
		const item = (label: string, ic: Parameters<typeof icon>[0], fn: () => void, o: { testid: string; disabled?: boolean; title?: string; danger?: boolean }) =>
			h(
				'button',
				{
					type: 'button',
					class: ['menu-item', o.danger && 'menu-item-danger'],
					testid: o.testid,
					disabled: o.disabled,
					title: o.title,
					tabIndex: -1,
					attrs: { role: 'menuitem' },
					on: {
						click: () => {
							close(false);
							fn();
						},
					},
				},
				icon(ic, 'icon icon-sm'),
				h('span', null, label),
			);
		const forwardAllowed = c?.settings.forward !== false;
		const copyAllowed = c?.settings.copy !== false;
		const emojis = h(
			'div',
			{ class: 'menu-emojis', attrs: { role: 'group', 'aria-label': t('chat.reactions') } },
			QUICK_EMOJI.map((e) => {
				const on = (m.reactions?.[e] ?? []).includes(store.me.id);
				return h(
					'button',
					{
						type: 'button',
						class: ['menu-emoji', on && 'menu-emoji-on'],
						tabIndex: -1,
						title: t('chat.react', { emoji: e }),
						testid: 'menu-react',
						attrs: { role: 'menuitemcheckbox', 'aria-checked': String(on), 'data-emoji': e },
						on: {
							click: () => {
								close(false);
								void react(m, e, !on);
							},
						},
					},
					e,
				);
			}),
		);
		const items: (HTMLElement | null)[] = [
			c?.can_post ? item(t('chat.reply'), 'reply', () => hooks.onReply(m), { testid: 'menu-reply' }) : null,
			!threadRoot ? item(t('chat.replyThread'), 'thread', () => hooks.onThread(m.thread_root || m.id), { testid: 'menu-thread' }) : null,
			copyAllowed && m.body ? item(t('common.copy'), 'copy', () => void copyText(m.body ?? ''), { testid: 'menu-copy' }) : null,
			item(t('chat.forward'), 'forward', () => hooks.onForward(m), {
				testid: 'menu-forward',
				disabled: !forwardAllowed,
				title: forwardAllowed ? undefined : t('chat.forwardDisabled'),
			}),
			mine && m.body !== undefined && m.kind !== 'file' ? item(t('chat.edit'), 'edit', () => startEdit(m.id), { testid: 'menu-edit' }) : null,
			mine || canModerate() ? item(t('chat.recall'), 'recall', () => void recall(m), { testid: 'menu-recall', danger: true }) : null,
		];
		const el = h(
			'div',
			{
				id,
				class: 'menu',
				testid: 'msg-menu',
				attrs: { role: 'menu', 'aria-label': t('chat.actions') },
				on: {
					keydown: (ev) => {
						const all = [...el.querySelectorAll<HTMLElement>('[role^="menuitem"]:not([disabled])')];
						const i = all.indexOf(document.activeElement as HTMLElement);
						if (ev.key === 'Escape') {
							ev.preventDefault();
							ev.stopPropagation();
							close();
						} else if (ev.key === 'ArrowDown' || (ev.key === 'ArrowRight' && i < QUICK_EMOJI.length)) {
							ev.preventDefault();
							all[(i + 1) % all.length]?.focus();
						} else if (ev.key === 'ArrowUp' || (ev.key === 'ArrowLeft' && i <= QUICK_EMOJI.length && i > 0)) {
							ev.preventDefault();
							all[(i - 1 + all.length) % all.length]?.focus();
						} else if (ev.key === 'Home') {
							ev.preventDefault();
							all[0]?.focus();
						} else if (ev.key === 'End') {
							ev.preventDefault();
							all[all.length - 1]?.focus();
						} else if (ev.key === 'Tab') {
							close(false);
						}
					},
				},
			},
			emojis,
			items,
		);
		/* open upwards when the message sits low in the list */
		requestAnimationFrame(() => {
			const r = opener.getBoundingClientRect();
			const s = scroller.getBoundingClientRect();
			if (r.bottom > s.top + s.height * 0.55) el.classList.add('menu-up');
		});
		return el;
	}

	function editor(m: Msg): HTMLElement {
		const ta = h('textarea', {
			class: 'input msg-edit-input',
			value: m.body ?? '',
			rows: Math.min(8, Math.max(2, (m.body ?? '').split('\n').length)),
			maxLength: 8192,
			testid: 'msg-edit-input',
			attrs: { 'aria-label': t('chat.editMessage') },
		});
		const save = button(t('common.save'), { kind: 'primary', small: true, testid: 'msg-edit-save' });
		const cancel = () => {
			editing = 0;
			update();
			hooks.focusComposer();
		};
		const submit = async () => {
			const body = ta.value.trim();
			if (!body || body === m.body) {
				cancel();
				return;
			}
			try {
				const r = await api('patch', '/api/v1/messages/{id}', { path: { id: m.id }, body: { body } });
				editing = 0;
				store.applyMessage(r.message);
				hooks.focusComposer();
			} catch (e) {
				toast(errorText(e), 'danger');
			}
		};
		save.addEventListener('click', () => void submit());
		ta.addEventListener('keydown', (ev) => {
			if (ev.key === 'Escape') {
				ev.preventDefault();
				cancel();
			} else if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
				ev.preventDefault();
				void submit();
			}
		});
		requestAnimationFrame(() => {
			ta.focus();
			ta.setSelectionRange(ta.value.length, ta.value.length);
		});
		return h(
			'div',
			{ class: 'msg-edit' },
			ta,
			h('div', { class: 'msg-edit-bar' }, h('span', { class: 'muted' }, t('chat.editHint')), button(t('common.cancel'), { small: true, onClick: cancel }), save),
		);
	}

	function startEdit(id: number): void {
		editing = id;
		update();
	}

	async function react(m: Msg, emoji: string, on: boolean): Promise<void> {
		try {
			const r = await api('post', '/api/v1/messages/{id}/reactions', { path: { id: m.id }, body: { emoji, on } });
			store.setReactions(convId, m.id, r.reactions);
		} catch (e) {
			toast(errorText(e), 'danger');
		}
	}

	async function recall(m: Msg): Promise<void> {
		const ok = await confirmDialog({
			title: t('chat.recallTitle'),
			message: m.sender === store.me.id ? t('chat.recallConfirm') : t('chat.recallConfirmOther', { name: store.nameOf(m.sender) }),
			confirm: t('chat.recall'),
			danger: true,
		});
		if (!ok) return;
		try {
			const r = await api('post', '/api/v1/messages/{id}/recall', { path: { id: m.id } });
			store.applyMessage(r.message);
			toast(t('chat.recalledToast'), 'success');
		} catch (e) {
			if (e instanceof ApiError && e.code === 'recall_window_passed') toast(t('err.recall_window_passed'), 'warning');
			else toast(errorText(e), 'danger');
		}
	}

	// ---- patching and scrolling ----

	function patch(want: Item[]): void {
		const have = new Map<string, HTMLElement>();
		for (const c of Array.from(list.children) as HTMLElement[]) if (c.dataset.key) have.set(c.dataset.key, c);
		const active = document.activeElement as HTMLElement | null;
		let focusKey: string | null = null;
		let focusTestid: string | null = null;
		let cursor: ChildNode | null = list.firstChild;
		for (const it of want) {
			let node = have.get(it.key);
			have.delete(it.key);
			if (!node || node.dataset.sig !== it.sig) {
				const fresh = it.make();
				fresh.dataset.key = it.key;
				fresh.dataset.sig = it.sig;
				if (node) {
					if (active && node.contains(active)) {
						focusKey = it.key;
						focusTestid = active.dataset.testid ?? null;
					}
					node.replaceWith(fresh);
					if (cursor === node) cursor = fresh;
				}
				node = fresh;
			}
			if (cursor === node) {
				cursor = node.nextSibling;
			} else {
				list.insertBefore(node, cursor);
			}
		}
		for (const stale of have.values()) stale.remove();
		if (focusKey) {
			const li = list.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusKey)}"]`);
			const target = focusTestid ? li?.querySelector<HTMLElement>(`[data-testid="${CSS.escape(focusTestid)}"]`) : null;
			(target ?? li?.querySelector<HTMLElement>('.msg-more'))?.focus({ preventScroll: true });
		}
	}

	function atBottom(): boolean {
		return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
	}

	function scrollToBottom(): void {
		scroller.scrollTop = scroller.scrollHeight;
		jump.hidden = true;
	}

	function drawTop(): void {
		const cm = store.convMsgs(convId);
		if (threadRoot) {
			replace(top);
			return;
		}
		if (!cm.loaded || cm.loading) {
			replace(top, h('div', { class: 'loading loading-sm', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('common.loading')));
		} else if (!cm.hasMore) {
			const c = conv();
			replace(
				top,
				h(
					'div',
					{ class: 'msg-start', testid: 'msg-start' },
					h('p', { class: 'msg-start-title' }, c ? store.convTitle(c) : ''),
					h('p', { class: 'muted' }, c?.kind === 'direct' ? t('chat.startDirect') : t('chat.startGroup')),
				),
			);
		} else {
			replace(
				top,
				button(t('chat.loadOlder'), { small: true, kind: 'link', testid: 'msg-load-older', onClick: () => void store.loadOlder(convId) }),
			);
		}
	}

	function update(): void {
		if (!el.isConnected && !first) return;
		const bottom = first || atBottom();
		let anchorKey: string | null = null;
		let anchorOff = 0;
		if (!bottom) {
			for (const c of Array.from(list.children) as HTMLElement[]) {
				if (c.offsetTop + c.offsetHeight > scroller.scrollTop) {
					anchorKey = c.dataset.key ?? null;
					anchorOff = c.offsetTop - scroller.scrollTop;
					break;
				}
			}
		}
		drawTop();
		patch(items());
		if (bottom) {
			scroller.scrollTop = scroller.scrollHeight;
		} else if (anchorKey) {
			const a = list.querySelector<HTMLElement>(`[data-key="${CSS.escape(anchorKey)}"]`);
			if (a) scroller.scrollTop = a.offsetTop - anchorOff;
		}
		if (list.children.length > 0 || store.convMsgs(convId).loaded) first = false;
		jump.hidden = atBottom();
		fillIfShort();
	}

	function fillIfShort(): void {
		if (threadRoot) return;
		const cm = store.convMsgs(convId);
		if (cm.loaded && cm.hasMore && !cm.loading && el.isConnected && scroller.scrollHeight <= scroller.clientHeight + 8) {
			void store.loadOlder(convId).catch(() => {});
		}
	}

	scroller.addEventListener('scroll', () => {
		jump.hidden = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 200;
		if (threadRoot) return;
		const cm = store.convMsgs(convId);
		if (scroller.scrollTop < LOAD_OLDER_PX && cm.loaded && cm.hasMore && !cm.loading) {
			void store.loadOlder(convId).catch((e: unknown) => toast(errorText(e), 'danger'));
		}
	});

	/* close an open menu on a click elsewhere */
	document.addEventListener('pointerdown', function outside(ev) {
		if (!el.isConnected && !first) {
			document.removeEventListener('pointerdown', outside);
			return;
		}
		if (!menuFor) return;
		const target = ev.target as Node;
		const open = list.querySelector('.menu');
		const opener = list.querySelector(`li[data-id="${menuFor}"] .msg-more`);
		if (open && !open.contains(target) && !opener?.contains(target)) {
			menuFor = 0;
			update();
		}
	});

	async function jumpTo(id: number): Promise<boolean> {
		for (let i = 0; i <= JUMP_PAGES; i++) {
			const li = list.querySelector<HTMLElement>(`li[data-id="${id}"]`);
			if (li) {
				highlight = id;
				update();
				const fresh = list.querySelector<HTMLElement>(`li[data-id="${id}"]`);
				fresh?.scrollIntoView({ block: 'center' });
				fresh?.querySelector<HTMLElement>('.msg-more')?.focus({ preventScroll: true });
				window.setTimeout(() => {
					if (highlight === id) {
						highlight = 0;
						update();
					}
				}, 2500);
				return true;
			}
			const cm = store.convMsgs(convId);
			if (threadRoot) return false;
			if (!cm.loaded) await store.ensureMessages(convId);
			else if (!cm.hasMore || !(await store.loadOlder(convId))) break;
		}
		toast(t('chat.notLoaded'), 'info');
		return false;
	}

	function editLast(): boolean {
		const cm = store.convMsgs(convId);
		const ids = threadRoot ? [threadRoot, ...store.threadReplies(convId, threadRoot).map((m) => m.id)] : cm.timeline;
		for (let i = ids.length - 1; i >= 0; i--) {
			const m = cm.byId.get(ids[i]);
			if (m && m.sender === store.me.id && !m.recalled && m.kind !== 'file' && m.kind !== 'system' && m.body !== undefined) {
				startEdit(m.id);
				return true;
			}
		}
		return false;
	}

	return { el, update, jumpTo, editLast, scrollToBottom };
}

/** A translated sentence for a send error code (nack or HTTP). */
export function sendErrorText(code: string): string {
	switch (code) {
		case 'muted':
			return t('err.muted');
		case 'forbidden':
			return t('chat.err.forbidden');
		case 'not_found':
			return t('chat.err.notFound');
		case 'too_large':
		case 'payload_too_large':
			return t('err.too_large');
		case 'blocked_link':
			return t('err.blocked_link');
		case 'rate_limited':
			return t('err.rate_limited');
		case 'unavailable':
			return t('err.unavailable');
		case 'closed':
		case 'network':
			return t('err.network');
		default:
			return t('err.generic', { code });
	}
}
