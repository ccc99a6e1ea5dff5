// chat-link.ts — the link-warning page every link in a message goes
// through (IN-PHISH, MI-3, RG-WEB-b).  It shows where the link really leads
// (the full URL; the host in Unicode and in punycode when they differ, so a
// look-alike such as "аpple.com" in Cyrillic stands out), the server's
// verdict from msg.links (malicious: red; blocked by policy: no way on;
// look-alike: warning), and a warning when the link's text shows another
// address than its destination.  Continue opens the page in a new tab with
// noopener,noreferrer; Cancel is the default.
import type { ChatMessage } from './api';
import { hostToUnicode } from './chat-html';
import { h } from './dom';
import { t } from './i18n';
import { alertBox, button, details, openDialog } from './ui';

type LinkCheck = ChatMessage['links'][number];

export type VerdictLevel = 'blocked' | 'malicious' | 'lookalike' | 'ok' | 'unchecked';

export interface Verdict {
	level: VerdictLevel;
	reason: string;
	check: LinkCheck | null;
}

const OPENABLE = new Set(['http:', 'https:', 'mailto:']);

/** A host name in the URL standard's form (IDNA to punycode, lower case); null when invalid. */
export function normHost(host: string): string | null {
	try {
		const u = new URL(location.origin);
		const before = u.hostname;
		u.hostname = host;
		if (u.hostname === before && host.toLowerCase() !== before) return null;
		return u.hostname;
	} catch {
		return null;
	}
}

function parse(href: string): URL | null {
	try {
		return new URL(href, location.origin);
	} catch {
		return null;
	}
}

/** The server's verdict for a link of msg (matched by URL, else by host). */
export function linkVerdict(msg: Pick<ChatMessage, 'links'> | null | undefined, href: string): Verdict {
	const links = msg?.links ?? [];
	const u = parse(href);
	const norm = (x: string) => parse(x)?.href ?? x;
	const target = u?.href ?? href;
	let check: LinkCheck | null =
		links.find((l) => l.url === href) ?? links.find((l) => norm(l.url) === target) ?? null;
	if (!check && u) {
		const host = u.hostname.toLowerCase();
		check = links.find((l) => l.host.toLowerCase() === host || normHost(l.host) === host) ?? null;
	}
	if (!check) return { level: 'unchecked', reason: '', check: null };
	const v = check.verdict.toLowerCase();
	const reason = check.reason ?? '';
	if (check.blocked || v === 'blocked') return { level: 'blocked', reason, check };
	if (v === 'malicious' || v === 'phishing') return { level: 'malicious', reason, check };
	if (v === 'lookalike' || v === 'suspicious') return { level: 'lookalike', reason, check };
	return { level: 'ok', reason, check };
}

/** The worst verdict among a message's links (for its warning line). */
export function worstVerdict(msg: Pick<ChatMessage, 'links'>): VerdictLevel {
	const order: VerdictLevel[] = ['blocked', 'malicious', 'lookalike'];
	let worst: VerdictLevel = 'ok';
	for (const l of msg.links ?? []) {
		const v = linkVerdict({ links: [l] }, l.url).level;
		if (order.indexOf(v) !== -1 && (order.indexOf(worst) === -1 || order.indexOf(v) < order.indexOf(worst))) worst = v;
	}
	return worst;
}

/** Adds verdict classes to a link element in a message. */
export function decorateLink(el: HTMLElement, msg: ChatMessage, href: string): void {
	const v = linkVerdict(msg, href).level;
	if (v === 'blocked' || v === 'malicious') el.classList.add('msg-link-bad');
	else if (v === 'lookalike') el.classList.add('msg-link-warn');
	el.dataset.verdict = v;
}

/** A host-looking string inside a link's text, if any. */
function hostInText(text: string): string | null {
	const m = /(?:https?:\/\/)?((?:[\p{L}\p{N}-]+\.)+[\p{L}]{2,})(?:[/:?#]|\s|$)/u.exec(text.trim());
	if (!m) return null;
	return normHost(m[1]);
}

/** Opens the "You are leaving Bulwark" dialog for a link of msg. */
export function openLinkWarning(href: string, text: string, msg: ChatMessage | null): void {
	const u = parse(href);
	const verdict = linkVerdict(msg, href);
	const d = openDialog({ title: t('link.title'), testid: 'link-warning', wide: true });

	const openable = !!u && OPENABLE.has(u.protocol);
	const blocked = verdict.level === 'blocked';
	const alert = alertBox('link-verdict');
	if (blocked) alert.set(t('link.blocked', { reason: verdict.reason || t('link.noReason') }), 'danger');
	else if (verdict.level === 'malicious') alert.set(t('link.malicious', { reason: verdict.reason || t('link.noReason') }), 'danger');
	else if (verdict.level === 'lookalike') alert.set(t('link.lookalike', { reason: verdict.reason || t('link.noReason') }), 'warning');
	else if (!openable) alert.set(t('link.unsupported'), 'warning');
	alert.el.dataset.verdict = verdict.level;

	const rows: [string, Node | string | null][] = [];
	rows.push([t('link.address'), h('code', { class: 'mono link-url', testid: 'link-url' }, u?.href ?? href)]);
	if (u && u.hostname) {
		const ascii = u.hostname;
		const uni = hostToUnicode(ascii);
		rows.push([t('link.host'), h('span', { class: 'link-host', testid: 'link-host' }, uni)]);
		if (uni !== ascii) {
			rows.push([t('link.hostPunycode'), h('code', { class: 'mono', testid: 'link-host-ascii' }, ascii)]);
		}
	}
	const shownHost = hostInText(text);
	let mismatch = false;
	if (u && shownHost && shownHost !== u.hostname.toLowerCase()) {
		mismatch = true;
		rows.push([t('link.text'), h('span', { class: 'link-text' }, text)]);
	}
	const verdictText: Record<VerdictLevel, string> = {
		blocked: t('link.v.blocked'),
		malicious: t('link.v.malicious'),
		lookalike: t('link.v.lookalike'),
		ok: t('link.v.ok'),
		unchecked: t('link.v.unchecked'),
	};
	rows.push([
		t('link.check'),
		h('span', { class: `link-verdict link-verdict-${verdict.level}`, testid: 'link-verdict-text' }, verdictText[verdict.level]),
	]);

	const mismatchBox = alertBox('link-mismatch');
	if (mismatch) mismatchBox.set(t('link.mismatch', { shown: shownHost ?? '', real: u?.hostname ?? '' }), 'warning');

	d.body.append(
		h('p', null, t('link.explain')),
		alert.el,
		mismatchBox.el,
		details(rows, 'link-details'),
	);
	if (u && uniDiffers(u.hostname)) d.body.append(h('p', { class: 'muted' }, t('link.idnNote')));

	const cancel = button(t('common.cancel'), { testid: 'link-cancel', onClick: () => d.close() });
	d.footer.append(cancel);
	if (openable && !blocked) {
		const risky = verdict.level === 'malicious' || verdict.level === 'lookalike' || mismatch;
		d.footer.append(
			button(risky ? t('link.continueAnyway') : t('link.continue'), {
				kind: risky ? 'danger' : 'primary',
				testid: 'link-continue',
				onClick: () => {
					window.open(u.href, '_blank', 'noopener,noreferrer');
					d.close();
				},
			}),
		);
	}
	cancel.focus();
}

function uniDiffers(host: string): boolean {
	return hostToUnicode(host) !== host;
}
