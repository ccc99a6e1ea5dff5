// views/auth.ts — sign-in, the second-factor step, the forced password
// change, TOTP enrolment and the one-time recovery codes (PS-IA-b/c/d).
// Secrets typed here live only in this module's closures and are dropped
// when the step ends; nothing is written to storage except the tenant and
// device name (not secret).
import { ApiError, type Schemas, type User, api, setCsrf } from '../api';
import type { Flow, SignInNotice } from '../app';
import { type Child, h, replace } from '../dom';
import { type Key, t } from '../i18n';
import {
	alertBox,
	busy,
	button,
	copyText,
	downloadText,
	errorText,
	icon,
	langSwitch,
	loading,
	passwordField,
	textField,
} from '../ui';

const TENANT_KEY = 'bulwark.tenant';
const DEVICE_KEY = 'bulwark.device';

function load(key: string): string {
	try {
		return localStorage.getItem(key) ?? '';
	} catch {
		return '';
	}
}
function save(key: string, value: string): void {
	try {
		localStorage.setItem(key, value);
	} catch {
		/* storage unavailable: not remembered */
	}
}

/** "Chrome on Linux" from the user agent (a default the user may change). */
function defaultDeviceName(): string {
	const ua = navigator.userAgent;
	const browser = /Edg\//.test(ua)
		? 'Edge'
		: /Firefox\//.test(ua)
			? 'Firefox'
			: /Chrom(e|ium)\//.test(ua)
				? 'Chrome'
				: /Safari\//.test(ua)
					? 'Safari'
					: t('device.browser');
	const os = /Windows/.test(ua)
		? 'Windows'
		: /Android/.test(ua)
			? 'Android'
			: /iPhone|iPad/.test(ua)
				? 'iOS'
				: /Mac OS X/.test(ua)
					? 'macOS'
					: /Linux/.test(ua)
						? 'Linux'
						: '';
	return (os ? t('device.default', { browser, os }) : browser).slice(0, 64);
}

/** The frame every auth step shares: brand bar, language switch, a card. */
function authFrame(card: Child, wide = false): HTMLElement {
	return h(
		'div',
		{ class: 'auth-page' },
		h(
			'header',
			{ class: 'auth-top' },
			h('div', { class: 'brand' }, h('span', { class: 'brand-mark' }, icon('shield')), h('span', { class: 'brand-name' }, t('app.name'))),
			langSwitch(),
		),
		h(
			'main',
			{ class: 'auth-main' },
			h('div', { class: ['auth-card', wide && 'auth-card-wide'] }, card),
			h('p', { class: 'auth-foot' }, icon('lock', 'icon icon-sm'), t('login.foot')),
		),
	);
}

function cardHead(title: string, subtitle?: string): Child[] {
	return [h('h1', { class: 'auth-title', tabIndex: -1 }, title), subtitle ? h('p', { class: 'auth-sub' }, subtitle) : null];
}

// ---- sign-in ---------------------------------------------------------------

interface SignInState {
	step: 'password' | 'totp';
	tenant: string;
	username: string;
	password: string;
	deviceName: string;
	recovery: boolean;
	code: string;
	error: string | null;
	notice?: SignInNotice;
}

export function signInScreen(o: { notice?: SignInNotice; flow: Flow }): () => Node {
	const st: SignInState = {
		step: 'password',
		tenant: load(TENANT_KEY),
		username: '',
		password: '',
		deviceName: load(DEVICE_KEY) || '',
		recovery: false,
		code: '',
		error: null,
		notice: o.notice,
	};
	let rerender: () => void = () => undefined;

	async function submit(btn: HTMLButtonElement): Promise<void> {
		st.error = null;
		const body: Schemas['LoginRequest'] = {
			tenant: st.tenant.trim(),
			username: st.username.trim(),
			password: st.password,
			device_name: (st.deviceName.trim() || defaultDeviceName()).slice(0, 64),
			session: 'cookie',
		};
		if (st.step === 'totp') body.totp = st.code.trim();
		try {
			const r = await busy(btn, () => api('post', '/api/v1/auth/login', { body, quiet401: true }));
			save(TENANT_KEY, body.tenant);
			st.password = '';
			setCsrf(r.csrf_token);
			await o.flow.afterAuth(r.new_device);
		} catch (e) {
			if (!(e instanceof ApiError)) {
				st.error = errorText(e);
			} else if (e.code === 'mfa_required') {
				st.step = 'totp';
				st.code = '';
			} else if (e.code === 'password_change_required' || e.code === 'mfa_enrolment_required') {
				const r = e.body as Schemas['LoginRestricted'];
				save(TENANT_KEY, body.tenant);
				st.password = '';
				setCsrf(r.csrf_token);
				if (e.code === 'password_change_required') o.flow.toPasswordChange(r.user);
				else o.flow.toEnrol(r.user);
				return;
			} else if (st.step === 'totp' && (e.code === 'invalid_credentials' || e.code === 'invalid_code')) {
				st.error = t(st.recovery ? 'login.badRecovery' : 'login.badCode');
				st.code = '';
			} else {
				if (e.code === 'invalid_credentials' || e.code === 'account_locked') {
					st.step = 'password';
					st.password = '';
				}
				st.error = errorText(e);
			}
			st.notice = undefined;
			rerender();
		}
	}

	function passwordStep(): Child {
		const notice = alertBox('login-notice');
		if (st.notice) notice.set(t(st.notice.key), st.notice.tone);
		const err = alertBox('login-error');
		err.set(st.error);
		const tenant = textField({
			label: t('login.tenant'),
			testid: 'login-tenant',
			name: 'tenant',
			value: st.tenant,
			autocomplete: 'organization',
			maxLength: 64,
			required: true,
		});
		const user = textField({
			label: t('login.username'),
			testid: 'login-username',
			name: 'username',
			value: st.username,
			autocomplete: 'username',
			maxLength: 64,
			required: true,
		});
		const pw = passwordField({
			label: t('login.password'),
			testid: 'login-password',
			name: 'password',
			value: st.password,
			autocomplete: 'current-password',
			maxLength: 1024,
			required: true,
		});
		const device = textField({
			label: t('login.deviceName'),
			testid: 'login-device',
			value: st.deviceName,
			placeholder: defaultDeviceName(),
			maxLength: 64,
			hint: t('login.deviceHint'),
		});
		tenant.input.addEventListener('input', () => (st.tenant = tenant.input.value));
		user.input.addEventListener('input', () => (st.username = user.input.value));
		pw.input.addEventListener('input', () => (st.password = pw.input.value));
		device.input.addEventListener('input', () => {
			st.deviceName = device.input.value;
			save(DEVICE_KEY, st.deviceName.trim());
		});
		const go = button(t('login.submit'), { kind: 'primary', type: 'submit', block: true, testid: 'login-submit' });
		const form = h(
			'form',
			{
				class: 'form',
				attrs: { novalidate: true, 'aria-label': t('login.title') },
				on: {
					submit: (ev) => {
						ev.preventDefault();
						let ok = true;
						for (const [f, v] of [
							[tenant, st.tenant],
							[user, st.username],
							[pw, st.password],
						] as const) {
							const empty = !v.trim();
							f.setError(empty ? t('form.required') : null);
							if (empty && ok) {
								f.input.focus();
								ok = false;
							}
						}
						if (ok) void submit(go);
					},
				},
			},
			tenant.wrap,
			user.wrap,
			pw.wrap,
			h('details', { class: 'more' }, h('summary', null, t('login.more')), device.wrap),
			err.el,
			go,
		);
		const first = !st.tenant.trim() ? tenant.input : !st.username.trim() ? user.input : pw.input;
		first.dataset.autofocus = '';
		return [...cardHead(t('login.title'), t('login.subtitle')), notice.el, form];
	}

	function totpStep(): Child {
		const err = alertBox('totp-error');
		err.set(st.error);
		const code = textField({
			label: st.recovery ? t('login.recoveryCode') : t('login.totpCode'),
			testid: 'totp-code',
			value: st.code,
			autocomplete: 'one-time-code',
			inputMode: st.recovery ? 'text' : 'numeric',
			maxLength: st.recovery ? 32 : 6,
			mono: true,
			required: true,
			placeholder: st.recovery ? 'xxxx-xxxx-xxxx' : '123456',
		});
		code.input.addEventListener('input', () => (st.code = code.input.value));
		const go = button(t('login.verify'), { kind: 'primary', type: 'submit', block: true, testid: 'totp-submit' });
		const form = h(
			'form',
			{
				class: 'form',
				attrs: { novalidate: true },
				on: {
					submit: (ev) => {
						ev.preventDefault();
						const v = st.code.trim();
						if (!st.recovery && !/^[0-9]{6}$/.test(v)) {
							code.setError(t('login.codeFormat'));
							code.input.focus();
							return;
						}
						if (!v) {
							code.setError(t('form.required'));
							code.input.focus();
							return;
						}
						void submit(go);
					},
				},
			},
			code.wrap,
			err.el,
			go,
			h(
				'div',
				{ class: 'form-links' },
				button(st.recovery ? t('login.useTotp') : t('login.useRecovery'), {
					kind: 'link',
					testid: 'totp-toggle-recovery',
					onClick: () => {
						st.recovery = !st.recovery;
						st.code = '';
						st.error = null;
						rerender();
					},
				}),
				button(t('login.back'), {
					kind: 'link',
					testid: 'totp-back',
					onClick: () => {
						st.step = 'password';
						st.password = '';
						st.code = '';
						st.error = null;
						rerender();
					},
				}),
			),
		);
		code.input.dataset.autofocus = '';
		return [
			h('div', { class: 'auth-icon' }, icon('key')),
			...cardHead(
				t('login.totpTitle'),
				st.recovery ? t('login.recoveryHelp') : t('login.totpHelp', { user: st.username.trim() }),
			),
			form,
		];
	}

	const container = h('div', { class: 'auth-holder' });
	rerender = () => {
		replace(container, authFrame(st.step === 'password' ? passwordStep() : totpStep()));
		if (container.isConnected) container.querySelector<HTMLElement>('[data-autofocus]')?.focus();
	};
	return () => {
		rerender();
		return container;
	};
}

// ---- password change -----------------------------------------------------------

/** The policy explanation shown next to every new-password form. */
export function passwordRules(): HTMLElement {
	return h(
		'div',
		{ class: 'rules' },
		h('p', { class: 'rules-title' }, t('pw.rulesTitle')),
		h(
			'ul',
			null,
			(['pw.rule.length', 'pw.rule.classes', 'pw.rule.username', 'pw.rule.common', 'pw.rule.reuse'] as Key[]).map((k) =>
				h('li', null, icon('check', 'icon icon-sm'), t(k)),
			),
		),
	);
}

/**
 * The change-password form (used by the forced screen and the Security
 * page).  onChanged receives the session's new scope.
 */
export function passwordForm(o: {
	username: string;
	forced: boolean;
	onChanged: (scope: 'full' | 'mfa_enrol') => void | Promise<void>;
}): HTMLElement {
	const err = alertBox('pw-error');
	const cur = passwordField({
		label: o.forced ? t('pw.currentOneTime') : t('pw.current'),
		testid: 'pw-current',
		autocomplete: 'current-password',
		maxLength: 1024,
		required: true,
	});
	const nw = passwordField({
		label: t('pw.new'),
		testid: 'pw-new',
		autocomplete: 'new-password',
		maxLength: 1024,
		required: true,
	});
	const confirm = passwordField({
		label: t('pw.confirm'),
		testid: 'pw-confirm',
		autocomplete: 'new-password',
		maxLength: 1024,
		required: true,
	});
	const go = button(o.forced ? t('pw.submitForced') : t('pw.submit'), {
		kind: 'primary',
		type: 'submit',
		block: o.forced,
		testid: 'pw-submit',
	});
	const form = h(
		'form',
		{
			class: 'form',
			attrs: { novalidate: true },
			on: {
				submit: (ev) => {
					ev.preventDefault();
					err.set(null);
					for (const f of [cur, nw, confirm]) f.setError(null);
					const c = cur.input.value;
					const n = nw.input.value;
					if (!c) return failField(cur, t('form.required'));
					if (!n) return failField(nw, t('form.required'));
					if (n.length < 8) return failField(nw, t('pwreason.too_short'));
					if (o.username && n.toLowerCase().includes(o.username.toLowerCase()))
						return failField(nw, t('pwreason.contains_username'));
					if (n === c) return failField(nw, t('pw.same'));
					if (n !== confirm.input.value) return failField(confirm, t('pw.mismatch'));
					void (async () => {
						try {
							const r = await busy(go, () =>
								api('post', '/api/v1/auth/password', { body: { current_password: c, new_password: n } }),
							);
							form.reset();
							await o.onChanged(r.scope);
						} catch (e) {
							if (e instanceof ApiError && e.code === 'invalid_credentials') failField(cur, t('pw.wrongCurrent'));
							else if (e instanceof ApiError && e.code === 'password_policy') failField(nw, errorText(e));
							else err.set(errorText(e));
						}
					})();
				},
			},
		},
		cur.wrap,
		nw.wrap,
		confirm.wrap,
		err.el,
		h('div', { class: 'form-actions' }, go),
	);
	return form;
}

function failField(f: { input: HTMLElement; setError(m: string | null): void }, msg: string): void {
	f.setError(msg);
	f.input.focus();
}

export function passwordChangeScreen(o: { user: User; forced: boolean; flow: Flow }): () => Node {
	return () =>
		authFrame(
			[
				h('div', { class: 'auth-icon' }, icon('lock')),
				...cardHead(t('pw.forcedTitle'), t('pw.forcedExplain', { user: o.user.username })),
				passwordRules(),
				passwordForm({
					username: o.user.username,
					forced: true,
					onChanged: async (scope) => {
						if (scope === 'mfa_enrol') o.flow.toEnrol(o.user);
						else await o.flow.afterAuth();
					},
				}),
				h(
					'div',
					{ class: 'form-links' },
					button(t('common.signOut'), { kind: 'link', testid: 'signout', onClick: () => void o.flow.signOut() }),
				),
			],
			true,
		);
}

// ---- TOTP enrolment ------------------------------------------------------------

/** Enrolment data kept across re-renders (one enrol call per panel). */
export interface EnrolState {
	data?: Schemas['TotpEnrolment'];
	error?: string;
	pending?: Promise<void>;
	codes?: string[];
}

function svgDataUrl(svg: string): string {
	const bytes = new TextEncoder().encode(svg);
	let bin = '';
	for (let i = 0; i < bytes.length; i += 0x8000) {
		bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	}
	return `data:image/svg+xml;base64,${btoa(bin)}`;
}

/**
 * The enrolment steps: fetch a pending secret, show QR + secret, confirm a
 * code.  onConfirmed gets the recovery codes.  rerender redraws the owner.
 */
export function enrolPanel(st: EnrolState, rerender: () => void, onConfirmed: (codes: string[]) => void): HTMLElement {
	if (!st.data && !st.error && !st.pending) {
		st.pending = api('post', '/api/v1/auth/totp/enrol')
			.then((d) => {
				st.data = d;
			})
			.catch((e: unknown) => {
				st.error = errorText(e);
			})
			.finally(() => {
				st.pending = undefined;
				rerender();
			});
	}
	if (st.error) {
		const a = alertBox('enrol-error');
		a.set(st.error);
		return h(
			'div',
			{ class: 'enrol' },
			a.el,
			button(t('common.retry'), {
				icon: 'refresh',
				onClick: () => {
					st.error = undefined;
					rerender();
				},
			}),
		);
	}
	if (!st.data) return loading();
	const d = st.data;
	const err = alertBox('enrol-confirm-error');
	const code = textField({
		label: t('enrol.code'),
		testid: 'enrol-code',
		autocomplete: 'one-time-code',
		inputMode: 'numeric',
		maxLength: 6,
		mono: true,
		required: true,
		placeholder: '123456',
	});
	const go = button(t('enrol.submit'), { kind: 'primary', type: 'submit', testid: 'enrol-submit' });
	const form = h(
		'form',
		{
			class: 'form',
			attrs: { novalidate: true },
			on: {
				submit: (ev) => {
					ev.preventDefault();
					err.set(null);
					const v = code.input.value.trim();
					if (!/^[0-9]{6}$/.test(v)) return failField(code, t('login.codeFormat'));
					code.setError(null);
					void (async () => {
						try {
							const r = await busy(go, () => api('post', '/api/v1/auth/totp/confirm', { body: { code: v } }));
							onConfirmed(r.recovery_codes);
						} catch (e) {
							if (e instanceof ApiError && e.code === 'invalid_code') failField(code, t('enrol.badCode'));
							else err.set(errorText(e));
							code.input.value = '';
						}
					})();
				},
			},
		},
		code.wrap,
		err.el,
		h('div', { class: 'form-actions' }, go),
	);
	return h(
		'div',
		{ class: 'enrol' },
		h(
			'ol',
			{ class: 'steps' },
			h('li', null, h('span', { class: 'step-title' }, t('enrol.step1')), h('span', { class: 'muted' }, t('enrol.step1help'))),
			h(
				'li',
				null,
				h('span', { class: 'step-title' }, t('enrol.step2')),
				h(
					'div',
					{ class: 'qr-row' },
					h('img', { class: 'qr', src: svgDataUrl(d.qr_svg), alt: t('enrol.qrAlt'), testid: 'enrol-qr' }),
					h(
						'div',
						{ class: 'qr-manual' },
						h('p', { class: 'muted' }, t('enrol.manual')),
						h('code', { class: 'secret-value mono', testid: 'enrol-secret' }, d.secret),
						button(t('common.copy'), { icon: 'copy', small: true, testid: 'enrol-secret-copy', onClick: () => void copyText(d.secret) }),
						h('p', { class: 'field-hint' }, t('enrol.manualHint')),
					),
				),
			),
			h('li', null, h('span', { class: 'step-title' }, t('enrol.step3')), form),
		),
	);
}

/** The ten recovery codes, shown once, with copy, download and "saved". */
export function recoveryPanel(codes: string[], onDone: () => void, username: string): HTMLElement {
	const text = `${t('recovery.fileHeader', { user: username })}\n\n${codes.join('\n')}\n`;
	const done = button(t('recovery.done'), { kind: 'primary', testid: 'recovery-done', onClick: onDone });
	return h(
		'div',
		{ class: 'recovery' },
		h('div', { class: 'alert alert-warning', attrs: { role: 'note' } }, icon('alert'), h('span', null, t('recovery.warning'))),
		h(
			'ol',
			{ class: 'codes mono', testid: 'recovery-codes', attrs: { 'aria-label': t('recovery.title') } },
			codes.map((c) => h('li', null, c)),
		),
		h(
			'div',
			{ class: 'btn-row' },
			button(t('common.copy'), { icon: 'copy', testid: 'recovery-copy', onClick: () => void copyText(codes.join('\n')) }),
			button(t('recovery.download'), {
				icon: 'download',
				testid: 'recovery-download',
				onClick: () => downloadText('bulwark-recovery-codes.txt', text),
			}),
		),
		h('div', { class: 'form-actions' }, done),
	);
}

export function enrolScreen(o: { user: User; flow: Flow }): () => Node {
	const st: EnrolState = {};
	const holder = h('div', { class: 'auth-holder' });
	const draw = () => {
		const body: Child = st.codes
			? [
					h('div', { class: 'auth-icon auth-icon-ok' }, icon('check')),
					...cardHead(t('recovery.title'), t('recovery.explain')),
					recoveryPanel(st.codes, () => void o.flow.afterAuth(), o.user.username),
				]
			: [
					h('div', { class: 'auth-icon' }, icon('shield')),
					...cardHead(t('enrol.title'), t('enrol.explainForced')),
					enrolPanel(st, draw, (codes) => {
						st.codes = codes;
						draw();
					}),
					h(
						'div',
						{ class: 'form-links' },
						button(t('common.signOut'), { kind: 'link', testid: 'signout', onClick: () => void o.flow.signOut() }),
					),
				];
		replace(holder, authFrame(body, true));
	};
	return () => {
		draw();
		return holder;
	};
}
