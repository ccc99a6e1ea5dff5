// i18n.ts — every user-visible string goes through t() (WC-I18N).
// Languages: English and Simplified Chinese.  The choice follows
// navigator.languages until the user picks one; the pick is kept in
// localStorage ("bulwark.lang").  Missing keys cannot happen: the zh-CN
// dictionary is typed against the English one.
import { en } from './locales/en';
import { zhCN } from './locales/zh-CN';

export type Key = keyof typeof en;
export type Lang = 'en' | 'zh-CN';
export const LANGS: readonly { code: Lang; label: string }[] = [
	{ code: 'zh-CN', label: '简体中文' },
	{ code: 'en', label: 'English' },
];

const DICTS: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zhCN };
const STORE_KEY = 'bulwark.lang';

function stored(): Lang | null {
	try {
		const v = localStorage.getItem(STORE_KEY);
		return v === 'en' || v === 'zh-CN' ? v : null;
	} catch {
		return null;
	}
}

/** The browser's preference: the first of navigator.languages we have. */
export function detectLang(): Lang {
	const prefs = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
	for (const p of prefs) {
		const l = p.toLowerCase();
		if (l.startsWith('zh')) return 'zh-CN';
		if (l.startsWith('en')) return 'en';
	}
	return 'en';
}

let lang: Lang = stored() ?? detectLang();
const listeners = new Set<() => void>();

export function getLang(): Lang {
	return lang;
}

/** Switches language, remembers it, and re-renders through the listeners. */
export function setLang(l: Lang): void {
	try {
		localStorage.setItem(STORE_KEY, l);
	} catch {
		/* private mode: the choice lasts for this page only */
	}
	if (l === lang) return;
	lang = l;
	document.documentElement.lang = l;
	for (const fn of listeners) fn();
}

/** Registers fn to run after every language change; returns the remover. */
export function onLangChange(fn: () => void): () => void {
	listeners.add(fn);
	return () => listeners.delete(fn);
}

export function isKey(k: string): k is Key {
	return Object.prototype.hasOwnProperty.call(en, k);
}

/** The string for key in the current language, {name} placeholders filled. */
export function t(key: Key, vars?: Record<string, string | number>): string {
	const s = DICTS[lang][key] ?? en[key];
	if (!vars) return s;
	return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

const dtCache = new Map<string, Intl.DateTimeFormat>();
function dtf(kind: 'datetime' | 'date' | 'seconds'): Intl.DateTimeFormat {
	const id = `${lang}:${kind}`;
	let f = dtCache.get(id);
	if (!f) {
		const opts: Intl.DateTimeFormatOptions =
			kind === 'date'
				? { year: 'numeric', month: '2-digit', day: '2-digit' }
				: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
		if (kind === 'seconds') opts.second = '2-digit';
		f = new Intl.DateTimeFormat(lang, opts);
		dtCache.set(id, f);
	}
	return f;
}

/** Formats unix seconds ("—" for null/0, which the API uses for "never"). */
export function fmtTime(unix: number | null | undefined): string {
	if (!unix) return '—';
	return dtf('datetime').format(new Date(unix * 1000));
}

/** Formats unix milliseconds with seconds (audit records). */
export function fmtTimeMs(ms: number | null | undefined): string {
	if (!ms) return '—';
	return dtf('seconds').format(new Date(ms));
}

/** "5 minutes ago" style text for unix seconds. */
export function fmtAgo(unix: number | null | undefined): string {
	if (!unix) return '—';
	const diff = Math.round(unix - Date.now() / 1000);
	const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
	const abs = Math.abs(diff);
	if (abs < 60) return rtf.format(diff, 'second');
	if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute');
	if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
	if (abs < 86400 * 30) return rtf.format(Math.round(diff / 86400), 'day');
	return fmtTime(unix);
}

document.documentElement.lang = lang;
