// views/docs.ts — "Documents" (RG-DOC-a/b/c/g/h, RG-APP-h): the page
// follows its own hash routes — #/docs (top level), #/docs/f/ID (a folder),
// #/docs/shared (others' documents the user may read), #/docs/trash,
// #/docs/link/TOKEN (a share link being opened, docs-links.ts) and
// #/docs/ID (the editor; ?new=1 focuses the title of a document just
// created).  The list and the trash are in docs-list.ts; the
// editor (and Quill with it) is loaded on demand from docs-editor.ts, so
// the rest of the client does not carry the editor.  Leaving a document
// (another route, another page, sign-out) closes it (doc.close).
import 'quill/dist/quill.core.css';
import { type DocsRoute, parseDocsRoute } from '../docs-data';
import { linkOpenPage } from '../docs-links';
import { docsList, docsTrash } from '../docs-list';
import { h, replace } from '../dom';
import { t } from '../i18n';
import { alertBox, button, loading } from '../ui';
import type { AppCtx } from './shell';

interface Open {
	route: DocsRoute;
	destroy(): void;
}

export function docsPage(ctx: AppCtx): HTMLElement {
	const root = h('div', { class: 'docs', testid: 'docs' });
	let current: Open | null = null;
	let gen = 0;

	const alive = () => root.isConnected;

	function close(): void {
		current?.destroy();
		current = null;
	}

	function route(): void {
		const r = parseDocsRoute();
		if (current && JSON.stringify(current.route) === JSON.stringify(r)) return;
		const internal = current !== null;
		close();
		const mine = ++gen;
		/* moving inside Documents: focus goes to the new view (the link that was used is gone) */
		const focusView = (el: HTMLElement) => {
			if (!internal) return;
			el.tabIndex = -1;
			el.focus({ preventScroll: true });
		};
		root.classList.toggle('docs-editing', r.view === 'doc');
		if (r.view === 'list') {
			const v = docsList({ session: ctx.session, alive }, r.folder);
			replace(root, v);
			focusView(v);
			current = { route: r, destroy() {} };
		} else if (r.view === 'shared') {
			const v = docsList({ session: ctx.session, alive }, 0, true);
			replace(root, v);
			focusView(v);
			current = { route: r, destroy() {} };
		} else if (r.view === 'link') {
			const v = linkOpenPage(r.token);
			replace(root, v);
			focusView(v);
			current = { route: r, destroy() {} };
		} else if (r.view === 'trash') {
			const v = docsTrash({ session: ctx.session, alive });
			replace(root, v);
			focusView(v);
			current = { route: r, destroy() {} };
		} else {
			replace(root, loading());
			const focusTitle = /[?&]new=1\b/.test(location.hash);
			let destroyed = false;
			let handle: { destroy(): void } | null = null;
			current = {
				route: r,
				destroy() {
					destroyed = true;
					handle?.destroy();
				},
			};
			/* the editor, and Quill in a chunk of its own (third-party code, see docs-quill.ts) */
			Promise.all([import('../docs-editor'), import('../docs-quill')])
				.then(([m, kit]) => {
					if (destroyed || mine !== gen) return;
					const ed = m.openEditor(ctx, r.id, { focusTitle }, kit);
					handle = ed;
					replace(root, ed.el);
					if (focusTitle) history.replaceState(null, '', `#/docs/${r.id}`);
				})
				.catch(() => {
					if (destroyed || mine !== gen) return;
					const a = alertBox();
					a.set(t('docs.loadFailed'));
					replace(root, a.el, button(t('common.retry'), { icon: 'refresh', small: true, onClick: () => location.reload() }));
				});
		}
	}

	const onHash = () => {
		if (!root.isConnected) {
			window.removeEventListener('hashchange', onHash);
			close();
			return;
		}
		route();
	};
	window.addEventListener('hashchange', onHash);
	/* the shell replaces the page without a hash change when the language changes: close then too */
	const watch = new MutationObserver(() => {
		if (!root.isConnected && current) {
			watch.disconnect();
			window.removeEventListener('hashchange', onHash);
			close();
		}
	});
	queueMicrotask(() => {
		if (root.parentNode) watch.observe(root.parentNode, { childList: true });
		route();
	});
	return root;
}
