// docs-cursors.ts — co-editors' carets, selections and name flags over the
// Quill editor (Quill has no remote cursors).  Drawn as SVG in a layer that
// Quill keeps next to its editor (quill.addContainer), positioned with
// quill.getBounds(index, length): SVG geometry attributes, not inline
// styles, so the strict CSP (style-src 'self') and the no-inline-style rule
// hold; colours are classes (doc-cursor-c0 … c7 in styles.css).  Positions
// are kept in this editor's coordinates: every change applied to the editor
// (local or remote) moves them with shift(); a doc.cursor frame replaces
// one.  The layer is aria-hidden: the presence list names the co-editors.
// The same layer draws the highlights of commented text (setMarks; the
// comments panel keeps their positions, docs-comments.ts): drawn here, not
// as a Quill format, so a highlight never changes the document.
import type Quill from 'quill/core';
import type { Delta } from 'quill/core';
import { shift } from './docs-sync';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** A flag shows the name this long after the caret moved, then shrinks to a dot. */
const FLAG_MS = 4000;
const NAME_MAX = 40;

interface Remote {
	user: number;
	name: string;
	index: number;
	length: number;
	movedAt: number;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, cls?: string): SVGElementTagNameMap[K] {
	const el = document.createElementNS(SVG_NS, tag);
	for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
	if (cls) el.setAttribute('class', cls);
	return el;
}

/** A commented range to highlight (this editor's coordinates). */
export interface Mark {
	id: number;
	index: number;
	length: number;
	active: boolean;
}

/** At most this many highlights are drawn (the rest still show in the panel). */
const MARKS_MAX = 300;

export class CursorLayer {
	private readonly quill: Quill;
	private readonly layer: SVGSVGElement;
	private readonly remotes = new Map<number, Remote>();
	private marks: Mark[] = [];
	private frame = 0;
	private timer: number | undefined;
	private readonly resize: ResizeObserver;

	constructor(quill: Quill) {
		this.quill = quill;
		const holder = quill.addContainer('doc-cursors');
		holder.setAttribute('aria-hidden', 'true');
		this.layer = svg('svg', {}, 'doc-cursors-svg');
		this.layer.dataset.testid = 'doc-cursors';
		holder.appendChild(this.layer);
		this.resize = new ResizeObserver(() => this.draw());
		this.resize.observe(quill.container);
	}

	/** A co-editor's selection (already in this editor's coordinates). */
	set(user: number, name: string, index: number, length: number): void {
		const prev = this.remotes.get(user);
		const moved = !prev || prev.index !== index || prev.length !== length;
		this.remotes.set(user, {
			user,
			name: (name || prev?.name || '').slice(0, NAME_MAX),
			index,
			length,
			movedAt: moved ? Date.now() : prev.movedAt,
		});
		this.draw();
	}

	/** Replaces the comment highlights. */
	setMarks(marks: Mark[]): void {
		this.marks = marks.slice(0, MARKS_MAX);
		this.draw();
	}

	remove(user: number): void {
		if (this.remotes.delete(user)) this.draw();
	}

	clear(): void {
		this.remotes.clear();
		this.draw();
	}

	/** Moves every caret over a change applied to the editor. */
	transform(change: Delta): void {
		for (const r of this.remotes.values()) [r.index, r.length] = shift(change, r.index, r.length);
		this.draw();
	}

	/** Redraws on the next animation frame (batched). */
	draw(): void {
		if (this.frame) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.paint();
		});
	}

	destroy(): void {
		cancelAnimationFrame(this.frame);
		window.clearTimeout(this.timer);
		this.resize.disconnect();
		this.remotes.clear();
		this.marks = [];
	}

	private paint(): void {
		const layer = this.layer;
		while (layer.firstChild) layer.removeChild(layer.firstChild);
		if (!this.quill.container.isConnected) return;
		const max = Math.max(0, this.quill.getLength() - 1);
		for (const m of this.marks) {
			const index = Math.min(m.index, max);
			const length = Math.max(0, Math.min(m.length, max - index));
			if (length === 0) continue;
			const g = svg('g', {}, m.active ? 'doc-mark is-active' : 'doc-mark');
			g.dataset.comment = String(m.id);
			for (const [from, to] of this.lineRanges(index, length)) {
				const b = this.quill.getBounds(from, to - from);
				if (b && b.width > 0) g.appendChild(svg('rect', { x: b.left, y: b.top, width: b.width, height: b.height, rx: 2 }, 'doc-mark-rect'));
			}
			layer.appendChild(g);
		}
		const now = Date.now();
		let nextFade = Infinity;
		for (const r of this.remotes.values()) {
			const index = Math.min(r.index, max);
			const length = Math.max(0, Math.min(r.length, max - index));
			const caret = this.quill.getBounds(index, 0);
			if (!caret) continue;
			const colour = `doc-cursor-c${r.user % 8}`;
			const g = svg('g', {}, `doc-cursor ${colour}`);
			g.dataset.user = String(r.user);
			g.dataset.index = String(index);
			if (length > 0) {
				/* one rectangle per line of the selection */
				for (const [from, to] of this.lineRanges(index, length)) {
					const b = this.quill.getBounds(from, to - from);
					if (b && b.width > 0) g.appendChild(svg('rect', { x: b.left, y: b.top, width: b.width, height: b.height, rx: 2 }, 'doc-cursor-sel'));
				}
			}
			g.appendChild(svg('rect', { x: Math.round(caret.left) - 1, y: caret.top, width: 2, height: Math.max(14, caret.height) }, 'doc-cursor-caret'));
			const fresh = now - r.movedAt < FLAG_MS;
			if (fresh) {
				nextFade = Math.min(nextFade, r.movedAt + FLAG_MS - now);
				const above = caret.top >= 18;
				const y = above ? caret.top - 17 : caret.top + Math.max(14, caret.height) + 1;
				const flag = svg('rect', { x: Math.round(caret.left) - 1, y, height: 16, width: 10, rx: 3 }, 'doc-cursor-flag');
				const text = svg('text', { x: Math.round(caret.left) + 4, y: y + 12 }, 'doc-cursor-name');
				text.textContent = r.name;
				g.append(flag, text);
				layer.appendChild(g);
				let w = 60;
				try {
					w = text.getComputedTextLength();
				} catch {
					/* not rendered (hidden): keep the estimate */
				}
				flag.setAttribute('width', String(Math.ceil(w) + 10));
			} else {
				g.appendChild(svg('circle', { cx: Math.round(caret.left), cy: caret.top, r: 3 }, 'doc-cursor-dot'));
				layer.appendChild(g);
			}
		}
		window.clearTimeout(this.timer);
		if (Number.isFinite(nextFade)) this.timer = window.setTimeout(() => this.draw(), nextFade + 50);
	}

	/** The part of each line (without its newline) that a range covers, as [from, to). */
	private lineRanges(index: number, length: number): [number, number][] {
		const out: [number, number][] = [];
		const end = index + length;
		for (const line of this.quill.getLines(index, length).slice(0, 500)) {
			const start = this.quill.getIndex(line);
			const from = Math.max(index, start);
			const to = Math.min(end, start + line.length() - 1);
			if (to > from) out.push([from, to]);
		}
		return out;
	}
}
