// ui.ts — shared widgets: buttons, form fields, alerts, dialogs, toasts,
// copy/download helpers and translated error text (WC-UI, WC-I18N).
import { ApiError } from './api';
import { type Child, append, h, nextId, replace, svgIcon } from './dom';
import { LANGS, type Lang, fmtTime, getLang, isKey, setLang, t } from './i18n';
import { ICONS, type IconName } from './icons';

// ---- icons, buttons ------------------------------------------------------

export function icon(name: IconName, cls = 'icon'): SVGSVGElement {
	return svgIcon(ICONS[name], cls);
}

export interface ButtonOpts {
	kind?: 'primary' | 'secondary' | 'danger' | 'ghost' | 'link';
	testid?: string;
	icon?: IconName;
	type?: 'button' | 'submit';
	disabled?: boolean;
	small?: boolean;
	block?: boolean;
	title?: string;
	onClick?: (ev: MouseEvent) => void;
}

export function button(label: string, o: ButtonOpts = {}): HTMLButtonElement {
	return h(
		'button',
		{
			type: o.type ?? 'button',
			class: ['btn', `btn-${o.kind ?? 'secondary'}`, o.small && 'btn-sm', o.block && 'btn-block'],
			testid: o.testid,
			disabled: o.disabled,
			title: o.title,
			on: o.onClick ? { click: o.onClick } : undefined,
		},
		o.icon ? icon(o.icon) : null,
		h('span', { class: 'btn-label' }, label),
	);
}

/**
 * Runs fn with btn disabled and marked busy (aria-busy); restores it after.
 * Errors propagate to the caller.
 */
export async function busy<T>(btn: HTMLButtonElement, fn: () => Promise<T>): Promise<T> {
	const was = btn.disabled;
	btn.disabled = true;
	btn.setAttribute('aria-busy', 'true');
	btn.classList.add('is-busy');
	try {
		return await fn();
	} finally {
		btn.disabled = was;
		btn.removeAttribute('aria-busy');
		btn.classList.remove('is-busy');
	}
}

// ---- form fields -----------------------------------------------------------

export interface FieldOpts {
	label: string;
	testid?: string;
	type?: string;
	name?: string;
	value?: string;
	autocomplete?: string;
	maxLength?: number;
	minLength?: number;
	required?: boolean;
	hint?: string;
	inputMode?: string;
	pattern?: string;
	placeholder?: string;
	mono?: boolean;
	min?: string;
	max?: string;
	disabled?: boolean;
	spellcheck?: boolean;
}

export interface Field<E extends HTMLElement = HTMLInputElement> {
	wrap: HTMLElement;
	input: E;
	setError(msg: string | null): void;
}

function fieldFrame<E extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(
	label: string,
	input: E,
	hint?: string,
	extra?: Child,
): Field<E> {
	const id = input.id || nextId('f');
	input.id = id;
	const hintEl = hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, hint) : null;
	const errEl = h('p', { class: 'field-error', id: `${id}-err`, hidden: true, attrs: { 'aria-live': 'polite' } });
	const described = [hintEl ? `${id}-hint` : '', `${id}-err`].filter(Boolean).join(' ');
	input.setAttribute('aria-describedby', described);
	const wrap = h(
		'div',
		{ class: 'field' },
		h('label', { class: 'field-label', htmlFor: id }, label),
		extra ? h('div', { class: 'field-row' }, input, extra) : input,
		hintEl,
		errEl,
	);
	return {
		wrap,
		input,
		setError(msg) {
			if (msg) {
				replace(errEl, icon('alert', 'icon icon-sm'), msg);
				errEl.hidden = false;
				input.setAttribute('aria-invalid', 'true');
			} else {
				errEl.hidden = true;
				input.removeAttribute('aria-invalid');
			}
		},
	};
}

export function textField(o: FieldOpts, extra?: Child): Field {
	const input = h('input', {
		class: ['input', o.mono && 'mono'],
		type: o.type ?? 'text',
		name: o.name,
		value: o.value,
		autocomplete: o.autocomplete,
		maxLength: o.maxLength,
		minLength: o.minLength,
		required: o.required,
		inputMode: o.inputMode,
		pattern: o.pattern,
		placeholder: o.placeholder,
		testid: o.testid,
		min: o.min,
		max: o.max,
		disabled: o.disabled,
		spellcheck: o.spellcheck ?? false,
		attrs: { autocapitalize: 'off', autocorrect: 'off' },
	});
	return fieldFrame(o.label, input, o.hint, extra);
}

/** A password input with a show/hide toggle. */
export function passwordField(o: FieldOpts): Field {
	const f = textField({ ...o, type: 'password' });
	const toggle = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-ghost btn-icon',
			attrs: { 'aria-label': t('common.showPassword'), 'aria-pressed': 'false' },
			title: t('common.showPassword'),
			on: {
				click: () => {
					const show = f.input.type === 'password';
					f.input.type = show ? 'text' : 'password';
					toggle.setAttribute('aria-pressed', String(show));
					const label = show ? t('common.hidePassword') : t('common.showPassword');
					toggle.setAttribute('aria-label', label);
					toggle.title = label;
				},
			},
		},
		icon('eye'),
	);
	const row = h('div', { class: 'field-row pw-row' });
	f.input.replaceWith(row);
	append(row, f.input, toggle);
	return f;
}

export function selectField(
	label: string,
	options: { value: string; label: string }[],
	o: { testid?: string; value?: string; disabled?: boolean; hint?: string } = {},
): Field<HTMLSelectElement> {
	const sel = h(
		'select',
		{ class: 'input', testid: o.testid, disabled: o.disabled },
		options.map((op) => h('option', { value: op.value }, op.label)),
	);
	if (o.value !== undefined) sel.value = o.value;
	return fieldFrame(label, sel, o.hint);
}

export function checkbox(label: string, o: { testid?: string; checked?: boolean; disabled?: boolean; hint?: string } = {}) {
	const id = nextId('cb');
	const input = h('input', { type: 'checkbox', id, testid: o.testid, checked: o.checked, disabled: o.disabled });
	const wrap = h(
		'div',
		{ class: 'check' },
		input,
		h('label', { htmlFor: id }, label, o.hint ? h('span', { class: 'field-hint' }, o.hint) : null),
	);
	return { wrap, input };
}

// ---- alerts, badges ----------------------------------------------------------

export type Tone = 'info' | 'success' | 'warning' | 'danger';

/** An alert region; set() shows or hides it. */
export function alertBox(testid?: string) {
	const el = h('div', { class: 'alert', hidden: true, testid, attrs: { role: 'alert' } });
	return {
		el,
		set(msg: string | null, tone: Tone = 'danger') {
			if (!msg) {
				el.hidden = true;
				return;
			}
			el.className = `alert alert-${tone}`;
			replace(el, icon(tone === 'success' ? 'check' : 'alert'), h('span', null, msg));
			el.hidden = false;
		},
	};
}

export function badge(text: string, tone: Tone | 'neutral' | 'brand' = 'neutral', testid?: string): HTMLElement {
	return h('span', { class: `badge badge-${tone}`, testid }, text);
}

// ---- errors --------------------------------------------------------------------

/** A translated, human sentence for any thrown value. */
export function errorText(e: unknown): string {
	if (e instanceof ApiError) {
		switch (e.code) {
			case 'network':
				return t('err.network');
			case 'rate_limited':
				return e.retryAfter ? t('err.rate_limited_s', { seconds: e.retryAfter }) : t('err.rate_limited');
			case 'account_locked':
				return e.lockedUntil ? t('err.account_locked_until', { time: fmtTime(e.lockedUntil) }) : t('err.account_locked');
			case 'password_policy': {
				const k = `pwreason.${e.reason ?? ''}`;
				return isKey(k) ? t(k) : t('err.password_policy');
			}
			case 'invalid_request':
				return `${t('err.invalid_request')} (${e.message})`;
			default: {
				const k = `err.${e.code}`;
				return isKey(k) ? t(k) : t('err.generic', { code: e.code });
			}
		}
	}
	return t('err.unexpected');
}

// ---- toasts ----------------------------------------------------------------------

let toastRegion: HTMLElement | null = null;

/** Shows a transient notice (aria-live; 6 s, or until closed). */
export function toast(msg: string, tone: Tone = 'info', testid = 'toast'): void {
	if (!toastRegion || !toastRegion.isConnected) {
		toastRegion = h('div', { class: 'toasts', attrs: { 'aria-live': 'polite', role: 'status' } });
		document.body.appendChild(toastRegion);
	}
	const el = h(
		'div',
		{ class: `toast toast-${tone}`, testid },
		icon(tone === 'success' ? 'check' : tone === 'info' ? 'shield' : 'alert'),
		h('span', { class: 'toast-text' }, msg),
	);
	const close = h('button', {
		type: 'button',
		class: 'btn btn-ghost btn-icon',
		attrs: { 'aria-label': t('common.close') },
		on: { click: () => el.remove() },
	}, icon('x'));
	el.appendChild(close);
	toastRegion.appendChild(el);
	window.setTimeout(() => el.remove(), tone === 'danger' || tone === 'warning' ? 10_000 : 6_000);
}

/** Removes every toast (on sign-out: the next person must not see them). */
export function clearToasts(): void {
	toastRegion?.remove();
	toastRegion = null;
}

// ---- dialogs -----------------------------------------------------------------------

export interface DialogHandle {
	dialog: HTMLDialogElement;
	body: HTMLElement;
	footer: HTMLElement;
	close(): void;
}

/**
 * Opens a modal <dialog> (native focus handling, Esc closes).  The dialog
 * removes itself from the document when closed; onClose runs then.
 */
export function openDialog(o: {
	title: string;
	body?: Child;
	wide?: boolean;
	testid?: string;
	onClose?: () => void;
	dismissible?: boolean;
}): DialogHandle {
	const titleId = nextId('dlg');
	const body = h('div', { class: 'dialog-body' });
	const footer = h('div', { class: 'dialog-footer' });
	const dismissible = o.dismissible ?? true;
	const dialog = h(
		'dialog',
		{ class: ['dialog', o.wide && 'dialog-wide'], testid: o.testid, attrs: { 'aria-labelledby': titleId } },
		h(
			'div',
			{ class: 'dialog-head' },
			h('h2', { id: titleId, class: 'dialog-title' }, o.title),
			dismissible
				? h(
						'button',
						{
							type: 'button',
							class: 'btn btn-ghost btn-icon',
							testid: 'dialog-close',
							attrs: { 'aria-label': t('common.close') },
							on: { click: () => dialog.close() },
						},
						icon('x'),
					)
				: null,
		),
		body,
		footer,
	);
	append(body, o.body);
	dialog.addEventListener('cancel', (ev) => {
		if (!dismissible) ev.preventDefault();
	});
	dialog.addEventListener('close', () => {
		dialog.remove();
		o.onClose?.();
	});
	document.body.appendChild(dialog);
	dialog.showModal();
	return { dialog, body, footer, close: () => dialog.close() };
}

/** Asks a yes/no question; resolves true when confirmed. */
export function confirmDialog(o: { title: string; message: string; confirm: string; danger?: boolean }): Promise<boolean> {
	return new Promise((resolve) => {
		let answer = false;
		const d = openDialog({ title: o.title, body: h('p', null, o.message), onClose: () => resolve(answer) });
		append(
			d.footer,
			button(t('common.cancel'), { onClick: () => d.close(), testid: 'confirm-cancel' }),
			button(o.confirm, {
				kind: o.danger ? 'danger' : 'primary',
				testid: 'confirm-ok',
				onClick: () => {
					answer = true;
					d.close();
				},
			}),
		);
		/* Enter must not confirm a destructive action by accident. */
		((o.danger ? d.footer.firstElementChild : d.footer.lastElementChild) as HTMLElement).focus();
	});
}

// ---- clipboard, files ----------------------------------------------------------------

/** Copies text; toasts the result. */
export async function copyText(text: string): Promise<void> {
	try {
		if (!navigator.clipboard) throw new Error('no clipboard');
		await navigator.clipboard.writeText(text);
		toast(t('common.copied'), 'success');
	} catch {
		const ta = h('textarea', { class: 'offscreen', value: text, readOnly: true });
		document.body.appendChild(ta);
		ta.select();
		let ok = false;
		try {
			ok = document.execCommand('copy');
		} catch {
			ok = false;
		}
		ta.remove();
		toast(ok ? t('common.copied') : t('common.copyFailed'), ok ? 'success' : 'warning');
	}
}

/** Saves text as a file download through a Blob URL. */
export function downloadText(filename: string, text: string, type = 'text/plain;charset=utf-8'): void {
	const url = URL.createObjectURL(new Blob([text], { type }));
	const a = h('a', { href: url, download: filename, class: 'offscreen' });
	document.body.appendChild(a);
	a.click();
	a.remove();
	window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A value shown once (one-time password): monospace with a copy button. */
export function secretValue(value: string, testid: string, copyTestid: string): HTMLElement {
	return h(
		'div',
		{ class: 'secret' },
		h('code', { class: 'secret-value mono', testid }, value),
		button(t('common.copy'), { icon: 'copy', small: true, testid: copyTestid, onClick: () => void copyText(value) }),
	);
}

/** A titled card section of a page. */
export function section(title: string, ...children: Child[]): HTMLElement {
	const id = nextId('sec');
	return h(
		'section',
		{ class: 'card', attrs: { 'aria-labelledby': id } },
		h('h2', { class: 'card-title', id }, title),
		...children,
	);
}

/** A responsive table wrapper (scrolls sideways on narrow screens). */
export function table(
	headers: string[],
	rows: Node[],
	o: { testid?: string; caption?: string; empty?: string } = {},
): HTMLElement {
	const tbody = h('tbody', null, rows);
	if (rows.length === 0) {
		tbody.appendChild(
			h('tr', null, h('td', { class: 'empty', attrs: { colspan: headers.length } }, o.empty ?? t('common.empty'))),
		);
	}
	return h(
		'div',
		{ class: 'table-wrap', attrs: { tabindex: 0, role: 'region', 'aria-label': o.caption ?? headers.join(', ') } },
		h(
			'table',
			{ class: 'table', testid: o.testid },
			o.caption ? h('caption', { class: 'sr-only' }, o.caption) : null,
			h('thead', null, h('tr', null, headers.map((x) => h('th', { attrs: { scope: 'col' } }, x)))),
			tbody,
		),
	);
}

export function loading(): HTMLElement {
	return h('div', { class: 'loading', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('common.loading'));
}

/** The language picker (top bar and sign-in page). */
export function langSwitch(): HTMLElement {
	const id = nextId('lang');
	const sel = h(
		'select',
		{
			id,
			class: 'input input-sm lang-select',
			testid: 'lang-switch',
			on: { change: () => setLang(sel.value as Lang) },
		},
		LANGS.map((l) => h('option', { value: l.code, attrs: { lang: l.code } }, l.label)),
	);
	sel.value = getLang();
	return h(
		'div',
		{ class: 'lang' },
		h('label', { htmlFor: id, class: 'lang-label' }, icon('globe'), h('span', { class: 'sr-only' }, t('common.language'))),
		sel,
	);
}

/**
 * A block that shows a spinner, then what load() resolves to, or the error
 * with a retry button.  reload() runs load() again.
 */
export function asyncView(load: () => Promise<Child>, testid?: string): { el: HTMLElement; reload(): void } {
	const el = h('div', { class: 'async', testid, attrs: { 'aria-busy': 'true' } });
	let gen = 0;
	const reload = () => {
		const mine = ++gen;
		el.setAttribute('aria-busy', 'true');
		if (!el.firstChild) el.appendChild(loading());
		else el.classList.add('is-refreshing');
		load()
			.then((c) => {
				if (mine !== gen) return;
				replace(el, c);
			})
			.catch((e: unknown) => {
				if (mine !== gen) return;
				const a = alertBox();
				a.set(errorText(e));
				replace(el, a.el, button(t('common.retry'), { icon: 'refresh', small: true, onClick: reload }));
			})
			.finally(() => {
				if (mine !== gen) return;
				el.removeAttribute('aria-busy');
				el.classList.remove('is-refreshing');
			});
	};
	reload();
	return { el, reload };
}

/** A label/value list (dl) from pairs; null values show "—". */
export function details(pairs: [string, Child][], testid?: string): HTMLElement {
	return h(
		'dl',
		{ class: 'details', testid },
		pairs.map(([k, v]) => h('div', { class: 'details-row' }, h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? '—' : v))),
	);
}
