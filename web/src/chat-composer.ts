// chat-composer.ts — the message composer (RG-IM-a): a multiline textarea
// (Enter sends, Shift+Enter is a new line, nothing is sent while an input
// method is composing — Chinese input), Markdown, @mention autocomplete
// from the conversation's members (a combobox/listbox pair), reply-to,
// attachments with the upload tray, typing notifications (at most one per
// 3 s), ↑ in an empty box edits one's last message, and a draft kept per
// conversation.  When the user may not post (announcement channel, muted,
// pending) it shows why instead.
import type { Member } from './api';
import type { ChatStore, Msg } from './chat-store';
import { msgPreview } from './chat-messages';
import { uploadTray } from './chat-upload';
import { h, nextId, replace } from './dom';
import { chatLink } from './events';
import { fmtTime, t } from './i18n';
import { icon } from './ui';

const TYPING_EVERY_MS = 3000;
const MAX_BODY_BYTES = 8192;
const MAX_ROWS = 10;
const MENTION_RE = /(^|[\s(])@([\p{L}\p{N}._-]{0,32})$/u;

export interface Composer {
	el: HTMLElement;
	focus(): void;
	setReply(m: Msg | null): void;
	/** Re-draws the "cannot post" notice after the conversation changed. */
	refresh(): void;
}

export function composer(
	store: ChatStore,
	convId: number,
	o: { threadRoot?: number; onEditLast?(): boolean; label: string },
): Composer {
	const threadRoot = o.threadRoot ?? 0;
	const draftKey = threadRoot ? -threadRoot : convId;
	let reply: Msg | null = null;
	let lastTyping = 0;
	let members: Member[] = [];
	let options: Member[] = [];
	let active = -1;

	const listId = nextId('mention');
	const hintId = nextId('hint');
	const ta = h('textarea', {
		class: 'composer-input',
		rows: 1,
		testid: threadRoot ? 'thread-input' : 'composer-input',
		placeholder: o.label,
		spellcheck: true,
		attrs: {
			'aria-label': o.label,
			'aria-describedby': hintId,
			role: 'combobox',
			'aria-autocomplete': 'list',
			'aria-expanded': 'false',
			'aria-controls': listId,
			'aria-multiline': 'true',
		},
	});
	ta.value = store.drafts.get(draftKey) ?? '';
	const pop = h('ul', { id: listId, class: 'mention-pop', hidden: true, testid: 'mention-list', attrs: { role: 'listbox', 'aria-label': t('chat.mentionList') } });
	const ctx = h('div', { class: 'composer-ctx', hidden: true });
	const tray = uploadTray(store, convId);
	const fileInput = h('input', {
		type: 'file',
		class: 'offscreen',
		testid: 'composer-file',
		tabIndex: -1,
		attrs: { multiple: true, 'aria-hidden': 'true' },
		on: {
			change: () => {
				for (const f of Array.from(fileInput.files ?? [])) tray.add(f);
				fileInput.value = '';
				ta.focus();
			},
		},
	});
	const attach = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-ghost btn-icon composer-btn',
			testid: 'composer-attach',
			title: t('chat.attach', { max: '25 MB' }),
			attrs: { 'aria-label': t('chat.attachLabel') },
			on: { click: () => fileInput.click() },
		},
		icon('paperclip'),
	);
	const sendBtn = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-primary btn-icon composer-send',
			testid: threadRoot ? 'thread-send' : 'composer-send',
			title: t('chat.send'),
			attrs: { 'aria-label': t('chat.send') },
			on: { click: () => submit() },
		},
		icon('send'),
	);
	const counter = h('span', { class: 'composer-count', attrs: { 'aria-live': 'polite' } });
	const hint = h('p', { id: hintId, class: 'composer-hint' }, t('chat.composerHint'), counter);
	const box = h(
		'div',
		{ class: 'composer-box' },
		ctx,
		tray.el,
		h('div', { class: 'composer-row' }, attach, fileInput, h('div', { class: 'composer-field' }, ta, pop), sendBtn),
		hint,
	);
	const notice = h('p', { class: 'composer-notice', testid: 'composer-notice', hidden: true, attrs: { role: 'status' } });
	const el = h('div', { class: ['composer', threadRoot > 0 && 'composer-thread'], testid: threadRoot ? 'thread-composer' : 'composer' }, notice, box);

	// ---- drag and drop, paste ----
	el.addEventListener('dragover', (ev) => {
		if (ev.dataTransfer?.types.includes('Files') && canPost()) {
			ev.preventDefault();
			el.classList.add('is-drop');
		}
	});
	el.addEventListener('dragleave', () => el.classList.remove('is-drop'));
	el.addEventListener('drop', (ev) => {
		el.classList.remove('is-drop');
		if (!ev.dataTransfer?.files.length || !canPost()) return;
		ev.preventDefault();
		for (const f of Array.from(ev.dataTransfer.files)) tray.add(f);
	});
	ta.addEventListener('paste', (ev) => {
		const files = Array.from(ev.clipboardData?.files ?? []);
		if (files.length && canPost()) {
			ev.preventDefault();
			for (const f of files) tray.add(f);
		}
	});

	function canPost(): boolean {
		const c = store.convs.get(convId);
		return !!c && c.can_post && c.my_status === 'active';
	}

	function refresh(): void {
		const c = store.convs.get(convId);
		const now = Date.now() / 1000;
		let why = '';
		if (!c) why = t('chat.cannotPost');
		else if (c.my_status === 'pending') why = t('chat.pendingNotice');
		else if (c.muted_until && c.muted_until > now) why = t('chat.mutedNotice', { time: fmtTime(c.muted_until) });
		else if (!c.can_post && c.kind === 'announce') why = t('chat.announceNotice');
		else if (!c.can_post) why = t('chat.cannotPost');
		notice.hidden = !why;
		replace(notice, why ? [icon(c?.kind === 'announce' ? 'megaphone' : 'lock', 'icon icon-sm'), why] : null);
		box.hidden = !!why;
	}

	function grow(): void {
		ta.rows = 1;
		let rows = 1;
		while (ta.scrollHeight > ta.clientHeight + 1 && rows < MAX_ROWS) {
			rows += 1;
			ta.rows = rows;
		}
	}

	function bytes(s: string): number {
		return new TextEncoder().encode(s).length;
	}

	function drawCount(): void {
		const n = bytes(ta.value);
		counter.textContent = n > MAX_BODY_BYTES * 0.8 ? ` · ${t('chat.bytesLeft', { n: MAX_BODY_BYTES - n })}` : '';
		counter.classList.toggle('is-over', n > MAX_BODY_BYTES);
	}

	function submit(): void {
		const body = ta.value.trim();
		if (!body || !canPost()) return;
		if (bytes(body) > MAX_BODY_BYTES) {
			drawCount();
			ta.focus();
			return;
		}
		store.send(convId, body, { reply_to: reply?.id ?? 0, thread_root: threadRoot });
		ta.value = '';
		store.drafts.delete(draftKey);
		setReply(null);
		closePop();
		grow();
		drawCount();
		ta.focus();
	}

	// ---- mentions ----

	async function loadMembers(): Promise<void> {
		try {
			members = await store.loadMembers(convId);
		} catch {
			members = [];
		}
	}

	function mentionQuery(): string | null {
		const upto = ta.value.slice(0, ta.selectionStart ?? ta.value.length);
		const m = MENTION_RE.exec(upto);
		return m ? m[2] : null;
	}

	function closePop(): void {
		pop.hidden = true;
		options = [];
		active = -1;
		ta.setAttribute('aria-expanded', 'false');
		ta.removeAttribute('aria-activedescendant');
	}

	function drawPop(): void {
		replace(
			pop,
			options.map((m, i) =>
				h(
					'li',
					{
						id: `${listId}-${i}`,
						class: ['mention-opt', i === active && 'is-active'],
						testid: 'mention-option',
						attrs: { role: 'option', 'aria-selected': String(i === active), 'data-username': m.username },
						on: {
							mousedown: (ev) => {
								ev.preventDefault();
								choose(i);
							},
						},
					},
					h('span', { class: 'mention-name' }, m.display_name || m.username),
					h('span', { class: 'mention-user' }, `@${m.username}`),
				),
			),
		);
		pop.hidden = options.length === 0;
		ta.setAttribute('aria-expanded', String(options.length > 0));
		if (active >= 0) ta.setAttribute('aria-activedescendant', `${listId}-${active}`);
		else ta.removeAttribute('aria-activedescendant');
	}

	function updatePop(): void {
		const q = mentionQuery();
		if (q === null) {
			closePop();
			return;
		}
		if (!members.length) {
			void loadMembers().then(() => {
				if (members.length && mentionQuery() !== null) updatePop();
			});
		}
		const ql = q.toLowerCase();
		options = members
			.filter((m) => m.status === 'active' && m.user_id !== store.me.id)
			.filter((m) => !ql || m.username.toLowerCase().includes(ql) || (m.display_name ?? '').toLowerCase().includes(ql))
			.sort((a, b) => Number(!a.username.toLowerCase().startsWith(ql)) - Number(!b.username.toLowerCase().startsWith(ql)))
			.slice(0, 8);
		active = options.length ? 0 : -1;
		drawPop();
	}

	function choose(i: number): void {
		const m = options[i];
		if (!m) return;
		const pos = ta.selectionStart ?? ta.value.length;
		const before = ta.value.slice(0, pos).replace(/@[\p{L}\p{N}._-]{0,32}$/u, `@${m.username} `);
		ta.value = before + ta.value.slice(pos);
		ta.setSelectionRange(before.length, before.length);
		closePop();
		store.drafts.set(draftKey, ta.value);
		ta.focus();
	}

	// ---- keys ----

	ta.addEventListener('keydown', (ev) => {
		if (!pop.hidden && options.length) {
			if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
				ev.preventDefault();
				active = (active + (ev.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
				drawPop();
				return;
			}
			if ((ev.key === 'Enter' || ev.key === 'Tab') && !ev.isComposing) {
				ev.preventDefault();
				choose(active < 0 ? 0 : active);
				return;
			}
			if (ev.key === 'Escape') {
				ev.preventDefault();
				ev.stopPropagation();
				closePop();
				return;
			}
		}
		if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
			ev.preventDefault();
			submit();
			return;
		}
		if (ev.key === 'Escape' && reply) {
			ev.preventDefault();
			setReply(null);
			return;
		}
		if (ev.key === 'ArrowUp' && ta.value === '' && o.onEditLast) {
			if (o.onEditLast()) ev.preventDefault();
		}
	});
	ta.addEventListener('input', () => {
		store.drafts.set(draftKey, ta.value);
		grow();
		drawCount();
		updatePop();
		const now = Date.now();
		if (ta.value && now - lastTyping > TYPING_EVERY_MS) {
			lastTyping = now;
			chatLink()?.typing(convId);
		}
	});
	ta.addEventListener('click', updatePop);
	ta.addEventListener('blur', () => window.setTimeout(closePop, 150));

	function setReply(m: Msg | null): void {
		reply = m;
		if (!m) {
			ctx.hidden = true;
			replace(ctx);
			return;
		}
		ctx.hidden = false;
		replace(
			ctx,
			icon('reply', 'icon icon-sm'),
			h('span', { class: 'composer-ctx-text', testid: 'composer-replying' }, t('chat.replyingTo', { name: store.nameOf(m.sender), text: msgPreview(m).slice(0, 100) })),
			h(
				'button',
				{
					type: 'button',
					class: 'btn btn-ghost btn-icon',
					testid: 'composer-reply-cancel',
					attrs: { 'aria-label': t('chat.cancelReply') },
					on: { click: () => setReply(null) },
				},
				icon('x'),
			),
		);
		ta.focus();
	}

	refresh();
	requestAnimationFrame(() => {
		grow();
		drawCount();
	});

	return {
		el,
		focus: () => ta.focus(),
		setReply,
		refresh,
	};
}
