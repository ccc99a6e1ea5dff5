// docs-editor.ts — one open document (RG-DOC-a/b/g/h, RG-APP-h, IN-PHISH):
// the title, the Quill editor with its toolbar, live co-editing over the
// event WebSocket (docs-sync.ts implements collab.md's client side; this
// file connects it to Quill), co-editors and their carets (docs-cursors.ts),
// a save-state indicator (saved / saving / offline / reloading), version
// history (docs-history.ts), sharing and share links (docs-share.ts,
// docs-links.ts), comments (docs-comments.ts), the classification label and
// what it makes the client enforce — the viewer's watermark only when the
// policy asks for it, copy and print blocked and reported, export offered
// only when allowed (docs-classify.ts).
//
// Rules kept here:
//  - Only the user's own edits are sent: quill 'text-change' with source
//    'user'; remote ops are applied with updateContents(op, 'api').
//  - Before a server frame is handled, pending DOM input is flushed
//    (quill.update('user')) so the op transform sees every local edit; while
//    an IME composition is open, frames wait until it ends.
//  - Viewers and commenters get a read-only editor (quill.enable(false));
//    the editor is also read-only until the first doc.state arrives.
//  - Links in the text never navigate by themselves: they open the same
//    "You are leaving Bulwark" page as chat links (chat-link.ts).
//  - Leaving the page sends doc.close; a tab closed with unsent edits asks
//    first (beforeunload).
//  - The policy is read with the document and again on doc.policy; until
//    then, or when it cannot be read, the strictest one applies.
//  - doc.comment and doc.policy frames go to the comments panel and the
//    policy.  Should they not arrive (a stream that does not pass them on),
//    both are read again every 20 s while the page is visible, until the
//    first such frame shows that they do.
import { api } from './api';
import { avatar } from './chat-messages';
import { openLinkWarning } from './chat-link';
import { watermark } from './chat-watermark';
import { type Guard, docGuard, exportBlockedReason, exportDoc, labelChip, loadPolicy } from './docs-classify';
import { type CommentsPanel, type DocCommentFrame, commentsPanel } from './docs-comments';
import { CursorLayer } from './docs-cursors';
import { type Doc, type DocPolicy, TITLE_MAX, directory, docRoleLabel, duplicateDoc, docHref, folderHref, moveDoc, personName, roleAtLeast, trashDoc } from './docs-data';
import { historyPanel, type HistoryPanel } from './docs-history';
import { type MenuItem, actionsMenu } from './docs-list';
import type * as QuillModule from './docs-quill';
import { shareDialog } from './docs-share';
import { type Delta, type DocRole, DocSync, type SyncHost, type SyncNotice, type SyncStatus, canWrite, shift, toDelta } from './docs-sync';
import { docToolbar } from './docs-toolbar';
import { append, h, replace } from './dom';
import type { Schemas } from './api';
import { type DocFrame, chatLink, onDoc } from './events';
import { type Key, t } from './i18n';
import type { IconName } from './icons';
import { alertBox, badge, button, confirmDialog, errorText, icon, loading, openDialog, textField, toast } from './ui';
import type { AppCtx } from './views/shell';

/** Quill and its setup (docs-quill.ts), loaded as a chunk of its own (vendor code). */
export type QuillKit = typeof QuillModule;

export interface EditorHandle {
	el: HTMLElement;
	destroy(): void;
}

const PRESENCE_MAX = 6;
/** How often comments and the policy are read again when no live frame has shown they arrive by themselves. */
const POLL_MS = 20_000;
/** Set once a doc.comment / doc.policy frame arrived: the stream passes them on, so no polling. */
let liveFramesSeen = false;

type AnyDocFrame = DocFrame | DocCommentFrame | Schemas['EventDocPolicy'];

/**
 * The editor of each document open in this tab.  The connection has one
 * subscription per document, so when the page is drawn again (a language
 * change re-renders the shell) the new editor takes over from the old one,
 * which stops without sending doc.close (that would end the new one's
 * subscription too).
 */
const openDocs = new Map<number, { takeOver(): void }>();
const URL_MAX = 2048;

const STATUS: Record<SyncStatus, { key: Key; icon: IconName }> = {
	loading: { key: 'docs.status.loading', icon: 'refresh' },
	saved: { key: 'docs.status.saved', icon: 'check' },
	saving: { key: 'docs.status.saving', icon: 'refresh' },
	offline: { key: 'docs.status.offline', icon: 'alert' },
	reloading: { key: 'docs.status.reloading', icon: 'refresh' },
	error: { key: 'docs.status.error', icon: 'alert' },
};

export function openEditor(ctx: AppCtx, id: number, o: { focusTitle: boolean }, kit: QuillKit): EditorHandle {
	const root = h('div', { class: 'doc-editor', testid: 'doc-editor', attrs: { 'data-doc': id } }, loading());
	let teardown: (() => void) | null = null;
	let destroyed = false;

	Promise.all([api('get', '/api/v1/documents/{id}', { path: { id } }), loadPolicy(id)])
		.then(([r, policy]) => {
			if (destroyed) return;
			teardown = build(ctx, kit, root, r.document, toDelta(r.content), policy, o);
		})
		.catch((e: unknown) => {
			if (destroyed) return;
			const a = alertBox('doc-error');
			a.set(errorText(e));
			replace(
				root,
				h('div', { class: 'docs-page' }, a.el, h('a', { class: 'btn btn-secondary btn-sm', href: folderHref(0), testid: 'doc-back' }, icon('chevronLeft'), h('span', { class: 'btn-label' }, t('docs.backToAll')))),
			);
		});

	return {
		el: root,
		destroy() {
			destroyed = true;
			teardown?.();
			teardown = null;
		},
	};
}

function build(ctx: AppCtx, kit: QuillKit, root: HTMLElement, first: Doc, content: Delta, firstPolicy: DocPolicy, o: { focusTitle: boolean }): () => void {
	const me = ctx.session.user;
	let doc = first;
	let role: DocRole = doc.my_role;
	let gone = false;
	let opened = false;
	let policy = firstPolicy;
	const cleanups: (() => void)[] = [];

	// ---- head ----
	const back = h(
		'a',
		{ class: 'btn btn-ghost btn-icon doc-back', href: folderHref(doc.folder_id), testid: 'doc-back', title: t('docs.backToFolder'), attrs: { 'aria-label': t('docs.backToFolder') } },
		icon('chevronLeft'),
	);
	const title = h('input', {
		class: 'doc-title',
		testid: 'doc-title',
		value: doc.title,
		maxLength: TITLE_MAX,
		spellcheck: true,
		attrs: { 'aria-label': t('docs.title'), autocomplete: 'off' },
	});
	const statusEl = h('span', { class: 'doc-status', testid: 'doc-status', attrs: { role: 'status', 'aria-live': 'polite' } });
	const roleBadge = h('span', { class: 'doc-role', testid: 'doc-role' });
	const presence = h('ul', { class: 'doc-presence', testid: 'doc-presence', attrs: { 'aria-label': t('docs.presence') } });
	const historyBtn = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-ghost btn-icon',
			testid: 'doc-history',
			title: t('docs.history.title'),
			attrs: { 'aria-label': t('docs.history.title'), 'aria-pressed': 'false' },
			on: { click: () => toggleHistory() },
		},
		icon('history'),
	);
	const commentCount = h('span', { class: 'doc-count', hidden: true, testid: 'doc-comments-count' });
	const commentsBtn = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-ghost btn-icon doc-comments-btn',
			testid: 'doc-comments',
			title: t('docs.comments.title'),
			attrs: { 'aria-label': t('docs.comments.title'), 'aria-pressed': 'false' },
			on: { click: () => toggleDrawer('comments') },
		},
		icon('comment'),
		commentCount,
	);
	const mac = /Mac|iPhone|iPad/.test(navigator.platform);
	const commentKeys = mac ? '⌥⌘M' : 'Ctrl+Alt+M';
	const addCommentBtn = button(t('docs.comments.add'), {
		small: true,
		icon: 'commentPlus',
		testid: 'doc-comment-add',
		title: `${t('docs.comments.addHint')} (${commentKeys})`,
		onClick: () => newComment(),
	});
	addCommentBtn.setAttribute('aria-keyshortcuts', mac ? 'Alt+Meta+M' : 'Control+Alt+M');
	/* keep the editor's selection: the button does not take focus on mousedown */
	addCommentBtn.addEventListener('mousedown', (ev) => ev.preventDefault());
	const shareBtn = button(t('docs.share.button'), { small: true, icon: 'share', testid: 'doc-share', onClick: () => shareDialog(ctx.session, doc) });
	const menuHolder = h('span', { class: 'doc-menu-holder' });
	const chip = labelChip({
		doc: () => doc,
		onChanged: (d) => {
			doc = { ...d, my_role: role };
			void reloadPolicy();
		},
	});
	const head = h(
		'header',
		{ class: 'doc-head' },
		back,
		h('div', { class: 'doc-head-main' }, title, h('div', { class: 'doc-meta' }, chip.el, statusEl, roleBadge)),
		presence,
		h('div', { class: 'doc-head-actions' }, addCommentBtn, commentsBtn, historyBtn, shareBtn, menuHolder),
	);

	// ---- editor ----
	const banner = h('div', { class: 'doc-banner', hidden: true, testid: 'doc-banner', attrs: { role: 'alert' } });
	const quillBox = h('div', { class: 'doc-quill' });
	const wmSlot = h('div', { class: 'doc-wm-slot' });
	const paper = h('div', { class: 'doc-paper' }, quillBox, wmSlot);
	const scroller = h('div', { class: 'doc-scroll', testid: 'doc-scroll' }, paper);
	const linkBar = h('div', { class: 'doc-linkbar', hidden: true, testid: 'doc-linkbar' });
	const drawer = h('aside', { class: 'doc-drawer', hidden: true, testid: 'doc-drawer', attrs: { 'aria-label': t('docs.history.title') } });
	let drawerMode: 'history' | 'comments' | null = null;
	const toolbarHolder = h('div', { class: 'doc-toolbar-holder' });
	const main = h('div', { class: 'doc-main' }, toolbarHolder, linkBar, scroller);
	const layout = h('div', { class: 'doc-layout' }, main, drawer);
	replace(root, head, banner, layout);

	const quill = kit.makeQuill(quillBox, {
		readOnly: true,
		label: t('docs.contentLabel', { title: doc.title }),
		placeholder: t('docs.placeholder'),
		onLinkKey: () => linkDialog(),
	});
	quill.setContents(content, 'silent');
	const cursors = new CursorLayer(quill);
	const toolbar = docToolbar(quill, { link: () => linkDialog() });
	toolbarHolder.appendChild(toolbar.el);
	cleanups.push(() => cursors.destroy());

	// ---- policy: watermark, copy, print, export ----
	/* the text and the side panel (comments quote the text); the title in the header is not guarded */
	const guard: Guard = docGuard(doc.id, layout, policy);
	cleanups.push(() => guard.destroy());

	function applyPolicy(p: DocPolicy): void {
		policy = p;
		guard.set(p);
		const wm = wmSlot.firstElementChild;
		if (p.watermark && !wm) wmSlot.appendChild(watermark(me));
		else if (!p.watermark && wm) replace(wmSlot);
		chip.set(p.name || doc.classification || '', role === 'owner' && !gone, p);
		drawMenu();
	}

	let policyGen = 0;
	async function reloadPolicy(): Promise<void> {
		const mine = ++policyGen;
		const p = await loadPolicy(doc.id);
		if (mine !== policyGen || gone) return;
		applyPolicy(p);
	}

	// ---- co-editors ----
	const peers = new Map<number, string>();
	let people = new Map<number, { id: number; username: string; display_name: string | null }>();
	void directory().then((m) => {
		people = m;
		drawPresence();
	});

	/** The directory's display name first (the server sends the username). */
	function peerName(user: number, given?: string): string {
		return personName(people, user, given);
	}

	function drawPresence(): void {
		const list = [...peers.entries()];
		const shown = list.slice(0, PRESENCE_MAX);
		replace(
			presence,
			shown.map(([user, name]) =>
				h(
					'li',
					{ class: 'doc-peer', testid: 'doc-peer', title: name, attrs: { 'data-user': user } },
					avatar(name, user, `doc-peer-avatar doc-ring-c${user % 8}`),
					h('span', { class: 'sr-only' }, name),
				),
			),
			list.length > PRESENCE_MAX
				? h('li', { class: 'doc-peer doc-peer-more', title: list.slice(PRESENCE_MAX).map(([, n]) => n).join(', ') }, `+${list.length - PRESENCE_MAX}`)
				: null,
		);
		presence.hidden = list.length === 0;
		presence.setAttribute('aria-label', list.length ? t('docs.presenceN', { n: list.length }) : t('docs.presence'));
	}

	// ---- status, role, notices ----
	function drawStatus(s: SyncStatus): void {
		const st = STATUS[s];
		statusEl.dataset.state = s;
		statusEl.className = `doc-status doc-status-${s}`;
		replace(statusEl, icon(st.icon, 'icon icon-sm'), h('span', null, t(st.key)));
	}

	function showBanner(text: string | null, tone: 'info' | 'warning' | 'danger' = 'warning'): void {
		banner.hidden = !text;
		banner.className = `doc-banner alert alert-${tone}`;
		replace(banner, text ? [icon(tone === 'info' ? 'info' : 'alert'), h('span', null, text)] : null);
	}

	function setRole(r: DocRole): void {
		role = r;
		doc = { ...doc, my_role: r };
		const write = canWrite(r);
		const editable = write && opened && !gone;
		quill.enable(editable);
		quill.root.setAttribute('aria-readonly', String(!editable));
		/* a read-only editor is not focusable by itself: let the page be scrolled with the keyboard */
		/* (-1: the page can still be focused from script) */
		scroller.setAttribute('tabindex', editable ? '-1' : '0');
		toolbar.el.hidden = !write;
		toolbar.setEnabled(editable);
		title.readOnly = !roleAtLeast(r, 'editor') || gone;
		historyBtn.disabled = gone;
		shareBtn.disabled = gone;
		menuHolder.hidden = gone;
		replace(roleBadge, write ? null : badge(t('docs.viewOnly', { role: docRoleLabel(r) }), 'neutral'));
		historyPanelRef?.setRole(r);
		comments.setRole(r);
		commentsBtn.disabled = gone;
		chip.set(policy.name || doc.classification || '', r === 'owner' && !gone, policy);
		drawMenu();
		updateLinkBar();
		updateCommentBtn();
	}

	function notice(n: SyncNotice): void {
		switch (n.kind) {
			case 'too_large':
				toast(t('docs.n.tooLarge'), 'danger');
				break;
			case 'invalid_op':
				toast(t('docs.n.invalid'), 'warning');
				break;
			case 'forbidden':
				toast(t('docs.n.forbidden'), 'warning');
				break;
			case 'lostEdit':
				toast(t('docs.n.lostEdit'), 'warning');
				break;
			case 'not_found':
				gone = true;
				showBanner(t('docs.n.gone'), 'danger');
				peers.clear();
				cursors.clear();
				drawPresence();
				if (!drawer.hidden) closeDrawer();
				setRole(role);
				break;
			case 'tooManyEditors':
				showBanner(t('docs.n.tooMany'), 'warning');
				break;
			case 'reset':
				/* 'deleted': the reload answers not_found, which shows the banner */
				/* 'permissions' (grants or links changed): a changed role shows in the header, lost access as "gone" */
				if (n.reason !== 'deleted' && n.reason !== 'permissions') toast(n.reason === 'restored' ? t('docs.n.restored') : t('docs.n.reset'), 'info');
				break;
			default:
				break;
		}
	}

	// ---- sync ----
	const host: SyncHost = {
		send: (f) => chatLink()?.sendDoc(f) ?? false,
		flush: () => quill.update('user'),
		load(c, r, keep) {
			const sel = keep ? quill.getSelection() : null;
			const old = keep ? quill.getContents() : null;
			replacing = true;
			try {
				quill.setContents(c, 'api');
			} finally {
				replacing = false;
			}
			quill.history.clear();
			if (sel && old) {
				const [i, l] = shift(old.diff(quill.getContents()), sel.index, sel.length);
				quill.setSelection(i, l, 'silent');
			}
			opened = true;
			cursors.clear();
			comments.invalidate();
			if (gone) {
				gone = false;
				showBanner(null);
			}
			setRole(r);
		},
		content: () => quill.getContents(),
		selection: () => {
			/* the caret, or where it was last (so a newcomer is shown to the others at once) */
			const r = (quill.hasFocus() ? quill.getSelection() : null) ?? quill.selection.savedRange;
			return r ? { index: r.index, length: r.length } : null;
		},
		apply(op) {
			quill.updateContents(op, 'api');
			cursors.transform(op);
		},
		peers(list) {
			peers.clear();
			cursors.clear();
			for (const p of list) {
				if (p.user === me.id) continue;
				const name = peerName(p.user, p.name);
				peers.set(p.user, name);
				cursors.set(p.user, name, p.index ?? 0, p.length ?? 0);
			}
			drawPresence();
		},
		cursor(user, name, index, length) {
			if (user === me.id) return;
			const n = peerName(user, name);
			peers.set(user, n);
			cursors.set(user, n, index, length);
			drawPresence();
		},
		left(user) {
			peers.delete(user);
			cursors.remove(user);
			drawPresence();
		},
		status: drawStatus,
		notice,
	};
	const sync = new DocSync(doc.id, host);
	/** The content is being replaced as a whole (a state load): anchors are read again, not moved. */
	let replacing = false;

	// ---- comments ----
	const comments: CommentsPanel = commentsPanel({
		doc,
		session: ctx.session,
		role,
		quill,
		sync,
		cursors,
		onCount(n) {
			commentCount.hidden = n === 0;
			commentCount.textContent = n > 99 ? '99+' : String(n);
			const label = n ? t('docs.comments.titleN', { n }) : t('docs.comments.title');
			commentsBtn.setAttribute('aria-label', label);
			commentsBtn.title = label;
		},
		onClose: () => closeDrawer(),
		reveal(index, length) {
			const b = quill.getBounds(index, length);
			if (!b) return;
			const paperTop = paper.offsetTop;
			const top = paperTop + quillBox.offsetTop + b.top;
			if (top < scroller.scrollTop + 40 || top + b.height > scroller.scrollTop + scroller.clientHeight - 40) {
				scroller.scrollTo({ top: Math.max(0, top - scroller.clientHeight / 3), behavior: 'smooth' });
			}
		},
	});
	cleanups.push(() => comments.destroy());
	/** The last selection with text in it (the Comment button uses it after the editor lost focus). */
	let lastRange: { index: number; length: number } | null = null;

	function updateCommentBtn(): void {
		const may = roleAtLeast(role, 'commenter') && !gone;
		addCommentBtn.hidden = !may;
		addCommentBtn.disabled = !may || !opened || !lastRange || lastRange.length === 0;
	}

	function newComment(): void {
		if (!roleAtLeast(role, 'commenter') || gone) return;
		const r = quill.getSelection() ?? lastRange;
		if (!r || r.length === 0) {
			toast(t('docs.comments.selectFirst'), 'info');
			return;
		}
		openDrawer('comments');
		comments.startDraft(r.index, r.length);
	}

	quill.root.addEventListener('keydown', (ev) => {
		if ((ev.ctrlKey || ev.metaKey) && ev.altKey && ev.code === 'KeyM') {
			ev.preventDefault();
			newComment();
		}
	});

	let quietClose = false;
	cleanups.push(() => sync.close(quietClose));
	const self = {
		takeOver() {
			quietClose = true;
			stopAll();
		},
	};
	openDocs.get(doc.id)?.takeOver();
	openDocs.set(doc.id, self);
	cleanups.push(() => {
		if (openDocs.get(doc.id) === self) openDocs.delete(doc.id);
	});

	const queued: DocFrame[] = [];
	function onFrame(f: DocFrame): void {
		sync.frame(f);
		comments.settle();
	}
	const offDoc = onDoc((sig) => {
		if (sig.type === 'frame') {
			const f = sig.frame as AnyDocFrame;
			if (f.doc !== doc.id) return;
			if (f.type === 'doc.comment') {
				liveFramesSeen = true;
				comments.frame(f);
				return;
			}
			if (f.type === 'doc.policy') {
				liveFramesSeen = true;
				if (f.classification) doc = { ...doc, classification: f.classification };
				void reloadPolicy();
				return;
			}
			if (quill.composition.isComposing) queued.push(f);
			else onFrame(f);
		} else if (sig.type === 'link') {
			sync.linkState(sig.state);
			if (sig.state !== 'online') {
				peers.clear();
				cursors.clear();
				drawPresence();
			}
		} else {
			/* the stream ended for good (sign-out): nothing more will come */
			quietClose = true;
			stopAll();
		}
	});
	cleanups.push(offDoc);
	const afterComposition = () =>
		window.setTimeout(() => {
			while (queued.length && !quill.composition.isComposing) onFrame(queued.shift() as DocFrame);
		}, 0);
	quill.root.addEventListener('compositionend', afterComposition);
	cleanups.push(() => quill.root.removeEventListener('compositionend', afterComposition));

	quill.on('text-change', (delta, _old, source) => {
		if (source === 'user') {
			sync.local(delta);
			cursors.transform(delta);
			sync.selectionChanged();
		}
		if (!replacing) comments.transform(delta);
		if (lastRange) {
			const [i, l] = shift(delta, lastRange.index, lastRange.length);
			lastRange = { index: i, length: l };
		}
		cursors.draw();
		toolbar.update();
		updateLinkBar();
	});

	quill.on('selection-change', (range) => {
		toolbar.update();
		updateLinkBar();
		if (range) {
			sync.selectionChanged();
			lastRange = range.length > 0 ? { index: range.index, length: range.length } : null;
			comments.caretAt(range.index);
			updateCommentBtn();
		}
	});

	/* comments and the policy again now and then, while no live frame shows they arrive by themselves */
	const poll = window.setInterval(() => {
		if (liveFramesSeen || gone || !opened || document.visibilityState !== 'visible' || chatLink()?.linkState !== 'online') return;
		void comments.refresh();
		void reloadPolicy();
	}, POLL_MS);
	cleanups.push(() => window.clearInterval(poll));

	// ---- title ----
	async function saveTitle(): Promise<void> {
		const v = title.value.trim();
		if (!v || v === doc.title || title.readOnly) {
			title.value = doc.title;
			return;
		}
		try {
			const r = await api('patch', '/api/v1/documents/{id}', { path: { id: doc.id }, body: { title: v } });
			doc = { ...r.document, my_role: role };
			title.value = doc.title;
			quill.root.setAttribute('aria-label', t('docs.contentLabel', { title: doc.title }));
			toast(t('docs.renamed'), 'success');
		} catch (e) {
			title.value = doc.title;
			toast(errorText(e), 'danger');
		}
	}
	title.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter') {
			ev.preventDefault();
			quill.focus();
		} else if (ev.key === 'Escape') {
			title.value = doc.title;
			title.blur();
		}
	});
	title.addEventListener('change', () => void saveTitle());

	// ---- menu ----
	let menuSig = '';
	function drawMenu(): void {
		const items: MenuItem[] = [];
		const why = exportBlockedReason(policy);
		items.push({
			label: t('docs.export.md'),
			icon: 'download',
			testid: 'doc-export-md',
			disabled: !!why,
			hint: why || undefined,
			run: () => void exportDoc(doc, 'md'),
		});
		items.push({
			label: t('docs.export.html'),
			icon: 'download',
			testid: 'doc-export-html',
			disabled: !!why,
			hint: why || undefined,
			run: () => void exportDoc(doc, 'html'),
		});
		if (roleAtLeast(role, 'editor')) {
			items.push({
				label: t('docs.rename'),
				icon: 'edit' as IconName,
				testid: 'doc-rename',
				run: () => {
					title.focus();
					title.select();
				},
			});
			items.push({
				label: t('docs.move'),
				icon: 'move' as IconName,
				testid: 'doc-move',
				run: () =>
					void moveDoc(doc).then(async (moved) => {
						if (!moved) return;
						const r = await api('get', '/api/v1/documents/{id}', { path: { id: doc.id } }).catch(() => null);
						if (r) {
							doc = { ...r.document, my_role: role };
							back.href = folderHref(doc.folder_id);
						}
						toast(t('docs.moved'), 'success');
					}),
			});
		}
		items.push({
			label: t('docs.duplicate'),
			icon: 'copy' as IconName,
			testid: 'doc-duplicate',
			run: () =>
				void duplicateDoc(doc).then((x) => {
					if (x) {
						toast(t('docs.duplicated', { title: x.title }), 'success');
						location.hash = docHref(x.id);
					}
				}),
		});
		if (role === 'owner') {
			items.push({
				label: t('docs.toTrash'),
				icon: 'trash' as IconName,
				testid: 'doc-delete',
				danger: true,
				run: () =>
					void trashDoc(doc, confirmDialog).then((x) => {
						if (x) location.hash = folderHref(doc.folder_id);
					}),
			});
		}
		/* nothing changed (the policy read again): keep the menu as it is */
		const sig = JSON.stringify(items.map((it) => [it.testid, it.label, !!it.disabled, it.hint ?? '']));
		if (sig === menuSig && menuHolder.firstChild) return;
		menuSig = sig;
		/* redrawn while open (the policy changed): keep it open, and the focus where it was */
		const old = menuHolder.querySelector('details');
		const wasOpen = !!old?.open;
		const focused = old?.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.testid : undefined;
		const menu = actionsMenu(t('docs.moreActions'), items, { alive: () => root.isConnected }, 'doc-menu');
		replace(menuHolder, menu);
		if (wasOpen && menu instanceof HTMLDetailsElement) {
			menu.open = true;
			if (focused) window.setTimeout(() => menu.querySelector<HTMLElement>(`[data-testid="${CSS.escape(focused)}"]`)?.focus(), 0);
		}
	}

	// ---- the drawer: version history or comments ----
	let historyPanelRef: HistoryPanel | null = null;
	function closeDrawer(): void {
		const was = drawerMode;
		drawer.hidden = true;
		replace(drawer);
		drawerMode = null;
		historyPanelRef = null;
		root.classList.remove('doc-has-drawer');
		historyBtn.setAttribute('aria-pressed', 'false');
		commentsBtn.setAttribute('aria-pressed', 'false');
		if (was === 'history') historyBtn.focus();
		else if (was === 'comments') commentsBtn.focus();
	}
	function openDrawer(mode: 'history' | 'comments'): void {
		if (drawerMode === mode) return;
		historyPanelRef = null;
		if (mode === 'history') {
			historyPanelRef = historyPanel({
				doc,
				me,
				role,
				kit,
				guard: (el) => guard.watch(el),
				watermark: () => policy.watermark,
				onClose: () => closeDrawer(),
				onRestored: () => sync.reload(),
			});
			replace(drawer, historyPanelRef.el);
			drawer.setAttribute('aria-label', t('docs.history.title'));
		} else {
			replace(drawer, comments.el);
			drawer.setAttribute('aria-label', t('docs.comments.title'));
		}
		drawerMode = mode;
		drawer.hidden = false;
		root.classList.add('doc-has-drawer');
		historyBtn.setAttribute('aria-pressed', String(mode === 'history'));
		commentsBtn.setAttribute('aria-pressed', String(mode === 'comments'));
		if (mode === 'history') historyPanelRef?.el.querySelector<HTMLElement>('.drawer-title')?.focus();
		else comments.shown();
	}
	function toggleDrawer(mode: 'history' | 'comments'): void {
		if (drawerMode === mode) closeDrawer();
		else openDrawer(mode);
	}
	function toggleHistory(): void {
		toggleDrawer('history');
	}
	drawer.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape' && !ev.defaultPrevented && !document.querySelector('dialog[open]')) closeDrawer();
	});

	// ---- links ----
	type LinkBlotT = { length(): number };
	const LinkFormat = kit.Quill.import('formats/link') as unknown as new (...a: never[]) => LinkBlotT;

	/** The whole link at index: [start, length, href] (or null). */
	function linkAt(index: number): [number, number, string] | null {
		const [blot, offset] = quill.scroll.descendant((b: unknown) => b instanceof LinkFormat, index) as [LinkBlotT | null, number];
		if (!blot) return null;
		const href = quill.getFormat(index, 0).link ?? quill.getFormat(index, 1).link;
		return [index - offset, blot.length(), typeof href === 'string' ? href : ''];
	}

	function updateLinkBar(): void {
		const r = quill.getSelection();
		const f = r ? quill.getFormat(r) : {};
		const href = typeof f.link === 'string' ? f.link : '';
		if (!href) {
			linkBar.hidden = true;
			replace(linkBar);
			return;
		}
		linkBar.hidden = false;
		const write = canWrite(role) && quill.isEnabled();
		replace(
			linkBar,
			icon('link', 'icon icon-sm'),
			h('span', { class: 'doc-linkbar-url', title: href }, href),
			button(t('docs.link.open'), { small: true, kind: 'ghost', testid: 'doc-link-open', onClick: () => openLinkWarning(href, href, null) }),
			write ? button(t('docs.link.edit'), { small: true, kind: 'ghost', testid: 'doc-link-edit', onClick: () => linkDialog() }) : null,
			write
				? button(t('docs.link.remove'), {
						small: true,
						kind: 'ghost',
						testid: 'doc-link-remove',
						onClick: () => {
							const sel = quill.getSelection(true);
							const l = sel ? linkAt(sel.index) : null;
							if (l) quill.formatText(l[0], l[1], 'link', false, 'user');
							else if (sel) quill.format('link', false, 'user');
						},
					})
				: null,
		);
	}

	function normaliseUrl(v: string): string | null {
		let s = v.trim();
		if (!s) return null;
		let base: string | undefined;
		if (!/^[a-z][a-z0-9+.-]*:/i.test(s)) {
			/* no scheme: an e-mail address, or a host (the page's scheme, always HTTPS, is used) */
			if (/^[^\s@/]+@[^\s@/]+\.[^\s@/]+$/.test(s)) s = `mailto:${s}`;
			else {
				s = `//${s.replace(/^\/+/, '')}`;
				base = location.href;
			}
		}
		try {
			const u = new URL(s, base);
			if (!['http:', 'https:', 'mailto:'].includes(u.protocol)) return null;
			return u.href;
		} catch {
			return null;
		}
	}

	function linkDialog(): void {
		if (!canWrite(role) || !quill.isEnabled()) return;
		const range = quill.getSelection(true);
		if (!range) return;
		const existing = linkAt(range.index);
		const url = textField({ label: t('docs.link.url'), type: 'url', maxLength: URL_MAX, value: existing?.[2] ?? '', testid: 'link-url-input', placeholder: t('docs.link.placeholder') });
		const needText = range.length === 0 && !existing;
		const text = needText ? textField({ label: t('docs.link.text'), maxLength: 500, testid: 'link-text-input', spellcheck: true }) : null;
		const form = h('form', { class: 'form', attrs: { novalidate: true } }, url.wrap, text?.wrap);
		const d = openDialog({ title: existing ? t('docs.link.editTitle') : t('docs.link.addTitle'), body: form, testid: 'link-dialog', onClose: () => quill.focus() });
		const apply = (ev?: Event) => {
			ev?.preventDefault();
			const href = normaliseUrl(url.input.value);
			if (!href) {
				url.setError(t('docs.link.invalid'));
				url.input.focus();
				return;
			}
			if (existing) quill.formatText(existing[0], existing[1], 'link', href, 'user');
			else if (range.length > 0) quill.formatText(range.index, range.length, 'link', href, 'user');
			else {
				const label = text?.input.value.trim() || href;
				quill.insertText(range.index, label, { link: href }, 'user');
				quill.setSelection(range.index + label.length, 0, 'silent');
			}
			d.close();
		};
		form.addEventListener('submit', apply);
		append(
			d.footer,
			button(t('common.cancel'), { onClick: () => d.close() }),
			existing
				? button(t('docs.link.remove'), {
						kind: 'danger',
						testid: 'link-remove',
						onClick: () => {
							quill.formatText(existing[0], existing[1], 'link', false, 'user');
							d.close();
						},
					})
				: null,
			button(t('docs.link.save'), { kind: 'primary', testid: 'link-save', onClick: () => apply() }),
		);
		url.input.focus();
	}

	/* a click on a link in the text opens the warning page (read-only, or Ctrl/⌘-click while editing) */
	quill.root.addEventListener(
		'click',
		(ev) => {
			const a = (ev.target as Element | null)?.closest?.('a[href]');
			if (!a) return;
			ev.preventDefault();
			if (!quill.isEnabled() || ev.ctrlKey || ev.metaKey) openLinkWarning(a.getAttribute('href') ?? '', a.textContent ?? '', null);
		},
		true,
	);
	quill.root.addEventListener('auxclick', (ev) => {
		if ((ev.target as Element | null)?.closest?.('a[href]')) ev.preventDefault();
	});

	// ---- leaving ----
	const beforeUnload = (ev: BeforeUnloadEvent) => {
		if (sync.pending) ev.preventDefault();
	};
	window.addEventListener('beforeunload', beforeUnload);
	cleanups.push(() => window.removeEventListener('beforeunload', beforeUnload));

	// ---- start ----
	drawStatus('loading');
	drawPresence();
	applyPolicy(policy);
	setRole(role);
	sync.linkState(chatLink()?.linkState ?? 'offline');
	if (o.focusTitle && roleAtLeast(role, 'editor')) {
		title.focus();
		title.select();
	} else {
		/* keyboard and screen-reader users land in the document, not on the page's body */
		scroller.focus({ preventScroll: true });
	}

	function stopAll(): void {
		for (const fn of cleanups.splice(0)) {
			try {
				fn();
			} catch (e) {
				console.warn('document cleanup failed', e);
			}
		}
	}
	return stopAll;
}

