#!/usr/bin/env node
// check-dist.mjs — fails the build when the client could break, or weaken,
// the server's Content-Security-Policy:
//   default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;
//   connect-src 'self'; frame-ancestors 'none'; base-uri 'none';
//   form-action 'self'; object-src 'none'
// Checks dist/index.html (no inline script/style/handlers, no <base>, no
// external URLs, every referenced asset exists and is content-hashed), the
// emitted CSS (no external or font URLs, no @import) and JS (no HTML string
// sinks), and the sources under src/ (no innerHTML & co., no eval, no inline
// style).  Exit status 0 clean, 1 problems.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(web, 'dist');
const problems = [];
const fail = (m) => problems.push(m);

function walk(dir) {
	const out = [];
	for (const name of readdirSync(dir)) {
		const p = join(dir, name);
		if (statSync(p).isDirectory()) out.push(...walk(p));
		else out.push(p);
	}
	return out;
}

// ---- dist/index.html ----
const indexPath = join(dist, 'index.html');
if (!existsSync(indexPath)) {
	console.error('check-dist: dist/index.html missing (run vite build first)');
	process.exit(1);
}
const html = readFileSync(indexPath, 'utf8');
for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
	if (!/\bsrc\s*=/.test(m[1])) fail('index.html: inline <script> (CSP script-src blocks it)');
	if (m[2].trim() !== '') fail('index.html: <script> with a body');
}
if (/<style\b/i.test(html)) fail('index.html: <style> element (CSP style-src blocks it)');
if (/\sstyle\s*=/i.test(html)) fail('index.html: style attribute');
if (/\son[a-z]+\s*=/i.test(html)) fail('index.html: inline event handler attribute');
if (/<base\b/i.test(html)) fail('index.html: <base> (CSP base-uri none)');
if (/(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html)) fail('index.html: external URL');
const refs = [...html.matchAll(/(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]);
for (const ref of refs) {
	if (!ref.startsWith('/')) {
		fail(`index.html: non-absolute reference ${ref}`);
		continue;
	}
	const file = join(dist, ref.slice(1));
	if (!existsSync(file)) fail(`index.html: ${ref} does not exist in dist/`);
	if (ref.startsWith('/assets/') && !/-[A-Za-z0-9_-]{8,}\.(js|css)$/.test(ref)) fail(`index.html: ${ref} is not content-hashed`);
}
if (!refs.some((r) => /^\/assets\/.+\.js$/.test(r))) fail('index.html: no script bundle referenced');
if (!refs.some((r) => /^\/assets\/.+\.css$/.test(r))) fail('index.html: no stylesheet referenced');

// ---- emitted assets ----
// Third-party chunks that may contain HTML sinks, with how many of each
// (pinned: an upgrade that adds one fails here and gets looked at).  The
// editor chunk (web/src/docs-quill.ts) holds Quill 2.0.3, which reads its
// container's innerHTML once when it starts (our container is empty) and
// clears it, reads its own blots' innerHTML/outerHTML in getSemanticHTML()
// (which Bulwark never calls), and in its MS Word paste normaliser copies
// list markup between elements of an inert DOMParser document before the
// clipboard turns it into a Delta.  None of it renders a string we build.
const VENDOR_SINKS = [
	{ chunk: /^docs-quill-[A-Za-z0-9_-]{8,}\.js$/, allow: { innerHTML: 6, outerHTML: 2 } },
];

for (const file of walk(dist)) {
	const ext = extname(file);
	if (ext === '.map') fail(`${file}: source map shipped`);
	if (ext === '.css') {
		const css = readFileSync(file, 'utf8');
		if (/@import/i.test(css)) fail(`${file}: @import`);
		if (/@font-face/i.test(css)) fail(`${file}: @font-face (no web fonts)`);
		if (/url\(\s*["']?(https?:)?\/\//i.test(css)) fail(`${file}: external url()`);
	}
	if (ext === '.js') {
		const js = readFileSync(file, 'utf8');
		const vendor = VENDOR_SINKS.find((v) => v.chunk.test(file.split('/').pop()));
		for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
			const n = js.split(sink).length - 1;
			if (n > (vendor?.allow[sink] ?? 0)) fail(`${file}: contains ${sink} (${n}×)`);
		}
		if (/["'`]https?:\/\//.test(js.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, ''))) fail(`${file}: absolute URL in script`);
	}
}

// ---- sources ----
const FORBIDDEN = [
	[/\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write/, 'HTML string sink'],
	[/\beval\s*\(|new\s+Function\s*\(/, 'eval'],
	[/setAttribute\(\s*['"]style['"]|\.style\.|\.cssText\b/, 'inline style (use a class)'],
	[/setAttribute\(\s*['"]on[a-z]+['"]/, 'inline event handler'],
	[/localStorage\.setItem\([^)]*(password|ticket|csrf|secret)/i, 'secret written to storage'],
];
for (const file of walk(join(web, 'src'))) {
	if (!/\.(ts|js)$/.test(file) || file.endsWith('api-types.ts')) continue;
	const lines = readFileSync(file, 'utf8').split('\n');
	lines.forEach((line, i) => {
		if (/^\s*(\/\/|\*)/.test(line)) return;
		for (const [re, what] of FORBIDDEN) if (re.test(line)) fail(`${file}:${i + 1}: ${what}`);
	});
}

for (const p of problems) console.error(`check-dist: ${p}`);
if (problems.length) {
	console.error(`check-dist: ${problems.length} problem(s)`);
	process.exit(1);
}
console.log(`check-dist: dist/ is CSP-clean (${refs.length} references checked)`);
