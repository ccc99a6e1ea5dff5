// docs-toolbar.ts — the editor's formatting toolbar (WC-UI): headings 1–3,
// bold, italic, underline, bulleted and numbered lists, link, code block,
// quote, clear formatting, undo and redo.  A WAI-ARIA toolbar: one Tab stop,
// arrow keys / Home / End move between buttons, toggles carry aria-pressed
// from the format at the caret.  Buttons keep the editor's selection
// (mousedown does not take focus away from the text).
import type Quill from 'quill/core';
import { h } from './dom';
import { type Key, t } from './i18n';
import type { IconName } from './icons';
import { icon } from './ui';

interface Tool {
	id: string;
	label: Key;
	icon?: IconName;
	text?: string;
	/** A format toggle: [format, value]. */
	format?: [string, unknown];
	run?: () => void;
	shortcut?: string;
}

export interface Toolbar {
	el: HTMLElement;
	/** Re-reads the formats at the caret. */
	update(): void;
	setEnabled(on: boolean): void;
}

export function docToolbar(quill: Quill, hooks: { link(): void }): Toolbar {
	const mac = /Mac|iPhone|iPad/.test(navigator.platform);
	const mod = mac ? '⌘' : 'Ctrl+';
	const groups: Tool[][] = [
		[
			{ id: 'h1', label: 'docs.tb.h1', text: 'H1', format: ['header', 1] },
			{ id: 'h2', label: 'docs.tb.h2', text: 'H2', format: ['header', 2] },
			{ id: 'h3', label: 'docs.tb.h3', text: 'H3', format: ['header', 3] },
		],
		[
			{ id: 'bold', label: 'docs.tb.bold', icon: 'bold', format: ['bold', true], shortcut: `${mod}B` },
			{ id: 'italic', label: 'docs.tb.italic', icon: 'italic', format: ['italic', true], shortcut: `${mod}I` },
			{ id: 'underline', label: 'docs.tb.underline', icon: 'underline', format: ['underline', true], shortcut: `${mod}U` },
		],
		[
			{ id: 'bullet', label: 'docs.tb.bullet', icon: 'listBullet', format: ['list', 'bullet'] },
			{ id: 'ordered', label: 'docs.tb.ordered', icon: 'listNumber', format: ['list', 'ordered'] },
		],
		[
			{ id: 'link', label: 'docs.tb.link', icon: 'link', run: () => hooks.link(), shortcut: `${mod}K` },
			{ id: 'code', label: 'docs.tb.code', icon: 'code', format: ['code-block', true] },
			{ id: 'quote', label: 'docs.tb.quote', icon: 'quote', format: ['blockquote', true] },
			{ id: 'clear', label: 'docs.tb.clear', icon: 'clearFormat', run: () => clearFormats() },
		],
		[
			{ id: 'undo', label: 'docs.tb.undo', icon: 'undo', run: () => quill.history.undo(), shortcut: `${mod}Z` },
			{ id: 'redo', label: 'docs.tb.redo', icon: 'redo', run: () => quill.history.redo(), shortcut: mac ? '⇧⌘Z' : 'Ctrl+Y' },
		],
	];

	function clearFormats(): void {
		const r = quill.getSelection(true);
		if (!r) return;
		if (r.length) quill.removeFormat(r.index, r.length, 'user');
		else for (const name of ['header', 'list', 'code-block', 'blockquote']) quill.format(name, false, 'user');
	}

	function toggle(name: string, value: unknown): void {
		const r = quill.getSelection(true);
		if (!r) return;
		const cur = quill.getFormat(r)[name];
		quill.format(name, cur === value || (value === true && cur === true) ? false : value, 'user');
	}

	const buttons: HTMLButtonElement[] = [];
	const toggles: { btn: HTMLButtonElement; format: [string, unknown] }[] = [];
	const el = h(
		'div',
		{ class: 'doc-toolbar', testid: 'doc-toolbar', attrs: { role: 'toolbar', 'aria-label': t('docs.tb.label'), 'aria-controls': quill.root.id || null } },
		groups.map((g) =>
			h(
				'div',
				{ class: 'doc-tb-group', attrs: { role: 'group' } },
				g.map((tool) => {
					const label = tool.shortcut ? `${t(tool.label)} (${tool.shortcut})` : t(tool.label);
					const btn = h(
						'button',
						{
							type: 'button',
							class: ['doc-tb-btn', tool.text && 'doc-tb-text'],
							testid: `tb-${tool.id}`,
							title: label,
							tabIndex: -1,
							attrs: { 'aria-label': t(tool.label), 'aria-keyshortcuts': tool.shortcut ? shortcutAria(tool.shortcut, mac) : null, 'aria-pressed': tool.format ? 'false' : null },
							on: {
								mousedown: (ev) => ev.preventDefault(),
								click: () => {
									if (tool.format) toggle(tool.format[0], tool.format[1]);
									else tool.run?.();
									update();
								},
							},
						},
						tool.icon ? icon(tool.icon, 'icon') : h('span', { attrs: { 'aria-hidden': 'true' } }, tool.text ?? ''),
					);
					buttons.push(btn);
					if (tool.format) toggles.push({ btn, format: tool.format });
					return btn;
				}),
			),
		),
	);
	if (buttons[0]) buttons[0].tabIndex = 0;

	el.addEventListener('keydown', (ev) => {
		const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
		if (i < 0) return;
		let next = -1;
		if (ev.key === 'ArrowRight') next = (i + 1) % buttons.length;
		else if (ev.key === 'ArrowLeft') next = (i - 1 + buttons.length) % buttons.length;
		else if (ev.key === 'Home') next = 0;
		else if (ev.key === 'End') next = buttons.length - 1;
		if (next < 0) return;
		ev.preventDefault();
		buttons[i].tabIndex = -1;
		buttons[next].tabIndex = 0;
		buttons[next].focus();
	});
	el.addEventListener('focusin', (ev) => {
		const b = ev.target as HTMLButtonElement;
		if (!buttons.includes(b)) return;
		for (const x of buttons) x.tabIndex = x === b ? 0 : -1;
	});

	function update(): void {
		const r = quill.getSelection();
		const fmt = r ? quill.getFormat(r) : {};
		for (const { btn, format } of toggles) {
			const v = fmt[format[0]];
			const on = format[1] === true ? v === true : v === format[1];
			btn.setAttribute('aria-pressed', String(on));
		}
	}

	return {
		el,
		update,
		setEnabled(on: boolean) {
			el.classList.toggle('is-disabled', !on);
			el.setAttribute('aria-disabled', String(!on));
			for (const b of buttons) b.disabled = !on;
		},
	};
}

/** "Ctrl+B" → "Control+B", "⌘B" → "Meta+B" for aria-keyshortcuts. */
function shortcutAria(s: string, mac: boolean): string {
	if (!mac) return s.replace('Ctrl+', 'Control+');
	return s.replace('⇧', 'Shift+').replace('⌘', 'Meta+');
}
