// dom.ts — the tiny DOM helper every view uses (WC-UI).
//
// Security rule of this client: markup is never built from strings.  h()
// creates elements with document.createElement and adds text with text
// nodes only; it has no way to set innerHTML/outerHTML, and the build's
// check (scripts/check-dist.mjs) fails if any source file uses them.
// Inline style attributes are never set either (CSP style-src 'self'):
// everything visual is a class in styles.css.

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler<E extends Event> = (ev: E) => void;
type Handlers = { [K in keyof HTMLElementEventMap]?: Handler<HTMLElementEventMap[K]> };

/** Properties h() may set directly (safe, non-markup ones only). */
export interface Props {
	class?: string | (string | false | null | undefined)[];
	testid?: string;
	id?: string;
	type?: string;
	name?: string;
	value?: string;
	placeholder?: string;
	autocomplete?: string;
	required?: boolean;
	disabled?: boolean;
	checked?: boolean;
	readOnly?: boolean;
	htmlFor?: string;
	href?: string;
	title?: string;
	min?: string;
	max?: string;
	minLength?: number;
	maxLength?: number;
	pattern?: string;
	inputMode?: string;
	rows?: number;
	tabIndex?: number;
	hidden?: boolean;
	src?: string;
	alt?: string;
	download?: string;
	spellcheck?: boolean;
	/** Other attributes (aria-*, role, lang, …); false/null/undefined skip. */
	attrs?: Record<string, string | number | boolean | null | undefined>;
	on?: Handlers;
}

const DIRECT: (keyof Props)[] = [
	'id', 'type', 'name', 'value', 'placeholder', 'autocomplete', 'required', 'disabled', 'checked',
	'readOnly', 'htmlFor', 'href', 'title', 'min', 'max', 'minLength', 'maxLength', 'pattern',
	'inputMode', 'rows', 'tabIndex', 'hidden', 'src', 'alt', 'download', 'spellcheck',
];

/** Appends children (text becomes text nodes, never markup). */
export function append(parent: Node, ...children: Child[]): void {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(parent, ...c);
		else if (typeof c === 'string' || typeof c === 'number') parent.appendChild(document.createTextNode(String(c)));
		else parent.appendChild(c);
	}
}

/** Creates an element; the caller owns it (attach it or let it be collected). */
export function h<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	props?: Props | null,
	...children: Child[]
): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	if (props) {
		if (props.class) {
			const cls = Array.isArray(props.class) ? props.class.filter(Boolean).join(' ') : props.class;
			if (cls) el.className = cls;
		}
		if (props.testid) el.dataset.testid = props.testid;
		for (const key of DIRECT) {
			const v = props[key];
			if (v !== undefined) (el as unknown as Record<string, unknown>)[key] = v;
		}
		if (props.attrs) {
			for (const [k, v] of Object.entries(props.attrs)) {
				if (v === null || v === undefined || v === false) continue;
				el.setAttribute(k, v === true ? '' : String(v));
			}
		}
		if (props.on) {
			for (const [ev, fn] of Object.entries(props.on)) {
				if (fn) el.addEventListener(ev, fn as EventListener);
			}
		}
	}
	append(el, ...children);
	return el;
}

/** Removes every child of el. */
export function clear(el: Node): void {
	while (el.firstChild) el.removeChild(el.firstChild);
}

/** Replaces el's children with the given ones. */
export function replace(el: Node, ...children: Child[]): void {
	clear(el);
	append(el, ...children);
}

let uid = 0;
/** A document-unique id for label/aria wiring. */
export function nextId(prefix = 'bw'): string {
	uid += 1;
	return `${prefix}-${uid}`;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An inline SVG icon from path data (constants in icons.ts, never user data). */
export function svgIcon(paths: readonly string[], cls = 'icon'): SVGSVGElement {
	const svg = document.createElementNS(SVG_NS, 'svg');
	svg.setAttribute('viewBox', '0 0 24 24');
	svg.setAttribute('class', cls);
	svg.setAttribute('aria-hidden', 'true');
	svg.setAttribute('focusable', 'false');
	for (const d of paths) {
		const p = document.createElementNS(SVG_NS, 'path');
		p.setAttribute('d', d);
		svg.appendChild(p);
	}
	return svg;
}
