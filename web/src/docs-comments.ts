// docs-comments.ts — comments on a document (RG-DOC-b/c, WC-UI; docs/collab.md):
// a side panel with the comments and their replies, new comments anchored
// to the selected text, replies, resolve and reopen, live updates from
// doc.comment frames, and highlights of the commented text drawn by the
// cursor layer (docs-cursors.ts) — never a Quill format, so a highlight
// does not change the document or create ops.
//
// Anchors:
//  - The server gives each comment's anchor {index, length, rev} at its
//    current revision.  It is moved into this editor's coordinates with
//    DocSync.toLocalAt (over the ops committed since `rev`, then over our
//    pending ops); when the editor is not there yet (rev ahead) it waits for
//    the next op or ack (settle()), when the editor is past what it kept it
//    reads the list again.
//  - From then on every change applied to the editor (ours and others')
//    moves the anchors (anchorShift: text typed at an edge stays outside);
//    a reload of the whole content (doc.state) reads the list again.
//  - A new comment is anchored in the server's terms: the panel waits until
//    nothing of ours is in flight or buffered (our acknowledged revision is
//    then exactly what the editor shows, so the local selection is the
//    server's), then sends {index, length, rev}.  Typing meanwhile just
//    makes it wait for that ack too; after 10 s it gives up with a message.
//  - Commenters and up may comment, reply, resolve and reopen; viewers read.
import type Quill from 'quill/core';
import { type SessionInfo, api } from './api';
import { avatar } from './chat-messages';
import type { CursorLayer, Mark } from './docs-cursors';
import { type Doc, type DocComment, type DocRole, directory, personName, roleAtLeast } from './docs-data';
import { type Delta, type DocSync, anchorShift } from './docs-sync';
import { h, nextId, replace } from './dom';
import type { Schemas } from './api';
import { fmtAgo, fmtTime, t } from './i18n';
import { alertBox, button, busy, errorText, icon, toast } from './ui';

export type DocCommentFrame = Schemas['EventDocComment'];

/** The server's limit is 4 KiB of UTF-8. */
const BODY_MAX_BYTES = 4096;
const QUOTE_MAX = 160;
const SETTLE_WAIT_MS = 10_000;
const QUOTE_REDRAW_MS = 200;
/** At most one re-read a while for anchors this editor can no longer move itself. */
const STALE_REFRESH_MS = 10_000;

interface Entry {
	c: DocComment;
	/** The anchor in this editor's coordinates; null until it can be placed. */
	local: [number, number] | null;
}

export interface CommentsPanel {
	el: HTMLElement;
	/** Reads the comments again (GET). */
	refresh(): Promise<void>;
	/** A doc.comment frame. */
	frame(f: DocCommentFrame): void;
	/** A change applied to the editor (ours or another's). */
	transform(change: Delta): void;
	/** After a frame was handled by the sync: place anchors that were waiting. */
	settle(): void;
	/** The whole content was replaced: every anchor is read again. */
	invalidate(): void;
	/** Starts a new comment on a range of the text (commenter and up). */
	startDraft(index: number, length: number): void;
	/** The caret moved: the comment under it becomes the active one. */
	caretAt(index: number): void;
	setRole(role: DocRole): void;
	/** The panel was shown (focus its heading). */
	shown(): void;
	destroy(): void;
}

function bytes(s: string): number {
	return new TextEncoder().encode(s).length;
}

export function commentsPanel(o: {
	doc: Doc;
	session: SessionInfo;
	role: DocRole;
	quill: Quill;
	sync: DocSync;
	cursors: CursorLayer;
	onCount(open: number): void;
	onClose(): void;
	/** Scrolls the editor so the range is in view. */
	reveal(index: number, length: number): void;
}): CommentsPanel {
	const me = o.session.user;
	let role = o.role;
	const entries = new Map<number, Entry>();
	let draft: { range: [number, number]; quote: string } | null = null;
	let active = 0;
	let showResolved = false;
	let gen = 0;
	let loaded = false;
	let dead = false;
	let people = new Map<number, Schemas['UserRef']>();
	const replyDrafts = new Map<number, string>();
	const openReplies = new Set<number>();
	const quoteEls = new Map<number, HTMLElement>();
	let quoteTimer: number | undefined;
	let staleAt = 0;

	void directory().then((m) => {
		people = m;
		if (loaded) render();
	});

	// ---- the panel's fixed parts ----
	const live = h('p', { class: 'sr-only', attrs: { role: 'status', 'aria-live': 'polite' } });
	const title = h('h2', { class: 'drawer-title', tabIndex: -1 }, t('docs.comments.title'));
	const resolvedBox = h('input', { type: 'checkbox', id: nextId('cb'), testid: 'comments-show-resolved' });
	resolvedBox.addEventListener('change', () => {
		showResolved = resolvedBox.checked;
		render();
	});
	const resolvedLabel = h('label', { htmlFor: resolvedBox.id }, t('docs.comments.showResolved'));
	const hint = h('p', { class: 'muted comments-hint', testid: 'comments-hint' });
	const draftEl = h('div', { class: 'comments-draft', hidden: true, testid: 'comment-draft' });
	const list = h('ul', { class: 'comments-list', testid: 'comments-list', attrs: { 'aria-label': t('docs.comments.title') } });
	const status = h('div', { class: 'comments-status' });
	const el = h(
		'div',
		{ class: 'drawer-inner comments', testid: 'comments-panel' },
		h(
			'div',
			{ class: 'drawer-head' },
			title,
			h('button', { type: 'button', class: 'btn btn-ghost btn-icon', testid: 'comments-close', attrs: { 'aria-label': t('common.close') }, on: { click: () => o.onClose() } }, icon('x')),
		),
		h(
			'div',
			{ class: 'comments-body' },
			h('div', { class: 'check comments-filter' }, resolvedBox, resolvedLabel),
			hint,
			draftEl,
			status,
			list,
			live,
		),
	);

	function drawHint(): void {
		replace(hint, roleAtLeast(role, 'commenter') ? t('docs.comments.hint') : t('docs.comments.hintView'));
	}

	// ---- anchors ----

	function place(c: DocComment): [number, number] | null {
		const a = c.anchor;
		return o.sync.toLocalAt(a.index, a.length, a.rev);
	}

	function top(e: Entry): boolean {
		return !e.c.parent_id;
	}

	function drawMarks(): void {
		const marks: Mark[] = [];
		for (const e of entries.values()) {
			if (!top(e) || !e.local || e.c.resolved || e.local[1] === 0) continue;
			marks.push({ id: e.c.id, index: e.local[0], length: e.local[1], active: e.c.id === active });
		}
		if (draft && draft.range[1] > 0) marks.push({ id: 0, index: draft.range[0], length: draft.range[1], active: true });
		/* the active one last, so it is drawn on top */
		marks.sort((a, b) => Number(a.active) - Number(b.active));
		o.cursors.setMarks(marks);
	}

	function quoteOf(local: [number, number] | null): string {
		if (!local) return '';
		const max = Math.max(0, o.quill.getLength() - 1);
		const i = Math.min(local[0], max);
		const len = Math.max(0, Math.min(local[1], max - i, QUOTE_MAX + 1));
		const s = o.quill.getText(i, len).replace(/\s+/g, ' ').trim();
		return s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}…` : s;
	}

	function quoteText(e: Entry): string {
		if (!e.local) return t('docs.comments.placing');
		if (e.local[1] === 0) return t('docs.comments.textGone');
		return `“${quoteOf(e.local)}”`;
	}

	/** Updates the quoted text of every card in place (after edits), without redrawing the list. */
	function scheduleQuotes(): void {
		if (quoteTimer !== undefined) return;
		quoteTimer = window.setTimeout(() => {
			quoteTimer = undefined;
			for (const [id, q] of quoteEls) {
				const e = entries.get(id);
				if (e) {
					q.textContent = quoteText(e);
					q.classList.toggle('is-gone', !!e.local && e.local[1] === 0);
				}
			}
		}, QUOTE_REDRAW_MS);
	}

	// ---- the list ----

	function openCount(): number {
		let n = 0;
		for (const e of entries.values()) if (top(e) && !e.c.resolved) n += 1;
		return n;
	}

	function name(id: number): string {
		const n = personName(people, id, id === me.id ? me.display_name || me.username : undefined);
		return id === me.id ? t('docs.comments.you', { name: n }) : n;
	}

	function render(): void {
		if (dead) return;
		o.onCount(openCount());
		drawMarks();
		if (!loaded) return;
		const focusKey = el.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
		const tops = [...entries.values()].filter(top);
		const resolvedN = tops.filter((e) => e.c.resolved).length;
		resolvedLabel.textContent = t('docs.comments.showResolvedN', { n: resolvedN });
		const shown = tops
			.filter((e) => showResolved || !e.c.resolved)
			.sort((a, b) => {
				const ai = a.local ? a.local[0] : Number.MAX_SAFE_INTEGER;
				const bi = b.local ? b.local[0] : Number.MAX_SAFE_INTEGER;
				return ai - bi || a.c.created_at - b.c.created_at || a.c.id - b.c.id;
			});
		const replies = new Map<number, DocComment[]>();
		for (const e of entries.values()) {
			if (top(e)) continue;
			const arr = replies.get(e.c.parent_id ?? 0) ?? [];
			arr.push(e.c);
			replies.set(e.c.parent_id ?? 0, arr);
		}
		quoteEls.clear();
		if (!shown.length) {
			replace(list, h('li', { class: 'muted comments-empty', testid: 'comments-empty' }, tops.length ? t('docs.comments.allResolved') : t('docs.comments.none')));
		} else {
			replace(
				list,
				shown.map((e) => card(e, (replies.get(e.c.id) ?? []).sort((a, b) => a.created_at - b.created_at || a.id - b.id))),
			);
		}
		if (focusKey) el.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
	}

	function card(e: Entry, reps: DocComment[]): HTMLElement {
		const c = e.c;
		const mayAct = roleAtLeast(role, 'commenter');
		const quote = h('blockquote', { class: ['comment-quote', !!e.local && e.local[1] === 0 && 'is-gone'], testid: 'comment-quote' }, quoteText(e));
		quoteEls.set(c.id, quote);
		const replyId = nextId('reply');
		const replyArea = h('textarea', {
			id: replyId,
			class: 'input comment-input',
			rows: 2,
			maxLength: BODY_MAX_BYTES,
			testid: 'reply-body',
			value: replyDrafts.get(c.id) ?? '',
			spellcheck: true,
			attrs: { 'data-key': `reply-body:${c.id}`, 'aria-label': t('docs.comments.replyLabel', { name: name(c.author) }) },
		});
		replyArea.addEventListener('input', () => replyDrafts.set(c.id, replyArea.value));
		const replyErr = alertBox();
		const sendReply = button(t('docs.comments.reply'), { kind: 'primary', small: true, type: 'submit', testid: 'reply-submit' });
		const replyForm = h(
			'form',
			{ class: 'comment-reply-form', hidden: !openReplies.has(c.id), attrs: { novalidate: true } },
			replyArea,
			replyErr.el,
			h(
				'div',
				{ class: 'btn-row' },
				button(t('common.cancel'), {
					small: true,
					kind: 'ghost',
					onClick: () => {
						openReplies.delete(c.id);
						replyDrafts.delete(c.id);
						render();
						el.querySelector<HTMLElement>(`[data-key="reply:${c.id}"]`)?.focus();
					},
				}),
				sendReply,
			),
		);
		const submitReply = (ev?: Event) => {
			ev?.preventDefault();
			const body = replyArea.value.trim();
			if (!body) {
				replyArea.focus();
				return;
			}
			if (bytes(body) > BODY_MAX_BYTES) {
				replyErr.set(t('docs.comments.tooLong'));
				return;
			}
			void busy(sendReply, async () => {
				try {
					const r = await api('post', '/api/v1/documents/{id}/comments', { path: { id: o.doc.id }, body: { body, parent_id: c.id } });
					replyDrafts.delete(c.id);
					openReplies.delete(c.id);
					upsert(r.comment);
					render();
					el.querySelector<HTMLElement>(`[data-key="reply:${c.id}"]`)?.focus();
				} catch (err) {
					replyErr.set(errorText(err));
				}
			});
		};
		replyForm.addEventListener('submit', submitReply);
		replyArea.addEventListener('keydown', (ev) => {
			if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) submitReply(ev);
		});

		const resolveBtn = mayAct
			? button(c.resolved ? t('docs.comments.reopen') : t('docs.comments.resolve'), {
					small: true,
					kind: 'ghost',
					icon: c.resolved ? 'recall' : 'check',
					testid: c.resolved ? 'comment-reopen' : 'comment-resolve',
					onClick: () => void setResolved(c, !c.resolved, resolveBtn as HTMLButtonElement),
				})
			: null;
		if (resolveBtn) resolveBtn.dataset.key = `resolve:${c.id}`;
		const replyBtn = mayAct
			? button(t('docs.comments.reply'), {
					small: true,
					kind: 'ghost',
					icon: 'reply',
					testid: 'comment-reply-open',
					onClick: () => {
						openReplies.add(c.id);
						render();
						el.querySelector<HTMLElement>(`[data-key="reply-body:${c.id}"]`)?.focus();
					},
				})
			: null;
		if (replyBtn) replyBtn.dataset.key = `reply:${c.id}`;

		const li = h(
			'li',
			{
				class: ['comment-card', c.id === active && 'is-active', c.resolved && 'is-resolved'],
				testid: 'comment',
				tabIndex: 0,
				attrs: { 'data-id': c.id, 'data-key': `card:${c.id}`, 'data-resolved': String(c.resolved), 'aria-label': t('docs.comments.cardLabel', { name: name(c.author) }) },
			},
			head(c),
			quote,
			h('p', { class: 'comment-body', testid: 'comment-body' }, c.body),
			reps.length
				? h(
						'ul',
						{ class: 'comment-replies', attrs: { 'aria-label': t('docs.comments.replies', { n: reps.length }) } },
						reps.map((r) => h('li', { class: 'comment-reply', testid: 'comment-reply', attrs: { 'data-id': r.id } }, head(r), h('p', { class: 'comment-body' }, r.body))),
					)
				: null,
			c.resolved ? h('p', { class: 'comment-resolved muted' }, icon('check', 'icon icon-sm'), t('docs.comments.resolved')) : null,
			mayAct ? h('div', { class: 'comment-actions' }, openReplies.has(c.id) ? null : replyBtn, resolveBtn) : null,
			mayAct ? replyForm : null,
		);
		const activate = (ev: Event) => {
			const target = ev.target as HTMLElement;
			if (target.closest('button, textarea, input, a, form')) return;
			setActive(c.id, true);
		};
		li.addEventListener('click', activate);
		li.addEventListener('keydown', (ev) => {
			if ((ev.key === 'Enter' || ev.key === ' ') && ev.target === li) {
				ev.preventDefault();
				setActive(c.id, true);
			}
		});
		return li;
	}

	function head(c: DocComment): HTMLElement {
		const n = name(c.author);
		return h(
			'div',
			{ class: 'comment-head' },
			avatar(n, c.author, 'comment-avatar'),
			h('span', { class: 'comment-author' }, n),
			h('time', { class: 'comment-time muted', title: fmtTime(c.created_at), attrs: { datetime: new Date(c.created_at * 1000).toISOString() } }, fmtAgo(c.created_at)),
		);
	}

	function setActive(id: number, reveal: boolean): void {
		if (active !== id) {
			active = id;
			for (const li of list.querySelectorAll<HTMLElement>('.comment-card')) li.classList.toggle('is-active', Number(li.dataset.id) === id);
			drawMarks();
		}
		const e = entries.get(id);
		if (reveal && e?.local) o.reveal(e.local[0], e.local[1]);
	}

	async function setResolved(c: DocComment, resolved: boolean, btn: HTMLButtonElement): Promise<void> {
		try {
			const r = await busy(btn, () => api('patch', '/api/v1/documents/{id}/comments/{cid}', { path: { id: o.doc.id, cid: c.id }, body: { resolved } }));
			upsert(r.comment);
			live.textContent = resolved ? t('docs.comments.resolvedNow') : t('docs.comments.reopenedNow');
			render();
			/* the card may have gone (resolved ones are hidden): keep focus in the panel */
			(el.querySelector<HTMLElement>(`[data-key="card:${c.id}"]`) ?? title).focus();
		} catch (e) {
			toast(errorText(e), 'danger');
		}
	}

	function upsert(c: DocComment): void {
		const prev = entries.get(c.id);
		const local = place(c) ?? prev?.local ?? null;
		entries.set(c.id, { c, local });
	}

	// ---- the draft ----

	function drawDraft(): void {
		if (!draft) {
			draftEl.hidden = true;
			replace(draftEl);
			return;
		}
		const d = draft;
		const areaId = nextId('comment');
		const area = h('textarea', {
			id: areaId,
			class: 'input comment-input',
			rows: 3,
			maxLength: BODY_MAX_BYTES,
			testid: 'comment-body-input',
			spellcheck: true,
			attrs: { 'data-key': 'draft-body' },
		});
		const err = alertBox('comment-draft-error');
		const send = button(t('docs.comments.send'), { kind: 'primary', small: true, type: 'submit', testid: 'comment-submit' });
		const form = h(
			'form',
			{ class: 'comment-draft-form', attrs: { novalidate: true } },
			h('label', { class: 'field-label', htmlFor: areaId }, t('docs.comments.newLabel')),
			h('blockquote', { class: 'comment-quote', testid: 'comment-draft-quote' }, `“${d.quote}”`),
			area,
			err.el,
			h(
				'div',
				{ class: 'btn-row' },
				button(t('common.cancel'), { small: true, kind: 'ghost', testid: 'comment-cancel', onClick: () => cancelDraft() }),
				send,
			),
		);
		const submit = (ev?: Event) => {
			ev?.preventDefault();
			const body = area.value.trim();
			if (!body) {
				area.focus();
				return;
			}
			if (bytes(body) > BODY_MAX_BYTES) {
				err.set(t('docs.comments.tooLong'));
				return;
			}
			err.set(null);
			void busy(send, async () => {
				try {
					const anchor = await settledAnchor();
					const r = await api('post', '/api/v1/documents/{id}/comments', { path: { id: o.doc.id }, body: { body, anchor } });
					draft = null;
					drawDraft();
					upsert(r.comment);
					active = r.comment.id;
					live.textContent = t('docs.comments.added');
					render();
					el.querySelector<HTMLElement>(`[data-key="card:${r.comment.id}"]`)?.focus();
				} catch (e) {
					err.set(e instanceof Error && e.message === 'unsettled' ? t('docs.comments.notSaved') : errorText(e));
				}
			});
		};
		form.addEventListener('submit', submit);
		area.addEventListener('keydown', (ev) => {
			if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) submit(ev);
			else if (ev.key === 'Escape') {
				ev.preventDefault();
				ev.stopPropagation();
				cancelDraft();
			}
		});
		replace(draftEl, form);
		draftEl.hidden = false;
		area.focus();
	}

	function cancelDraft(): void {
		draft = null;
		drawDraft();
		drawMarks();
		title.focus();
	}

	/**
	 * The draft's range in the server's terms: waits until nothing of ours
	 * is in flight or buffered, when the editor shows exactly revision
	 * sync.rev (see the header).
	 */
	async function settledAnchor(): Promise<{ index: number; length: number; rev: number }> {
		const until = Date.now() + SETTLE_WAIT_MS;
		for (;;) {
			if (dead || !draft) throw new Error('unsettled');
			o.quill.update('user');
			if (o.sync.isOpen && !o.sync.pending) {
				const max = Math.max(0, o.quill.getLength() - 1);
				const index = Math.min(draft.range[0], max);
				const length = Math.max(0, Math.min(draft.range[1], max - index));
				return { index, length, rev: o.sync.rev };
			}
			if (Date.now() > until) throw new Error('unsettled');
			await new Promise((r) => window.setTimeout(r, 50));
		}
	}

	// ---- loading ----

	async function refresh(): Promise<void> {
		const mine = ++gen;
		try {
			const r = await api('get', '/api/v1/documents/{id}/comments', { path: { id: o.doc.id } });
			if (mine !== gen || dead) return;
			entries.clear();
			for (const c of r.comments) entries.set(c.id, { c, local: place(c) });
			loaded = true;
			replace(status);
			render();
		} catch (e) {
			if (mine !== gen || dead) return;
			const a = alertBox();
			a.set(errorText(e));
			replace(status, a.el, button(t('common.retry'), { small: true, icon: 'refresh', onClick: () => void refresh() }));
		}
	}

	drawHint();
	return {
		el,
		refresh,
		frame(f) {
			if (dead || f.doc !== o.doc.id || !f.comment) return;
			const c = f.comment;
			const isNew = !entries.has(c.id);
			upsert(c);
			if (isNew && c.author !== me.id) live.textContent = t('docs.comments.newFrom', { name: name(c.author) });
			render();
		},
		transform(change) {
			let moved = false;
			for (const e of entries.values()) {
				if (!e.local) continue;
				e.local = anchorShift(change, e.local[0], e.local[1]);
				moved = true;
			}
			if (draft) {
				draft.range = anchorShift(change, draft.range[0], draft.range[1]);
				moved = true;
			}
			if (moved) {
				drawMarks();
				scheduleQuotes();
			}
		},
		settle() {
			let placed = false;
			let stale = false;
			for (const e of entries.values()) {
				if (e.local) continue;
				const l = place(e.c);
				if (l) {
					e.local = l;
					placed = true;
				} else if (o.sync.isOpen && e.c.anchor.rev < o.sync.rev) stale = true;
			}
			if (stale && Date.now() - staleAt > STALE_REFRESH_MS) {
				staleAt = Date.now();
				void refresh();
			} else if (placed) render();
		},
		invalidate() {
			for (const e of entries.values()) e.local = null;
			if (draft) {
				draft = null;
				drawDraft();
			}
			drawMarks();
			void refresh();
		},
		startDraft(index, length) {
			if (!roleAtLeast(role, 'commenter') || length <= 0) return;
			draft = { range: [index, length], quote: quoteOf([index, length]) };
			drawDraft();
			drawMarks();
		},
		caretAt(index) {
			let best: Entry | null = null;
			for (const e of entries.values()) {
				if (!top(e) || !e.local || e.c.resolved || e.local[1] === 0) continue;
				if (index >= e.local[0] && index <= e.local[0] + e.local[1] && (!best || (best.local && e.local[1] < best.local[1]))) best = e;
			}
			if (best && best.c.id !== active) {
				setActive(best.c.id, false);
				el.querySelector<HTMLElement>(`[data-key="card:${best.c.id}"]`)?.scrollIntoView({ block: 'nearest' });
			}
		},
		setRole(r) {
			if (r === role) return;
			role = r;
			if (!roleAtLeast(role, 'commenter') && draft) {
				draft = null;
				drawDraft();
			}
			drawHint();
			render();
		},
		shown() {
			if (!draft) title.focus();
		},
		destroy() {
			dead = true;
			window.clearTimeout(quoteTimer);
			o.cursors.setMarks([]);
		},
	};
}
