// chat-search.ts — message search over the caller's conversations
// (GET /search; the server searches a blind index, so a query needs at
// least 2 characters or one CJK character).  Results show conversation,
// sender, time and the text with the query marked (marks are built as
// elements, never markup); choosing one opens the conversation at that
// message.
import { api } from './api';
import { fmtShort, msgPreview } from './chat-messages';
import type { ChatStore, Msg } from './chat-store';
import { type Child, h, replace } from './dom';
import { t } from './i18n';
import { errorText, icon } from './ui';

const CJK_RE = /[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]/u;

/** Whether the server accepts q (≥ 2 characters, or one CJK character). */
export function searchable(q: string): boolean {
	const s = q.trim();
	return Array.from(s).length >= 2 || CJK_RE.test(s);
}

function marked(text: string, q: string): Child[] {
	const needle = q.trim().toLowerCase();
	if (!needle) return [text];
	const out: Child[] = [];
	const low = text.toLowerCase();
	let i = 0;
	for (let n = 0; n < 20; n++) {
		const j = low.indexOf(needle, i);
		if (j < 0) break;
		if (j > i) out.push(text.slice(i, j));
		out.push(h('mark', null, text.slice(j, j + needle.length)));
		i = j + needle.length;
	}
	out.push(text.slice(i));
	return out;
}

export function searchPanel(
	store: ChatStore,
	o: { onOpen(conv: number, msg: number): void; onActive(on: boolean): void },
): { el: HTMLElement } {
	const input = h('input', {
		type: 'search',
		class: 'input input-sm chat-search-input',
		testid: 'chat-search',
		placeholder: t('chat.searchPlaceholder'),
		maxLength: 256,
		attrs: { 'aria-label': t('chat.search'), enterkeyhint: 'search' },
	});
	const results = h('div', { class: 'search-results', hidden: true, testid: 'search-results', attrs: { 'aria-live': 'polite' } });
	let gen = 0;
	let timer: number | undefined;

	function clear(): void {
		gen++;
		results.hidden = true;
		replace(results);
		o.onActive(false);
	}

	async function run(): Promise<void> {
		const q = input.value.trim();
		window.clearTimeout(timer);
		if (!q) {
			clear();
			return;
		}
		o.onActive(true);
		results.hidden = false;
		if (!searchable(q)) {
			replace(results, h('p', { class: 'muted search-note' }, t('chat.searchTooShort')));
			return;
		}
		const mine = ++gen;
		replace(results, h('div', { class: 'loading loading-sm', attrs: { role: 'status' } }, h('span', { class: 'spinner' }), t('chat.searching')));
		try {
			const r = await api('get', '/api/v1/search', { query: { q, limit: 50 } });
			if (mine !== gen) return;
			const items = r.results.filter((m) => !m.recalled).map((m) => resultItem(m, q));
			replace(
				results,
				h('p', { class: 'search-count' }, t('chat.searchCount', { n: items.length })),
				items.length ? h('ul', { class: 'search-list' }, items) : h('p', { class: 'muted search-note' }, t('chat.searchNone')),
			);
		} catch (e) {
			if (mine === gen) replace(results, h('p', { class: 'alert alert-danger' }, errorText(e)));
		}
	}

	function resultItem(m: Msg, q: string): HTMLElement {
		const c = store.convs.get(m.conv);
		const where = c ? store.convTitle(c) : t('chat.conversationN', { id: m.conv });
		return h(
			'li',
			null,
			h(
				'button',
				{
					type: 'button',
					class: 'search-item',
					testid: 'search-result',
					attrs: { 'data-conv': m.conv, 'data-id': m.id },
					on: { click: () => o.onOpen(m.conv, m.id) },
				},
				h('span', { class: 'search-meta' }, h('span', { class: 'search-conv' }, where), h('span', { class: 'search-time' }, fmtShort(m.created_at))),
				h('span', { class: 'search-sender' }, store.nameOf(m.sender)),
				h('span', { class: 'search-text' }, marked(msgPreview(m), q)),
			),
		);
	}

	input.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter') {
			ev.preventDefault();
			void run();
		} else if (ev.key === 'Escape' && input.value) {
			ev.preventDefault();
			input.value = '';
			clear();
		}
	});
	input.addEventListener('input', () => {
		window.clearTimeout(timer);
		if (!input.value.trim()) {
			clear();
			return;
		}
		timer = window.setTimeout(() => void run(), 450);
	});

	const el = h(
		'div',
		{ class: 'chat-search' },
		h('div', { class: 'chat-search-box' }, icon('search', 'icon icon-sm chat-search-icon'), input),
		results,
	);
	return { el };
}
