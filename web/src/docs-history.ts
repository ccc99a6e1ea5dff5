// docs-history.ts — a document's version history (RG-DOC-g): the saved
// versions (automatic ones every 100 revisions and when the last editor
// leaves, and named ones), a read-only preview of any of them (under the
// viewer's watermark when the document's policy asks for it, RG-APP-h, and
// with the same copy guard as the editor), restore (the old content becomes a new
// revision, so nothing is lost; every open editor reloads on doc.reset) and
// "save version" with a label.  Restore and save are for editors and the
// owner; the server checks again.
import { api } from './api';
import { watermark } from './chat-watermark';
import { type Doc, type DocRole, type DocVersion, LABEL_MAX, directory, personName, roleAtLeast } from './docs-data';
import type * as QuillModule from './docs-quill';
import { toDelta } from './docs-sync';
import { h, replace } from './dom';
import { fmtAgo, fmtTime, t } from './i18n';
import { alertBox, button, busy, confirmDialog, errorText, icon, loading, openDialog, textField, toast } from './ui';

export interface HistoryPanel {
	el: HTMLElement;
	reload(): void;
	/** The role may have changed (doc.state). */
	setRole(role: DocRole): void;
}

interface Viewer {
	id: number;
	username: string;
	display_name?: string | null;
}

export function historyPanel(o: {
	doc: Doc;
	me: Viewer;
	role: DocRole;
	kit: typeof QuillModule;
	/** Applies the document's copy rules to a preview; returns the remover. */
	guard?(el: HTMLElement): () => void;
	/** Whether the policy asks for the watermark (default: yes). */
	watermark?(): boolean;
	onClose(): void;
	onRestored(): void;
}): HistoryPanel {
	let role = o.role;
	const list = h('div', { class: 'history-body', attrs: { 'aria-live': 'polite' } }, loading());
	const label = textField({ label: t('docs.history.label'), maxLength: LABEL_MAX, testid: 'history-save-label', placeholder: t('docs.history.labelHint'), spellcheck: true });
	const saveBtn = button(t('docs.history.save'), { kind: 'primary', small: true, icon: 'plus', testid: 'history-save', type: 'submit' });
	const saveErr = alertBox('history-save-error');
	const form = h('form', { class: 'history-save', attrs: { novalidate: true } }, label.wrap, saveBtn, saveErr.el);
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		void busy(saveBtn, async () => {
			saveErr.set(null);
			try {
				const text = label.input.value.trim();
				await api('post', '/api/v1/documents/{id}/versions', { path: { id: o.doc.id }, body: text ? { label: text } : {} });
				label.input.value = '';
				toast(t('docs.history.saved'), 'success');
				reload();
			} catch (e) {
				saveErr.set(errorText(e));
			}
		});
	});
	const el = h(
		'div',
		{ class: 'drawer-inner history', testid: 'history-panel' },
		h(
			'div',
			{ class: 'drawer-head' },
			h('h2', { class: 'drawer-title', tabIndex: -1 }, t('docs.history.title')),
			h('button', { type: 'button', class: 'btn btn-ghost btn-icon', testid: 'history-close', attrs: { 'aria-label': t('common.close') }, on: { click: () => o.onClose() } }, icon('x')),
		),
		form,
		list,
	);
	let gen = 0;

	function versionName(v: DocVersion): string {
		return v.label ? v.label : v.created_by ? t('docs.history.unnamed', { rev: v.rev }) : t('docs.history.auto', { rev: v.rev });
	}

	function reload(): void {
		const mine = ++gen;
		form.hidden = !roleAtLeast(role, 'editor');
		Promise.all([api('get', '/api/v1/documents/{id}/versions', { path: { id: o.doc.id } }), directory()])
			.then(([r, people]) => {
				if (mine !== gen) return;
				const versions = [...r.versions].sort((a, b) => b.rev - a.rev || b.created_at - a.created_at);
				if (!versions.length) {
					replace(list, h('p', { class: 'muted history-empty', testid: 'history-empty' }, roleAtLeast(role, 'editor') ? t('docs.history.none') : t('docs.history.noneView')));
					return;
				}
				replace(
					list,
					h(
						'ul',
						{ class: 'history-list', testid: 'history-list' },
						versions.map((v) =>
							h(
								'li',
								{ class: 'history-item', testid: 'history-item', attrs: { 'data-id': v.id, 'data-rev': v.rev } },
								h('span', { class: 'history-name' }, versionName(v)),
								h(
									'span',
									{ class: 'history-meta muted' },
									h('time', { title: fmtTime(v.created_at), attrs: { datetime: new Date(v.created_at * 1000).toISOString() } }, fmtAgo(v.created_at)),
									v.created_by ? ` · ${personName(people, v.created_by, v.created_by_name)}` : ` · ${t('docs.history.system')}`,
									` · ${t('docs.history.rev', { rev: v.rev })}`,
								),
								h(
									'span',
									{ class: 'history-actions' },
									button(t('docs.history.preview'), { small: true, kind: 'ghost', icon: 'eye', testid: 'history-preview', onClick: () => preview(v) }),
									roleAtLeast(role, 'editor')
										? button(t('docs.history.restore'), { small: true, kind: 'ghost', icon: 'recall', testid: 'history-restore', onClick: () => void restore(v) })
										: null,
								),
							),
						),
					),
				);
			})
			.catch((e: unknown) => {
				if (mine !== gen) return;
				const a = alertBox();
				a.set(errorText(e));
				replace(list, a.el, button(t('common.retry'), { small: true, icon: 'refresh', onClick: reload }));
			});
	}

	async function restore(v: DocVersion, after?: () => void): Promise<void> {
		const yes = await confirmDialog({
			title: t('docs.history.restoreTitle'),
			message: t('docs.history.restoreMessage', { name: versionName(v), time: fmtTime(v.created_at) }),
			confirm: t('docs.history.restore'),
		});
		if (!yes) return;
		try {
			await api('post', '/api/v1/documents/{id}/versions/{vid}/restore', { path: { id: o.doc.id, vid: v.id } });
			toast(t('docs.history.restored', { name: versionName(v) }), 'success');
			after?.();
			o.onRestored();
			reload();
		} catch (e) {
			toast(errorText(e), 'danger');
		}
	}

	function preview(v: DocVersion): void {
		const holder = h('div', { class: 'doc-paper doc-preview', testid: 'history-preview-content' }, loading());
		const unguard = o.guard?.(holder);
		const d = openDialog({
			title: t('docs.history.previewTitle', { name: versionName(v) }),
			body: [h('p', { class: 'muted' }, t('docs.history.previewNote', { time: fmtTime(v.created_at), rev: v.rev })), holder],
			wide: true,
			testid: 'history-preview-dialog',
			onClose: () => unguard?.(),
		});
		const restoreBtn = roleAtLeast(role, 'editor')
			? button(t('docs.history.restoreThis'), { kind: 'primary', icon: 'recall', testid: 'history-preview-restore', onClick: () => void restore(v, () => d.close()) })
			: null;
		d.footer.append(button(t('common.close'), { onClick: () => d.close() }), ...(restoreBtn ? [restoreBtn] : []));
		api('get', '/api/v1/documents/{id}/versions/{vid}', { path: { id: o.doc.id, vid: v.id } })
			.then((r) => {
				if (!holder.isConnected) return;
				const box = h('div', { class: 'doc-quill' });
				replace(holder, box, (o.watermark?.() ?? true) ? watermark(o.me) : null);
				const q = o.kit.makeQuill(box, { readOnly: true, label: t('docs.history.previewLabel', { name: versionName(v) }) });
				q.setContents(toDelta(r.content), 'silent');
				q.root.dataset.testid = 'history-preview-text';
				box.querySelector<HTMLElement>('.ql-editor')?.setAttribute('tabindex', '0');
			})
			.catch((e: unknown) => {
				const a = alertBox();
				a.set(errorText(e));
				replace(holder, a.el);
			});
	}

	reload();
	return {
		el,
		reload,
		setRole(r: DocRole) {
			if (r === role) return;
			role = r;
			reload();
		},
	};
}
