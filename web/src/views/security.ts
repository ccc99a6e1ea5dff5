// views/security.ts — "Security": the caller's own account: password, TOTP
// (enrol, disable, new recovery codes), sessions (revoke) and devices
// (PS-IA-b/c, session management).
import { ApiError, type Schemas, type User, api } from '../api';
import { append, h, replace } from '../dom';
import { fmtAgo, fmtTime, t } from '../i18n';
import {
	alertBox,
	asyncView,
	badge,
	busy,
	button,
	confirmDialog,
	details,
	errorText,
	openDialog,
	passwordField,
	section,
	table,
	textField,
	toast,
} from '../ui';
import { type EnrolState, enrolPanel, passwordForm, passwordRules, recoveryPanel } from './auth';
import { type AppCtx, roleLabel } from './shell';

const NEW_DEVICE_DAYS = 7;

export function securityPage(ctx: AppCtx): HTMLElement {
	let user: User = ctx.session.user;
	const mfaRequired = ctx.session.policy.mfa_required;

	// ---- account ----
	const account = section(
		t('sec.account'),
		details(
			[
				[t('user.username'), h('span', { class: 'mono' }, user.username)],
				[t('user.displayName'), user.display_name ?? null],
				[t('user.role'), roleLabel(user.role)],
				[t('top.tenant'), ctx.session.tenant.name],
				[t('user.email'), user.email ?? null],
				[t('user.phone'), user.phone ?? null],
				[t('user.lastLogin'), fmtTime(user.last_login_at)],
				[t('sec.sessionExpires'), fmtTime(ctx.session.expires_at)],
			],
			'account-details',
		),
	);

	// ---- sessions ----
	const sessions = asyncView(async () => {
		const r = await api('get', '/api/v1/me/sessions');
		return sessionTable(r.sessions, async (sess) => {
			if (sess.current) {
				await ctx.signOut();
				return;
			}
			await api('delete', '/api/v1/me/sessions/{id}', { path: { id: String(sess.id) } });
			toast(t('sessions.revoked'), 'success');
			sessions.reload();
		});
	}, 'my-sessions');

	// ---- devices ----
	const devices = asyncView(async () => {
		const r = await api('get', '/api/v1/me/devices');
		return deviceTable(r.devices);
	}, 'my-devices');

	// ---- password ----
	const password = section(
		t('sec.password'),
		h('p', { class: 'muted' }, t('sec.passwordHelp')),
		h(
			'div',
			{ class: 'split' },
			passwordForm({
				username: user.username,
				forced: false,
				onChanged: () => {
					toast(t('pw.changed'), 'success');
					sessions.reload();
				},
			}),
			passwordRules(),
		),
	);

	// ---- MFA ----
	const mfaBody = h('div', { testid: 'mfa-section' });
	const drawMfa = () => {
		const status = user.mfa_enabled
			? badge(t('mfa.on'), 'success', 'mfa-status')
			: badge(t('mfa.off'), mfaRequired ? 'danger' : 'warning', 'mfa-status');
		const actions = h('div', { class: 'btn-row' });
		if (!user.mfa_enabled) {
			actions.appendChild(button(t('mfa.setUp'), { kind: 'primary', icon: 'shield', testid: 'mfa-enrol', onClick: enrolDialog }));
		} else {
			actions.appendChild(button(t('mfa.newCodes'), { icon: 'refresh', testid: 'mfa-regenerate', onClick: regenerateDialog }));
			/* Hidden, not just disabled, when the policy forbids it: the
			   paragraph above already says why. */
			if (!mfaRequired)
				actions.appendChild(button(t('mfa.disable'), { kind: 'danger', testid: 'mfa-disable', onClick: disableDialog }));
		}
		replace(
			mfaBody,
			h('div', { class: 'status-line' }, h('span', { class: 'status-label' }, t('mfa.status')), status),
			h('p', { class: 'muted' }, mfaRequired ? t('mfa.required') : t('mfa.help')),
			actions,
		);
	};

	async function refreshUser(): Promise<void> {
		const s = await ctx.refresh();
		if (s) user = s.user;
		drawMfa();
	}

	function enrolDialog(): void {
		const st: EnrolState = {};
		const d = openDialog({ title: t('enrol.title'), wide: true, testid: 'enrol-dialog', onClose: () => void refreshUser() });
		d.dialog.addEventListener('cancel', (ev) => {
			if (st.codes) ev.preventDefault();
		});
		const draw = () => {
			if (st.codes) {
				const close = d.dialog.querySelector<HTMLElement>('[data-testid="dialog-close"]');
				if (close) close.hidden = true;
				replace(
					d.body,
					h('p', null, t('recovery.explain')),
					recoveryPanel(st.codes, () => d.close(), user.username),
				);
				return;
			}
			replace(
				d.body,
				h('p', { class: 'muted' }, t('enrol.explain')),
				enrolPanel(st, draw, (codes) => {
					st.codes = codes;
					toast(t('mfa.enabled'), 'success');
					draw();
				}),
			);
		};
		draw();
	}

	function regenerateDialog(): void {
		let codes: string[] | null = null;
		const d = openDialog({ title: t('mfa.newCodes'), testid: 'regenerate-dialog' });
		d.dialog.addEventListener('cancel', (ev) => {
			if (codes) ev.preventDefault();
		});
		const err = alertBox();
		const pw = passwordField({ label: t('pw.current'), testid: 'regenerate-password', autocomplete: 'current-password', maxLength: 1024 });
		const go = button(t('mfa.newCodesSubmit'), { kind: 'primary', type: 'submit', testid: 'regenerate-submit' });
		const form = h(
			'form',
			{
				class: 'form',
				attrs: { novalidate: true },
				on: {
					submit: (ev) => {
						ev.preventDefault();
						if (!pw.input.value) {
							pw.setError(t('form.required'));
							pw.input.focus();
							return;
						}
						void (async () => {
							try {
								const r = await busy(go, () =>
									api('post', '/api/v1/auth/recovery-codes', { body: { password: pw.input.value } }),
								);
								codes = r.recovery_codes;
								const close = d.dialog.querySelector<HTMLElement>('[data-testid="dialog-close"]');
								if (close) close.hidden = true;
								replace(d.body, recoveryPanel(codes, () => d.close(), user.username));
							} catch (e) {
								if (e instanceof ApiError && e.code === 'invalid_credentials') {
									pw.setError(t('pw.wrongCurrent'));
									pw.input.focus();
								} else err.set(errorText(e));
							}
						})();
					},
				},
			},
			h('p', null, t('mfa.newCodesExplain')),
			pw.wrap,
			err.el,
			h('div', { class: 'form-actions' }, button(t('common.cancel'), { onClick: () => d.close() }), go),
		);
		append(d.body, form);
		pw.input.focus();
	}

	function disableDialog(): void {
		const d = openDialog({ title: t('mfa.disable'), testid: 'disable-dialog', onClose: () => void refreshUser() });
		const err = alertBox();
		const pw = passwordField({ label: t('pw.current'), testid: 'mfa-disable-password', autocomplete: 'current-password', maxLength: 1024 });
		const code = textField({
			label: t('mfa.codeOrRecovery'),
			testid: 'mfa-disable-code',
			autocomplete: 'one-time-code',
			maxLength: 32,
			mono: true,
		});
		const go = button(t('mfa.disableSubmit'), { kind: 'danger', type: 'submit', testid: 'mfa-disable-submit' });
		const form = h(
			'form',
			{
				class: 'form',
				attrs: { novalidate: true },
				on: {
					submit: (ev) => {
						ev.preventDefault();
						pw.setError(null);
						code.setError(null);
						if (!pw.input.value) return void (pw.setError(t('form.required')), pw.input.focus());
						if (!code.input.value.trim()) return void (code.setError(t('form.required')), code.input.focus());
						void (async () => {
							try {
								await busy(go, () =>
									api('delete', '/api/v1/auth/totp', {
										body: { password: pw.input.value, code: code.input.value.trim() },
									}),
								);
								toast(t('mfa.disabled'), 'success');
								d.close();
							} catch (e) {
								if (e instanceof ApiError && e.code === 'invalid_credentials') pw.setError(t('pw.wrongCurrent'));
								else if (e instanceof ApiError && e.code === 'invalid_code') code.setError(t('enrol.badCode'));
								else if (e instanceof ApiError && e.code === 'forbidden') err.set(t('mfa.requiredNoDisable'));
								else err.set(errorText(e));
							}
						})();
					},
				},
			},
			h('p', null, t('mfa.disableExplain')),
			pw.wrap,
			code.wrap,
			err.el,
			h('div', { class: 'form-actions' }, button(t('common.cancel'), { onClick: () => d.close() }), go),
		);
		append(d.body, form);
		pw.input.focus();
	}

	drawMfa();
	return h(
		'div',
		{ class: 'page page-security' },
		h('div', { class: 'grid-2' }, account, section(t('sec.mfa'), mfaBody)),
		password,
		section(
			t('sec.sessions'),
			h('p', { class: 'muted' }, t('sessions.help')),
			h('div', { class: 'section-tools' }, button(t('common.refresh'), { icon: 'refresh', small: true, onClick: () => sessions.reload() })),
			sessions.el,
		),
		section(t('sec.devices'), h('p', { class: 'muted' }, t('devices.help')), devices.el),
	);
}

/** Session table shared with the user admin page (secadmin view). */
export function sessionTable(
	list: Schemas['Session'][],
	onRevoke: ((s: Schemas['Session']) => Promise<void>) | null,
): HTMLElement {
	const rows = list.map((s) => {
		const revoke = onRevoke
			? button(s.current ? t('common.signOut') : t('sessions.revoke'), {
					small: true,
					kind: s.current ? 'ghost' : 'danger',
					testid: 'session-revoke',
					onClick: async (ev) => {
						const btn = ev.currentTarget as HTMLButtonElement;
						const ok = await confirmDialog({
							title: s.current ? t('common.signOut') : t('sessions.revoke'),
							message: s.current ? t('sessions.revokeSelf') : t('sessions.revokeConfirm', { device: s.device.name }),
							confirm: s.current ? t('common.signOut') : t('sessions.revoke'),
							danger: !s.current,
						});
						if (!ok) return;
						try {
							await busy(btn, () => onRevoke(s));
						} catch (e) {
							toast(errorText(e), 'danger');
						}
					},
				})
			: null;
		return h(
			'tr',
			{ testid: 'session-row', attrs: { 'data-current': s.current ? 'true' : null } },
			h(
				'td',
				null,
				h('div', { class: 'cell-main' }, s.device.name || t('common.unknown'), s.current ? badge(t('sessions.current'), 'brand') : null),
				h('div', { class: 'cell-sub', title: s.device.user_agent ?? '' }, s.device.user_agent ?? ''),
				s.scope !== 'full' ? badge(t(`scope.${s.scope}`), 'warning') : null,
			),
			h('td', { class: 'mono' }, s.ip),
			h('td', null, fmtTime(s.created_at)),
			h('td', null, fmtAgo(s.last_seen)),
			h('td', null, fmtTime(s.expires_at)),
			onRevoke ? h('td', { class: 'cell-actions' }, revoke) : null,
		);
	});
	const headers = [t('sessions.device'), t('sessions.ip'), t('sessions.created'), t('sessions.lastSeen'), t('sessions.expires')];
	if (onRevoke) headers.push(t('common.actions'));
	return table(headers, rows, { testid: 'sessions-table', caption: t('sec.sessions'), empty: t('sessions.none') });
}

function deviceTable(list: Schemas['Device'][]): HTMLElement {
	const now = Date.now() / 1000;
	const sorted = [...list].sort((a, b) => b.last_seen - a.last_seen);
	const rows = sorted.map((d) => {
		const isNew = now - d.first_seen < NEW_DEVICE_DAYS * 86400;
		return h(
			'tr',
			{ testid: 'device-row' },
			h(
				'td',
				null,
				h(
					'div',
					{ class: 'cell-main' },
					d.name || t('common.unknown'),
					isNew ? badge(t('devices.new'), 'warning', 'device-new') : null,
					d.current ? badge(t('devices.current'), 'brand') : null,
				),
				h('div', { class: 'cell-sub', title: d.user_agent ?? '' }, d.user_agent ?? ''),
			),
			h('td', null, fmtTime(d.first_seen), h('div', { class: 'cell-sub mono' }, d.first_ip ?? '')),
			h('td', null, fmtAgo(d.last_seen), h('div', { class: 'cell-sub mono' }, d.last_ip ?? '')),
		);
	});
	return table([t('devices.device'), t('devices.firstSeen'), t('devices.lastSeen')], rows, {
		testid: 'devices-table',
		caption: t('sec.devices'),
		empty: t('devices.none'),
	});
}
