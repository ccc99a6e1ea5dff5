// docs-classify.ts — classification labels and what they make the client
// enforce (RG-DOC-b/c, RG-APP-h, RG-DATA-a/b, WC-CLASS; docs/collab.md):
//  - the label chip in the editor's header (everyone sees it; the owner
//    changes it with a select of GET /doc-labels → PUT classification);
//  - the document's policy (GET /documents/{id}/policy), read when the
//    editor opens and again on every doc.policy frame.  Until it is known,
//    or when it cannot be read, the strictest policy applies (STRICT);
//  - copy guard: when the policy forbids copying, copy and cut (keyboard,
//    context menu, Ctrl/⌘+C/X, Ctrl+Insert, Shift+Delete) and dragging a
//    selection out of the text are stopped before Quill's clipboard sees
//    them (capture listeners on the document, for any selection that
//    touches the document's text, its comments or a version preview;
//    the user's own typing in fields is left alone), and each attempt is
//    reported (POST /documents/{id}/events {kind:'copy',
//    blocked:true}; a held key counts once, at most one report a second);
//  - print guard: when printing is forbidden, body carries doc-noprint while
//    the editor is open (an @media print rule hides the page and prints a
//    notice instead) and Ctrl/⌘+P is intercepted and reported; printing
//    from the browser's menu is reported from beforeprint;
//  - allowed copies and prints are reported too ({blocked:false}), at most
//    once every 10 s per kind so normal work does not flood the audit;
//  - export (Markdown / HTML) through fetch + Blob + object URL with the
//    session cookie, refused up front when policy.download is false.
// The server enforces export itself (403 export_forbidden) and audits it;
// copy and print cannot be enforced by a server, so the client blocks them
// and the audit records every attempt it reports.
import { type Schemas, api, docExportUrl, fetchDownload } from './api';
import type { Doc, DocLabel, DocPolicy } from './docs-data';
import { h, replace } from './dom';
import { type Key, isKey, t } from './i18n';
import { errorText, icon, toast } from './ui';

/** What applies until the policy is known or when it cannot be read: nothing leaves, the watermark shows. */
export const STRICT: DocPolicy = {
	name: '',
	export: false,
	copy: false,
	print: false,
	external_links: false,
	watermark: true,
	download: false,
};

const OK_REPORT_MS = 10_000;
const BLOCKED_REPORT_MS = 1000;
const TOAST_MS = 3000;

/** The label's name in the user's language (the default labels are translated; others shown as named). */
export function labelText(name: string): string {
	if (!name) return t('docs.label.unknown');
	const k = `docs.label.${name}`;
	return isKey(k) ? t(k as Key) : name;
}

/** A colour class by how restrictive the label is. */
function labelTone(p: Pick<DocPolicy, 'export' | 'copy' | 'print' | 'external_links'> | null, name: string): string {
	if (['public', 'internal', 'confidential', 'secret'].includes(name)) return `doc-label-${name}`;
	if (!p) return 'doc-label-other';
	if (!p.export && !p.copy) return 'doc-label-confidential';
	return p.external_links ? 'doc-label-public' : 'doc-label-internal';
}

/** The document's policy for the caller; STRICT when it cannot be read. */
export async function loadPolicy(id: number): Promise<DocPolicy> {
	try {
		return (await api('get', '/api/v1/documents/{id}/policy', { path: { id } })).policy;
	} catch {
		return { ...STRICT };
	}
}

let labelsCache: { at: number; list: DocLabel[] } | null = null;
const LABELS_TTL_MS = 60_000;

/** The tenant's labels (kept a minute). */
export async function docLabels(): Promise<DocLabel[]> {
	if (labelsCache && Date.now() - labelsCache.at < LABELS_TTL_MS) return labelsCache.list;
	const r = await api('get', '/api/v1/doc-labels');
	labelsCache = { at: Date.now(), list: r.labels };
	return r.labels;
}

// ---- the label chip ----

export interface LabelChip {
	el: HTMLElement;
	/** The document's classification and whether the caller may change it. */
	set(name: string, owner: boolean, policy: DocPolicy | null): void;
}

/**
 * The classification chip.  The owner's is a select (keyboard friendly)
 * that saves at once; everyone else sees the label as text.
 */
export function labelChip(o: { doc: () => Doc; onChanged(doc: Doc): void }): LabelChip {
	const el = h('span', { class: 'doc-label-holder' });
	let current = '';
	let owner = false;
	let policy: DocPolicy | null = null;
	let labels: DocLabel[] | null = null;
	let saving = false;
	/** What is drawn now: a redraw with nothing new is skipped (it would close an open select). */
	let drawn = '';

	function describe(p: DocPolicy | null): string {
		if (!p) return '';
		const rules: string[] = [];
		if (!p.export) rules.push(t('docs.label.noExport'));
		if (!p.copy) rules.push(t('docs.label.noCopy'));
		if (!p.print) rules.push(t('docs.label.noPrint'));
		if (p.watermark) rules.push(t('docs.label.watermark'));
		return rules.length ? rules.join(' · ') : t('docs.label.noLimits');
	}

	function draw(): void {
		const tone = labelTone(policy, current);
		const title = `${t('docs.label.title')}: ${labelText(current)}${policy ? ` — ${describe(policy)}` : ''}`;
		const sig = JSON.stringify([owner, current, tone, title, saving, labels?.map((l) => l.name) ?? null]);
		if (sig === drawn && el.firstChild) return;
		drawn = sig;
		if (!owner) {
			replace(
				el,
				h(
					'span',
					{ class: ['doc-label', tone], testid: 'doc-label', title, attrs: { 'data-label': current, tabindex: 0, role: 'note', 'aria-label': title } },
					icon('tag', 'icon icon-sm'),
					h('span', null, labelText(current)),
				),
			);
			return;
		}
		const names = labels ? labels.map((l) => l.name) : [];
		if (current && !names.includes(current)) names.unshift(current);
		const sel = h(
			'select',
			{
				class: ['doc-label', 'doc-label-select', tone],
				testid: 'doc-label-select',
				title,
				disabled: saving,
				attrs: { 'aria-label': t('docs.label.change'), 'data-label': current },
				on: {
					focus: () => void fill(),
					pointerdown: () => void fill(),
					change: () => void save(sel.value),
				},
			},
			names.map((n) => h('option', { value: n }, labelText(n))),
		);
		sel.value = current;
		replace(el, h('span', { class: 'doc-label-wrap' }, icon('tag', 'icon icon-sm doc-label-icon'), sel));
	}

	async function fill(): Promise<void> {
		if (labels) return;
		try {
			labels = await docLabels();
		} catch {
			labels = [];
			return;
		}
		const had = el.contains(document.activeElement);
		draw();
		if (had) el.querySelector<HTMLElement>('select')?.focus();
	}

	async function save(name: string): Promise<void> {
		if (!name || name === current) return;
		const before = current;
		saving = true;
		current = name;
		draw();
		try {
			const r = await api('put', '/api/v1/documents/{id}/classification', { path: { id: o.doc().id }, body: { classification: name } });
			toast(t('docs.label.changed', { label: labelText(name) }), 'success');
			o.onChanged(r.document);
		} catch (e) {
			current = before;
			toast(errorText(e), 'danger');
		} finally {
			saving = false;
			draw();
			el.querySelector<HTMLElement>('select')?.focus();
		}
	}

	return {
		el,
		set(name, isOwner, p) {
			const had = el.contains(document.activeElement);
			current = name;
			owner = isOwner;
			policy = p;
			draw();
			if (had) el.querySelector<HTMLElement>('select, [tabindex]')?.focus();
			if (owner && !labels) void fill();
		},
	};
}

// ---- reports ----

const lastReport = new Map<string, number>();

/** Reports a copy / print / download attempt to the audit (throttled; failures are ignored). */
export function reportEvent(doc: number, kind: 'copy' | 'print' | 'download', blocked: boolean): void {
	const key = `${doc}:${kind}:${blocked}`;
	const now = Date.now();
	if (now - (lastReport.get(key) ?? 0) < (blocked ? BLOCKED_REPORT_MS : OK_REPORT_MS)) return;
	lastReport.set(key, now);
	if (lastReport.size > 200) lastReport.clear();
	api('post', '/api/v1/documents/{id}/events', { path: { id: doc }, body: { kind, blocked } }).catch(() => {
		/* the attempt was blocked either way; the audit is best effort from the client */
	});
}

// ---- the guard ----

export interface Guard {
	/** Applies a (new) policy. */
	set(p: DocPolicy): void;
	readonly policy: DocPolicy;
	/** Also guards another area (a version preview). */
	watch(el: HTMLElement): () => void;
	destroy(): void;
}

function isCopyKey(ev: KeyboardEvent): 'copy' | 'cut' | null {
	const mod = ev.ctrlKey || ev.metaKey;
	const k = ev.key.toLowerCase();
	if (mod && !ev.altKey && k === 'c') return 'copy';
	if (mod && !ev.altKey && k === 'x') return 'cut';
	if (ev.ctrlKey && k === 'insert') return 'copy';
	if (ev.shiftKey && k === 'delete') return 'cut';
	return null;
}

/** Text the user types (their own comment, a field): never guarded. */
function isField(t: EventTarget | null): boolean {
	return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}

/**
 * Enforces the copy and print rules while the editor is open.  Copy, cut,
 * their shortcuts and dragging are caught on the document in the capture
 * phase (before Quill's clipboard or anything else sees them) whenever the
 * selection touches a guarded area (the document's text, the comments, a
 * version preview), wherever the copy started.
 */
export function docGuard(docId: number, area: HTMLElement, first: DocPolicy): Guard {
	let policy = first;
	let lastToast = 0;
	const areas = new Set<HTMLElement>();

	function tell(key: Key): void {
		const now = Date.now();
		if (now - lastToast < TOAST_MS) return;
		lastToast = now;
		toast(t(key, { label: labelText(policy.name) }), 'warning', 'doc-blocked-toast');
	}

	/** Whether the page's selection holds text of a guarded area. */
	function touches(): boolean {
		const sel = document.getSelection();
		if (!sel || sel.isCollapsed || sel.rangeCount === 0) return false;
		const r = sel.getRangeAt(0);
		for (const a of areas) if (a.isConnected && r.intersectsNode(a)) return true;
		return false;
	}

	function inArea(n: EventTarget | null): boolean {
		if (!(n instanceof Node)) return false;
		for (const a of areas) if (a.contains(n)) return true;
		return false;
	}

	function block(ev: Event): void {
		ev.preventDefault();
		ev.stopPropagation();
		if (ev instanceof KeyboardEvent && ev.repeat) return;
		reportEvent(docId, 'copy', true);
		tell('docs.guard.noCopy');
	}

	const onCopy = (ev: ClipboardEvent) => {
		if (isField(ev.target) || !touches()) return;
		if (!policy.copy) block(ev);
		else reportEvent(docId, 'copy', false);
	};
	const onKey = (ev: KeyboardEvent) => {
		if (policy.copy || !isCopyKey(ev) || isField(ev.target) || !touches()) return;
		/* stop the shortcut itself (some browsers do not fire copy after a handled key) */
		block(ev);
	};
	const onDrag = (ev: DragEvent) => {
		if (policy.copy || isField(ev.target) || !(inArea(ev.target) || touches())) return;
		block(ev);
	};
	const onPrintKey = (ev: KeyboardEvent) => {
		if (!(ev.ctrlKey || ev.metaKey) || ev.altKey || ev.key.toLowerCase() !== 'p') return;
		if (policy.print) return; /* beforeprint reports it */
		ev.preventDefault();
		ev.stopPropagation();
		if (ev.repeat) return;
		reportEvent(docId, 'print', true);
		tell('docs.guard.noPrint');
	};
	const onBeforePrint = () => {
		/* from the browser's menu too; when forbidden the page prints the notice only */
		reportEvent(docId, 'print', !policy.print);
	};

	function apply(): void {
		const body = document.body;
		body.classList.toggle('doc-noprint', !policy.print);
		if (!policy.print) body.dataset.noprint = t('docs.guard.printed', { label: labelText(policy.name) });
		else delete body.dataset.noprint;
		for (const el of areas) el.classList.toggle('doc-nocopy', !policy.copy);
	}

	function watch(el: HTMLElement): () => void {
		areas.add(el);
		apply();
		return () => {
			areas.delete(el);
			el.classList.remove('doc-nocopy');
		};
	}

	watch(area);
	document.addEventListener('copy', onCopy, true);
	document.addEventListener('cut', onCopy, true);
	document.addEventListener('keydown', onKey, true);
	document.addEventListener('dragstart', onDrag, true);
	window.addEventListener('keydown', onPrintKey, true);
	window.addEventListener('beforeprint', onBeforePrint);

	return {
		get policy() {
			return policy;
		},
		set(p: DocPolicy) {
			policy = p;
			apply();
		},
		watch,
		destroy() {
			for (const el of [...areas]) el.classList.remove('doc-nocopy');
			areas.clear();
			document.removeEventListener('copy', onCopy, true);
			document.removeEventListener('cut', onCopy, true);
			document.removeEventListener('keydown', onKey, true);
			document.removeEventListener('dragstart', onDrag, true);
			window.removeEventListener('keydown', onPrintKey, true);
			window.removeEventListener('beforeprint', onBeforePrint);
			document.body.classList.remove('doc-noprint');
			delete document.body.dataset.noprint;
		},
	};
}

// ---- export ----

const FILE_NAME_MAX = 100;

/** A file name from the title (characters file systems refuse replaced). */
function fileName(title: string, ext: string, fallback: string | null): string {
	const base = title
		.replace(/[\\/:*?"<>|\u0000-\u001f\u007f]+/g, '_')
		.replace(/^[\s.]+|[\s.]+$/g, '')
		.slice(0, FILE_NAME_MAX);
	return base ? `${base}.${ext}` : fallback ?? `document.${ext}`;
}

/** Why export is not offered ('' when it is). */
export function exportBlockedReason(p: DocPolicy): string {
	if (p.download) return '';
	if (!p.export) return t('docs.export.noLabel', { label: labelText(p.name) });
	return t('docs.export.noLink');
}

/** Downloads the export through the session; the server audits it (and refuses with export_forbidden). */
export async function exportDoc(doc: Doc, format: 'md' | 'html'): Promise<void> {
	try {
		const { blob, filename } = await fetchDownload(docExportUrl(doc.id, format));
		const url = URL.createObjectURL(blob);
		const a = h('a', { href: url, download: fileName(doc.title, format, filename), class: 'offscreen' });
		document.body.appendChild(a);
		a.click();
		a.remove();
		window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
		toast(t('docs.export.done'), 'success', 'doc-export-toast');
	} catch (e) {
		toast(errorText(e), 'danger', 'doc-export-toast');
	}
}

export type DocPolicyFrame = Schemas['EventDocPolicy'];
