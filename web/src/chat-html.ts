// chat-html.ts — puts a message's server-rendered HTML on the page safely
// (RG-WEB-b, IN-PHISH).  The html is parsed with DOMParser into an inert
// document (no scripts run, nothing loads) and only an allow-list of
// elements and attributes is copied into the live DOM, element by element,
// with text as text nodes: no markup string ever reaches the live
// document.  Links keep no href (so neither a middle click nor "open in new
// tab" can bypass the warning): each becomes a focusable role=link element
// that calls onLink with the destination.  Anything not allowed is dropped
// with its content (script, style, iframe, forms…) or unwrapped to its text.
import { h } from './dom';

/** Elements copied as they are. */
const KEEP = new Set([
	'p', 'strong', 'em', 'del', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'br', 'hr',
	'table', 'thead', 'tbody', 'tr', 'th', 'td', 'b', 'i', 'sub', 'sup',
]);
/** Elements dropped with everything inside. */
const DROP = new Set([
	'script', 'style', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'template', 'noscript',
	'svg', 'math', 'form', 'input', 'button', 'textarea', 'select', 'option', 'link', 'meta', 'base',
	'title', 'head', 'audio', 'video', 'source', 'track', 'canvas', 'picture', 'portal', 'dialog',
]);
const HEADINGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
const MAX_NODES = 20_000;
const MAX_DEPTH = 48;
const USER_RE = /^[\p{L}\p{N}._-]{1,64}$/u;
/** The HTML namespace (of this document's elements); svg and math are foreign. */
const HTML_NS = document.createElement('p').namespaceURI;

export interface RenderOpts {
	/** Called when a link is activated (click, Enter). */
	onLink(href: string, text: string): void;
	/** Username of the viewer (mentions of them are highlighted). */
	me?: string;
	/** Marks a link element by its destination (verdict classes). */
	decorateLink?(el: HTMLElement, href: string): void;
}

/** The message's html as live DOM nodes (allow-listed copy). */
export function renderMessageHtml(html: string, o: RenderOpts): DocumentFragment {
	const frag = document.createDocumentFragment();
	let doc: Document;
	try {
		doc = new DOMParser().parseFromString(html, 'text/html');
	} catch {
		frag.appendChild(document.createTextNode(html));
		return frag;
	}
	const budget = { nodes: 0 };
	for (const child of Array.from(doc.body.childNodes)) copyNode(child, frag, o, 0, budget);
	return frag;
}

function copyNode(src: Node, dst: Node, o: RenderOpts, depth: number, budget: { nodes: number }): void {
	if (++budget.nodes > MAX_NODES) return;
	if (src.nodeType === Node.TEXT_NODE) {
		dst.appendChild(document.createTextNode(src.nodeValue ?? ''));
		return;
	}
	if (src.nodeType !== Node.ELEMENT_NODE) return; /* comments, processing instructions */
	const el = src as Element;
	const tag = el.localName.toLowerCase();
	if (DROP.has(tag) || el.namespaceURI !== HTML_NS) return;
	if (depth >= MAX_DEPTH) {
		dst.appendChild(document.createTextNode(el.textContent ?? ''));
		return;
	}
	const kids = (into: Node) => {
		for (const c of Array.from(el.childNodes)) copyNode(c, into, o, depth + 1, budget);
	};

	if (tag === 'a') {
		const href = el.getAttribute('href') ?? '';
		const text = el.textContent ?? '';
		const a = h('a', {
			class: 'msg-link',
			title: href,
			tabIndex: 0,
			attrs: { role: 'link' },
			on: {
				click: (ev) => {
					ev.preventDefault();
					o.onLink(href, text);
				},
				keydown: (ev) => {
					if (ev.key === 'Enter') {
						ev.preventDefault();
						o.onLink(href, text);
					}
				},
			},
		});
		o.decorateLink?.(a, href);
		kids(a);
		dst.appendChild(a);
		return;
	}
	if (tag === 'span') {
		const cls = (el.getAttribute('class') ?? '').split(/\s+/);
		if (cls.includes('mention')) {
			const user = el.getAttribute('data-user') ?? '';
			const span = h('span', { class: ['mention', !!o.me && user === o.me && 'mention-me'] });
			if (USER_RE.test(user)) span.dataset.user = user;
			kids(span);
			dst.appendChild(span);
			return;
		}
		kids(dst);
		return;
	}
	if (tag === 'img') {
		/* no remote images: the alternative text stands in */
		const alt = el.getAttribute('alt');
		if (alt) dst.appendChild(document.createTextNode(alt));
		return;
	}
	if (HEADINGS.has(tag)) {
		const p = h('p', { class: `md-heading md-${tag}` });
		kids(p);
		dst.appendChild(p);
		return;
	}
	if (KEEP.has(tag)) {
		const out = document.createElement(tag);
		if (tag === 'ol') {
			const start = Number(el.getAttribute('start'));
			if (Number.isInteger(start) && start >= 0 && start < 1e9) (out as HTMLOListElement).start = start;
		}
		if ((tag === 'th' || tag === 'td') && /^(left|right|center)$/.test(el.getAttribute('align') ?? '')) {
			out.className = `md-align-${el.getAttribute('align')}`;
		}
		kids(out);
		dst.appendChild(out);
		return;
	}
	/* unknown element (div, section, input…): keep its content only */
	kids(dst);
}

/** Plain text of a message's html (previews, search results, quotes). */
export function htmlText(html: string): string {
	try {
		const doc = new DOMParser().parseFromString(html, 'text/html');
		for (const x of Array.from(doc.querySelectorAll('script,style,template'))) x.remove();
		return (doc.body.textContent ?? '').replace(/\s+/g, ' ').trim();
	} catch {
		return '';
	}
}

// ---- punycode (RFC 3492), decoding only: to show a host in Unicode ----

const BASE = 36;
const TMIN = 1;
const TMAX = 26;
const SKEW = 38;
const DAMP = 700;

function adapt(delta: number, numPoints: number, first: boolean): number {
	let d = first ? Math.floor(delta / DAMP) : delta >> 1;
	d += Math.floor(d / numPoints);
	let k = 0;
	while (d > ((BASE - TMIN) * TMAX) >> 1) {
		d = Math.floor(d / (BASE - TMIN));
		k += BASE;
	}
	return k + Math.floor(((BASE - TMIN + 1) * d) / (d + SKEW));
}

function digit(c: number): number {
	if (c >= 0x30 && c <= 0x39) return c - 22;
	if (c >= 0x41 && c <= 0x5a) return c - 0x41;
	if (c >= 0x61 && c <= 0x7a) return c - 0x61;
	return BASE;
}

/** Decodes one punycode label (without "xn--"); null when malformed. */
export function punycodeDecode(input: string): string | null {
	if (input.length > 253) return null;
	const out: number[] = [];
	let n = 128;
	let i = 0;
	let bias = 72;
	const basic = input.lastIndexOf('-');
	for (let j = 0; j < Math.max(basic, 0); j++) {
		const c = input.charCodeAt(j);
		if (c >= 0x80) return null;
		out.push(c);
	}
	for (let idx = basic > 0 ? basic + 1 : 0; idx < input.length; ) {
		const oldi = i;
		let w = 1;
		for (let k = BASE; ; k += BASE) {
			if (idx >= input.length) return null;
			const d = digit(input.charCodeAt(idx++));
			if (d >= BASE) return null;
			i += d * w;
			if (i > 0x10ffff * 1000) return null;
			const tt = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
			if (d < tt) break;
			w *= BASE - tt;
		}
		bias = adapt(i - oldi, out.length + 1, oldi === 0);
		n += Math.floor(i / (out.length + 1));
		i %= out.length + 1;
		if (n > 0x10ffff) return null;
		out.splice(i, 0, n);
		i++;
	}
	try {
		return String.fromCodePoint(...out);
	} catch {
		return null;
	}
}

/** A host name in Unicode (xn-- labels decoded; undecodable labels kept). */
export function hostToUnicode(host: string): string {
	return host
		.split('.')
		.map((label) => {
			if (!/^xn--/i.test(label)) return label;
			return punycodeDecode(label.slice(4).toLowerCase()) ?? label;
		})
		.join('.');
}
