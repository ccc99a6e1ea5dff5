// docs-quill.ts — the Quill 2 editor as Bulwark uses it (RG-DOC-a): the
// core build (no themes, no Quill toolbar or tooltip: those build markup
// from strings; our toolbar is plain DOM in docs-toolbar.ts) with only the
// formats the toolbar offers, so pasted content cannot bring in others.
// Undo/redo only covers the user's own edits (history.userOnly), and Tab
// leaves the editor instead of inserting a tab (keyboard users must be able
// to move on; WC-UI).  This module, and Quill with it, is loaded on demand
// with the editor (a separate chunk).
import Quill, { Delta } from 'quill/core';
import Blockquote from 'quill/formats/blockquote';
import Bold from 'quill/formats/bold';
import CodeBlock from 'quill/formats/code';
import Header from 'quill/formats/header';
import Italic from 'quill/formats/italic';
import Link from 'quill/formats/link';
import List from 'quill/formats/list';
import Underline from 'quill/formats/underline';

Quill.register(
	{
		'formats/header': Header,
		'formats/bold': Bold,
		'formats/italic': Italic,
		'formats/underline': Underline,
		'formats/list': List,
		'formats/link': Link,
		'formats/code-block': CodeBlock,
		'formats/blockquote': Blockquote,
	},
	true,
);
/* links: the web and mail only */
Link.PROTOCOL_WHITELIST = ['http', 'https', 'mailto'];

export const FORMATS = ['header', 'bold', 'italic', 'underline', 'list', 'link', 'code-block', 'blockquote'];

export { Delta, Quill };

/** Keyboard bindings of Quill that catch Tab; each one is turned off. */
const TAB_BINDINGS = ['tab', 'indent', 'outdent', 'remove tab', 'indent code-block', 'outdent code-block'];

export function makeQuill(
	el: HTMLElement,
	o: { readOnly: boolean; label: string; placeholder?: string; onLinkKey?: () => void },
): Quill {
	const bindings: Record<string, unknown> = {};
	for (const b of TAB_BINDINGS) bindings[b] = false;
	if (o.onLinkKey) {
		const run = o.onLinkKey;
		bindings['bulwark link'] = { key: 'k', shortKey: true, handler: () => { run(); return false; } };
	}
	const q = new Quill(el, {
		readOnly: o.readOnly,
		formats: FORMATS,
		placeholder: o.placeholder,
		modules: {
			history: { userOnly: true, delay: 800, maxStack: 200 },
			keyboard: { bindings },
		},
	});
	q.root.setAttribute('role', 'textbox');
	q.root.setAttribute('aria-multiline', 'true');
	q.root.setAttribute('aria-label', o.label);
	q.root.setAttribute('spellcheck', 'true');
	q.root.dataset.testid = 'doc-content';
	return q;
}
