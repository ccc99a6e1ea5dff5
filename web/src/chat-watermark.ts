// chat-watermark.ts — the watermark over a conversation whose settings ask
// for one (RG-DATA-b, RG-APP-h): the viewer's display name, account and the
// current time, repeated in a diagonal grid so a photo or screenshot of the
// screen names who leaked it.  Pure DOM text in CSS-placed cells (no inline
// style; CSP style-src 'self'); pointer-events none so it never gets in
// the way.  The time is refreshed every 30 s while the overlay is attached.
import { h, replace } from './dom';
import { fmtTime } from './i18n';

/* enough 250×120 px cells to cover 220 % of a 1920×1080 pane (the grid is rotated) */
const CELLS = 360;
const TICK_MS = 30_000;

export interface Viewer {
	id: number;
	username: string;
	display_name?: string | null;
}

/** A watermark overlay element for the viewer (attach it over the content). */
export function watermark(v: Viewer): HTMLElement {
	const grid = h('div', { class: 'wm-grid' });
	const el = h('div', { class: 'wm', testid: 'watermark', attrs: { 'aria-hidden': 'true' } }, grid);
	const name = v.display_name ? `${v.display_name} · ${v.username}` : v.username;
	const draw = () => {
		const now = fmtTime(Math.floor(Date.now() / 1000));
		const cells = [];
		for (let i = 0; i < CELLS; i++) {
			cells.push(h('div', { class: 'wm-cell' }, h('span', null, name), h('span', null, `ID ${v.id} · ${now}`)));
		}
		replace(grid, cells);
		el.dataset.text = `${name} ${v.id} ${now}`;
	};
	draw();
	const timer = window.setInterval(() => {
		if (!el.isConnected) {
			window.clearInterval(timer);
			return;
		}
		draw();
	}, TICK_MS);
	return el;
}
