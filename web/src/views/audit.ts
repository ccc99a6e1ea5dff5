// views/audit.ts — "Audit" for auditadmin: the hash-chain status badge
// (verify), filtered and paged records, record details and exports
// (PS-LOG-c).  Nothing here can change the trail.
import { type Schemas, api, auditExportUrl } from '../api';
import { append, h, replace } from '../dom';
import { type Key, fmtTimeMs, isKey, t } from '../i18n';
import { asyncView, badge, button, details, errorText, icon, openDialog, section, table, textField } from '../ui';
import type { AppCtx } from './shell';

type Record = Schemas['AuditRecord'];

const PAGE = 50;
export const AUDIT_EVENTS = [
	'auth.login', 'auth.lockout', 'auth.logout', 'auth.ticket_expired', 'auth.ticket_revoked', 'auth.new_device',
	'auth.password_change', 'auth.mfa_enrol', 'auth.mfa_disable', 'auth.recovery_codes', 'user.create', 'user.disable',
	'user.enable', 'user.unlock', 'user.password_reset', 'user.role_change', 'user.mfa_reset', 'user.pii_unmask',
	'dept.create', 'policy.change', 'audit.export', 'audit.verify', 'server.start', 'server.stop', 'key.create',
	'key.unwrap', 'tenant.create',
] as const;
const PREFIXES = ['auth.', 'user.', 'dept.', 'policy.', 'audit.', 'server.', 'key.', 'tenant.'];

function eventLabel(ev: string): string {
	const k = `ev.${ev}`;
	return isKey(k) ? t(k) : ev;
}

function outcomeBadge(o: Record['outcome']): HTMLElement {
	const tone = o === 'success' ? 'success' : o === 'failure' ? 'danger' : 'warning';
	return badge(t(`outcome.${o}` as Key), tone);
}

/** datetime-local value → unix seconds (local time), or undefined. */
function toUnix(v: string): number | undefined {
	if (!v) return undefined;
	const ms = new Date(v).getTime();
	return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

export function auditPage(_ctx: AppCtx): HTMLElement {
	// ---- chain status ----
	const statusEl = h('div', { class: 'chain chain-checking', testid: 'audit-status', attrs: { 'data-state': 'checking', role: 'status' } });
	let verifying = false;
	const verifyBtn = button(t('audit.verifyAgain'), { icon: 'refresh', small: true, testid: 'audit-verify', onClick: () => void verify() });

	async function verify(): Promise<void> {
		if (verifying) return;
		verifying = true;
		verifyBtn.disabled = true;
		statusEl.className = 'chain chain-checking';
		statusEl.dataset.state = 'checking';
		replace(statusEl, h('span', { class: 'spinner' }), h('span', { class: 'chain-text' }, t('audit.verifying')));
		try {
			const r = await api('get', '/api/v1/audit/verify');
			if (r.ok) {
				statusEl.className = 'chain chain-ok';
				statusEl.dataset.state = 'ok';
				const cp = r.last_checkpoint;
				replace(
					statusEl,
					icon('shield', 'icon chain-icon'),
					h(
						'div',
						{ class: 'chain-text' },
						h('strong', null, t('audit.verified', { n: r.records })),
						h(
							'span',
							null,
							cp
								? t('audit.lastCheckpoint', { checkpoints: r.checkpoints, seq: cp.seq, time: fmtTimeMs(cp.time_ms) })
								: t('audit.noCheckpoint'),
						),
					),
				);
			} else {
				statusEl.className = 'chain chain-broken';
				statusEl.dataset.state = 'broken';
				replace(
					statusEl,
					icon('alert', 'icon chain-icon'),
					h(
						'div',
						{ class: 'chain-text' },
						h('strong', null, t('audit.broken', { seq: r.first_bad_seq ?? '?' })),
						h('span', null, r.reason ?? t('common.unknown')),
						h('span', null, t('audit.brokenHelp', { n: r.records })),
					),
				);
			}
		} catch (e) {
			statusEl.className = 'chain chain-error';
			statusEl.dataset.state = 'error';
			replace(statusEl, icon('alert', 'icon chain-icon'), h('div', { class: 'chain-text' }, h('strong', null, t('audit.verifyFailed')), h('span', null, errorText(e))));
		} finally {
			verifying = false;
			verifyBtn.disabled = false;
		}
	}

	// ---- filters ----
	const listId = 'audit-event-list';
	const evField = textField({
		label: t('audit.event'),
		testid: 'audit-filter-event',
		maxLength: 63,
		placeholder: 'auth.',
		mono: true,
	});
	evField.input.setAttribute('list', listId);
	const datalist = h(
		'datalist',
		{ id: listId },
		[...PREFIXES, ...AUDIT_EVENTS].map((e) => h('option', { value: e }, e.endsWith('.') ? e : eventLabel(e))),
	);
	const subjField = textField({ label: t('audit.subject'), testid: 'audit-filter-subject', maxLength: 512 });
	const sinceField = textField({ label: t('audit.since'), testid: 'audit-filter-since', type: 'datetime-local' });
	const untilField = textField({ label: t('audit.until'), testid: 'audit-filter-until', type: 'datetime-local' });
	const filterErr = h('p', { class: 'field-error', hidden: true, attrs: { role: 'alert' } });

	interface Filters {
		event?: string;
		subject?: string;
		since?: number;
		until?: number;
	}
	let filters: Filters = {};
	let cursors: (number | undefined)[] = [undefined]; /* before= of each visited page */
	let nextBefore: number | null = null;

	function readFilters(): Filters | null {
		const ev = evField.input.value.trim();
		if (ev && !/^[a-z0-9_.]{1,63}$/.test(ev)) {
			filterErr.hidden = false;
			replace(filterErr, t('audit.badEvent'));
			return null;
		}
		const since = toUnix(sinceField.input.value);
		const until = toUnix(untilField.input.value);
		if (since !== undefined && until !== undefined && until <= since) {
			filterErr.hidden = false;
			replace(filterErr, t('audit.badRange'));
			return null;
		}
		filterErr.hidden = true;
		return { event: ev || undefined, subject: subjField.input.value.trim() || undefined, since, until };
	}

	// ---- records ----
	const pageInfo = h('span', { class: 'muted', attrs: { 'aria-live': 'polite' } });
	const newer = button(t('audit.newer'), { icon: 'chevronLeft', small: true, testid: 'audit-newer', onClick: () => go(-1) });
	const older = button(t('audit.older'), { icon: 'chevronRight', small: true, testid: 'audit-older', onClick: () => go(1) });

	function recordRows(records: Record[]): HTMLElement[] {
		return records.map((r) =>
			h(
				'tr',
				{ testid: 'audit-row', attrs: { 'data-seq': r.seq, 'data-event': r.event } },
				h('td', { class: 'mono num' }, String(r.seq)),
				h('td', { class: 'nowrap' }, fmtTimeMs(r.time_ms)),
				h('td', null, h('div', { class: 'cell-main' }, eventLabel(r.event)), h('div', { class: 'cell-sub mono' }, r.event)),
				h('td', null, r.subject || '—'),
				h('td', null, r.object || '—'),
				h('td', null, outcomeBadge(r.outcome)),
				h('td', { class: 'mono' }, r.source || '—'),
				h('td', { class: 'cell-actions' }, button(t('audit.details'), { small: true, testid: 'audit-detail', onClick: () => showRecord(r) })),
			),
		);
	}

	const records = asyncView(async () => {
		const before = cursors[cursors.length - 1];
		const r = await api('get', '/api/v1/audit', {
			query: { before, limit: PAGE, event: filters.event, subject: filters.subject, since: filters.since, until: filters.until },
		});
		nextBefore = r.next_before;
		newer.disabled = cursors.length <= 1;
		older.disabled = nextBefore === null;
		replace(pageInfo, t('audit.pageInfo', { page: cursors.length, n: r.records.length }));
		return table(
			[t('audit.seq'), t('audit.time'), t('audit.event'), t('audit.subject'), t('audit.object'), t('audit.outcome'), t('audit.source'), t('common.actions')],
			recordRows(r.records),
			{ testid: 'audit-table', caption: t('nav.audit'), empty: t('audit.none') },
		);
	}, 'audit-records');

	function go(dir: 1 | -1): void {
		if (dir === 1 && nextBefore !== null) cursors.push(nextBefore);
		else if (dir === -1 && cursors.length > 1) cursors.pop();
		else return;
		records.reload();
	}

	function apply(): void {
		const f = readFilters();
		if (!f) return;
		filters = f;
		cursors = [undefined];
		records.reload();
	}

	function showRecord(r: Record): void {
		const d = openDialog({ title: t('audit.recordTitle', { seq: r.seq }), wide: true, testid: 'audit-record-dialog' });
		append(
			d.body,
			details([
				[t('audit.time'), fmtTimeMs(r.time_ms)],
				[t('audit.event'), h('span', null, eventLabel(r.event), ' ', h('code', { class: 'mono' }, r.event))],
				[t('audit.subject'), r.subject],
				[t('audit.object'), r.object],
				[t('audit.outcome'), outcomeBadge(r.outcome)],
				[t('audit.source'), h('span', { class: 'mono' }, r.source)],
				[t('audit.device'), r.device],
				[t('audit.requestId'), h('span', { class: 'mono' }, r.request_id)],
			]),
			h('h3', { class: 'sub-title' }, t('audit.detail')),
			h('pre', { class: 'json mono', testid: 'audit-detail-json' }, JSON.stringify(r.detail ?? {}, null, 2)),
		);
	}

	function exportAs(format: 'json' | 'syslog'): void {
		const f = readFilters();
		if (!f) return;
		const a = h('a', { href: auditExportUrl(format, f.since, f.until), download: '', class: 'offscreen' });
		document.body.appendChild(a);
		a.click();
		a.remove();
	}

	const filterForm = h(
		'form',
		{
			class: 'filters',
			attrs: { novalidate: true, 'aria-label': t('audit.filters') },
			on: {
				submit: (ev) => {
					ev.preventDefault();
					apply();
				},
			},
		},
		evField.wrap,
		datalist,
		subjField.wrap,
		sinceField.wrap,
		untilField.wrap,
		h(
			'div',
			{ class: 'filters-actions' },
			button(t('audit.apply'), { kind: 'primary', type: 'submit', testid: 'audit-apply' }),
			button(t('audit.reset'), {
				testid: 'audit-reset',
				onClick: () => {
					filterForm.reset();
					apply();
				},
			}),
		),
		filterErr,
	);

	void verify();
	return h(
		'div',
		{ class: 'page page-audit' },
		h('div', { class: 'chain-row' }, statusEl, verifyBtn),
		section(
			t('audit.title'),
			filterForm,
			h(
				'div',
				{ class: 'toolbar' },
				h('div', { class: 'pager' }, newer, pageInfo, older),
				h(
					'div',
					{ class: 'toolbar-actions' },
					h('span', { class: 'muted' }, t('audit.exportLabel')),
					button('JSON', { icon: 'download', small: true, testid: 'audit-export-json', title: t('audit.exportJson'), onClick: () => exportAs('json') }),
					button('Syslog', { icon: 'download', small: true, testid: 'audit-export-syslog', title: t('audit.exportSyslog'), onClick: () => exportAs('syslog') }),
				),
			),
			records.el,
		),
	);
}
