// views/policy.ts — "Policy": the tenant security policy.  secadmin edits
// it; sysadmin reads it (separation of duties).  Bounds are the ones in
// docs/openapi.yaml; the server checks them again.
import { type Role, type Schemas, api } from '../api';
import { h, replace } from '../dom';
import { type Key, t } from '../i18n';
import { alertBox, asyncView, badge, busy, button, checkbox, errorText, section, textField, toast } from '../ui';
import { type AppCtx, roleLabel } from './shell';

type Policy = Schemas['Policy'];
type NumKey = 'password_min_length' | 'lockout_threshold' | 'lockout_minutes' | 'idle_timeout_minutes' | 'absolute_timeout_hours' | 'audit_retention_days' | 'audit_capacity_records';

const NUMS: { key: NumKey; label: Key; hint: Key; min: number; max: number; testid: string }[] = [
	{ key: 'password_min_length', label: 'policy.pwMin', hint: 'policy.pwMinHint', min: 8, max: 128, testid: 'policy-pw-min' },
	{ key: 'lockout_threshold', label: 'policy.lockThreshold', hint: 'policy.lockThresholdHint', min: 3, max: 20, testid: 'policy-lock-threshold' },
	{ key: 'lockout_minutes', label: 'policy.lockMinutes', hint: 'policy.lockMinutesHint', min: 1, max: 1440, testid: 'policy-lock-minutes' },
	{ key: 'idle_timeout_minutes', label: 'policy.idle', hint: 'policy.idleHint', min: 1, max: 240, testid: 'policy-idle' },
	{ key: 'absolute_timeout_hours', label: 'policy.absolute', hint: 'policy.absoluteHint', min: 1, max: 72, testid: 'policy-absolute' },
	{ key: 'audit_retention_days', label: 'policy.retention', hint: 'policy.retentionHint', min: 180, max: 36500, testid: 'policy-retention' },
	{ key: 'audit_capacity_records', label: 'policy.capacity', hint: 'policy.capacityHint', min: 0, max: 2000000000, testid: 'policy-capacity' },
];
const ROLES: Role[] = ['sysadmin', 'secadmin', 'auditadmin', 'member', 'guest'];

export function policyPage(ctx: AppCtx): HTMLElement {
	const canEdit = ctx.session.user.role === 'secadmin';
	const holder = h('div');

	function form(policy: Policy, version: number): HTMLElement {
		const err = alertBox('policy-error');
		const nums = NUMS.map((n) => {
			const f = textField({
				label: t(n.label),
				testid: n.testid,
				type: 'number',
				value: String(policy[n.key]),
				min: String(n.min),
				max: String(n.max),
				inputMode: 'numeric',
				disabled: !canEdit,
				hint: t(n.hint, { min: n.min, max: n.max }),
			});
			return { n, f };
		});
		const roleBoxes = ROLES.map((r) => ({
			r,
			c: checkbox(roleLabel(r), { testid: `policy-mfa-${r}`, checked: policy.mfa_required_roles.includes(r), disabled: !canEdit }),
		}));
		const all = checkbox(t('policy.mfaAll'), { testid: 'policy-mfa-all', checked: policy.mfa_required_all, disabled: !canEdit });
		const single = checkbox(t('policy.single'), {
			testid: 'policy-single-session',
			checked: policy.single_session,
			disabled: !canEdit,
			hint: t('policy.singleHint'),
		});
		const save = canEdit ? button(t('policy.save'), { kind: 'primary', type: 'submit', testid: 'policy-save' }) : null;
		return h(
			'form',
			{
				class: 'form',
				attrs: { novalidate: true },
				on: {
					submit: (ev) => {
						ev.preventDefault();
						if (!canEdit || !save) return;
						err.set(null);
						const next: Policy = {
							...policy,
							mfa_required_roles: roleBoxes.filter((x) => x.c.input.checked).map((x) => x.r),
							mfa_required_all: all.input.checked,
							single_session: single.input.checked,
						};
						for (const { n, f } of nums) {
							const v = Number(f.input.value);
							if (!Number.isInteger(v) || v < n.min || v > n.max) {
								f.setError(t('policy.range', { min: n.min, max: n.max }));
								f.input.focus();
								return;
							}
							f.setError(null);
							next[n.key] = v;
						}
						void (async () => {
							try {
								const r = await busy(save, () => api('put', '/api/v1/policy', { body: next }));
								toast(t('policy.saved', { version: r.version }), 'success');
								replace(holder, form(r.policy, r.version));
							} catch (e) {
								err.set(errorText(e));
							}
						})();
					},
				},
			},
			h(
				'div',
				{ class: 'status-line' },
				h('span', { class: 'status-label' }, t('policy.version')),
				badge(String(version), 'neutral', 'policy-version'),
				canEdit ? null : badge(t('policy.readOnly'), 'warning', 'policy-readonly'),
			),
			canEdit ? null : h('p', { class: 'muted' }, t('policy.readOnlyNote')),
			h('h3', { class: 'sub-title' }, t('policy.passwords')),
			h('div', { class: 'form-grid' }, nums.slice(0, 3).map((x) => x.f.wrap)),
			h('h3', { class: 'sub-title' }, t('policy.sessions')),
			h('div', { class: 'form-grid' }, nums.slice(3, 5).map((x) => x.f.wrap)),
			single.wrap,
			h('h3', { class: 'sub-title' }, t('policy.mfa')),
			h(
				'fieldset',
				{ class: 'fieldset' },
				h('legend', null, t('policy.mfaRoles')),
				h('div', { class: 'check-grid' }, roleBoxes.map((x) => x.c.wrap)),
			),
			all.wrap,
			h('h3', { class: 'sub-title' }, t('policy.audit')),
			h('div', { class: 'form-grid' }, nums[5].f.wrap),
			err.el,
			save ? h('div', { class: 'form-actions' }, save) : null,
		);
	}

	const view = asyncView(async () => {
		const r = await api('get', '/api/v1/policy');
		replace(holder, form(r.policy, r.version));
		return holder;
	}, 'policy');
	return h('div', { class: 'page page-policy' }, section(t('policy.title'), view.el));
}
