// differential.mjs — src/ot.c against the npm reference quill-delta 5.1.0.
//
// Generates random documents and pairs of concurrent changes (inserts with
// attributes from a small set incl. null, retains with attributes, deletes,
// embeds, Chinese text, astral characters/emoji, unnormalised op lists),
// computes with quill-delta: the normalised inputs, a.transform(b, ±),
// b.transform(a, ±), a.compose(b), doc.compose(a|b), transformPosition and
// the convergence pair doc∘a∘a.transform(b,true) / doc∘b∘b.transform(a,false),
// runs the C driver (build/ot-driver, tests/ot/driver.c) on the same cases
// and compares everything.  Where the C side deliberately differs it is an
// error, never a different value:
//   - an operation during which quill-delta cut a surrogate pair (detected
//     by instrumenting OpIterator.next) must fail with BW_EINVAL (-2);
//   - ot_apply rejects a change whose base length exceeds the document.
// Quill's own convergence is checked too.
//
// Env: OT_SEED (reproduce a run), OT_CASES (default 6000), OT_DRIVER,
// OT_WORKDIR (where the case/result files go, default build/).
// Last line: "ot-differential: N passed, M failed"; exit 1 on failure.
// Requirement IDs: RG-DOC (co-editing), test only.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
let Delta;
try {
	Delta = createRequire(import.meta.url)('quill-delta');  // NODE_PATH
} catch {
	Delta = createRequire(path.join(root, 'web/package.json'))('quill-delta');
}
const { OpIterator } = Delta;
const EINVAL = -2;

// ---------------------------------------------------------------- split probe
let splitSeen = false;
const origNext = OpIterator.prototype.next;
OpIterator.prototype.next = function (length) {
	const op = this.ops[this.index];
	if (op && typeof op.insert === 'string' && length) {
		const cut = this.offset + length;
		if (cut < op.insert.length) {
			const hi = op.insert.charCodeAt(cut - 1), lo = op.insert.charCodeAt(cut);
			if (hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff)
				splitSeen = true;
		}
	}
	return origNext.call(this, length);
};

// ----------------------------------------------------------------------- rng
const seed = process.env.OT_SEED !== undefined ? Number(process.env.OT_SEED) >>> 0
	: (Date.now() ^ (process.pid << 16)) >>> 0;
const ncases = Number(process.env.OT_CASES || 6000);
let rs = seed;
function rnd() {    // mulberry32
	rs = (rs + 0x6d2b79f5) >>> 0;
	let t = rs;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;

// ----------------------------------------------------------------- generator
const PIECES = ['a', 'b', 'c', 'hello ', 'world', '\n', '中文', '漢字', '😀', '👍🏽', 'é',
	'x y', '🇫🇷', '\t', '𝒜', 'z'];
const ATTRS = {
	bold: [true, null], italic: [true, false, null],
	link: ['https://a.example/', 'https://b.example/x?y=1', null],
	header: [1, 2, null], list: ['bullet', 'ordered', null], color: ['#f00', '#00f', null],
	size: [1.5, 'large', null], align: ['center', null],
};
const KEYS = Object.keys(ATTRS);
const EMBEDS = [{ image: 'x' }, { image: 'https://img.example/1.png' }, { video: 'v' },
	{ formula: 'e=mc^2' }];

function genAttrs(allowNull) {
	if (chance(0.5)) return undefined;
	const n = int(1, 3), out = {};
	for (let i = 0; i < n; i++) {
		const k = pick(KEYS);
		let v = pick(ATTRS[k]);
		if (v === null && !allowNull) v = ATTRS[k][0];
		out[k] = v;
	}
	return out;
}
function genText() {
	let s = '';
	for (let i = int(1, 3); i > 0; i--) s += pick(PIECES);
	return s;
}
function genInsert(allowNull) {
	const op = { insert: chance(0.15) ? { ...pick(EMBEDS) } : genText() };
	const at = genAttrs(allowNull);
	if (at) op.attributes = at;
	return op;
}
function genDocOps() {
	const ops = [];
	for (let i = int(0, chance(0.1) ? 40 : 8); i > 0; i--) ops.push(genInsert(chance(0.1)));
	if (chance(0.3) && ops.length) ops.push({ insert: ops[ops.length - 1].insert,
		attributes: ops[ops.length - 1].attributes }); // mergeable neighbour
	return ops;
}
// Positions (UTF-16) at which a document may be cut without splitting a pair.
function boundaries(doc) {
	const ok = new Set([0]);
	let pos = 0;
	for (const op of doc.ops) {
		if (typeof op.insert === 'string') {
			for (let i = 0; i < op.insert.length; i++) {
				const c = op.insert.charCodeAt(i);
				pos++;
				if (!(c >= 0xd800 && c <= 0xdbff)) ok.add(pos);
			}
		} else {
			pos++;
			ok.add(pos);
		}
	}
	return ok;
}
function genChangeOps(doc) {
	const len = doc.length(), ok = boundaries(doc), ops = [];
	let pos = 0;
	const stopEarly = chance(0.4);
	const maxSteps = chance(0.1) ? 40 : 12;
	for (let steps = 0; steps < maxSteps; steps++) {
		if (pos >= len) {
			if (chance(0.6)) ops.push(genInsert(chance(0.1)));
			break;
		}
		if (stopEarly && chance(0.2)) break;
		const r = rnd();
		if (r < 0.3) {
			ops.push(genInsert(chance(0.1)));
			continue;
		}
		let k = int(1, Math.min(len - pos, 6));
		if (chance(0.92)) while (pos + k < len && !ok.has(pos + k)) k++;
		const op = r < 0.65 ? { retain: k } : { delete: k };
		if (op.retain) {
			const at = genAttrs(true);
			if (at && chance(0.6)) op.attributes = at;
		}
		// unnormalised input: the same op cut in two
		if (k > 1 && chance(0.1)) {
			const k1 = int(1, k - 1), first = { ...op }, second = { ...op };
			if (op.retain) { first.retain = k1; second.retain = k - k1; }
			else { first.delete = k1; second.delete = k - k1; }
			ops.push(first, second);
		} else {
			ops.push(op);
		}
		pos += k;
	}
	if (chance(0.04)) ops.push({ retain: int(1, 3) });           // retain past the end
	return ops;
}

// ------------------------------------------------------- quill side (expected)
const norm = (ops) => ops.reduce((d, op) => d.push(op), new Delta());
const err = (code) => ({ err: code });
function run(f) {
	splitSeen = false;
	const r = f();
	return splitSeen ? err(EINVAL) : r;
}
const base = (d) => d.ops.reduce((n, op) => n + (op.retain || op.delete || 0), 0);
const target = (d) => d.ops.reduce((n, op) => n + (op.delete ? 0 : Delta.Op.length(op)), 0);
function apply(doc, ch) {
	if (doc.err || ch.err) return err(EINVAL);
	if (base(ch) > doc.length()) return err(EINVAL);
	return run(() => doc.compose(ch));
}
const opsOf = (d) => (d.err ? d : d.ops);
function textOf(d) {
	return d.ops.map((op) => (typeof op.insert === 'string' ? op.insert : '\ufffc')).join('');
}
function canon(v) {
	if (Array.isArray(v)) return v.map(canon);
	if (v && typeof v === 'object') {
		const o = {};
		for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = canon(v[k]);
		return o;
	}
	return v;
}
const same = (x, y) => JSON.stringify(canon(x)) === JSON.stringify(canon(y));

function expected(c) {
	const doc = norm(c.doc), a = norm(c.a), b = norm(c.b);
	const e = { doc: doc.ops, a: a.ops, b: b.ops, lens: [base(a), target(a), base(b), target(b)] };
	const tabt = run(() => a.transform(b, true)), tbaf = run(() => b.transform(a, false));
	e.ta_b_t = opsOf(tabt);
	e.ta_b_f = opsOf(run(() => a.transform(b, false)));
	e.tb_a_t = opsOf(run(() => b.transform(a, true)));
	e.tb_a_f = opsOf(tbaf);
	e.c_ab = opsOf(run(() => a.compose(b)));
	const apa = apply(doc, a), apb = apply(doc, b);
	e.apply_a = opsOf(apa);
	e.apply_b = opsOf(apb);
	const left = apply(apa, tabt), right = apply(apb, tbaf);
	e.left = opsOf(left);
	e.right = opsOf(right);
	if (!left.err) e.text = textOf(left);
	e.pos = c.pos.map((i) => [a.transformPosition(i, true), a.transformPosition(i, false),
		b.transformPosition(i, true), b.transformPosition(i, false)]);
	e.converges = left.err || right.err || same(left.ops, right.ops);
	e.applied = !left.err && !right.err;
	return e;
}

// ---------------------------------------------------------------------- main
const t0 = Date.now();
console.log(`ot-differential: seed ${seed} (OT_SEED=${seed} to reproduce), ${ncases} cases`);
const cases = [];
for (let id = 0; id < ncases; id++) {
	const docOps = genDocOps(), doc = norm(docOps);
	const c = { id, doc: docOps, a: genChangeOps(doc), b: genChangeOps(doc), pos: [] };
	for (let i = 0; i < 3; i++) c.pos.push(int(0, doc.length() + 2));
	cases.push(c);
}
const work = process.env.OT_WORKDIR || path.join(root, 'build');
fs.mkdirSync(work, { recursive: true });
const casesFile = path.join(work, 'ot-cases.jsonl');
const resultsFile = path.join(work, 'ot-results.jsonl');
fs.writeFileSync(casesFile, cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
const driver = process.env.OT_DRIVER || path.join(root, 'build/ot-driver');
const outFd = fs.openSync(resultsFile, 'w');
const res = spawnSync(driver, [casesFile], { stdio: ['ignore', outFd, 'inherit'] });
fs.closeSync(outFd);
if (res.status !== 0) {
	console.log(`driver failed: status ${res.status} signal ${res.signal} ${res.error || ''}`);
	console.log(`ot-differential: 0 passed, ${ncases} failed`);
	process.exit(1);
}
const lines = fs.readFileSync(resultsFile, 'utf8').split('\n').filter((l) => l);
const FIELDS = ['doc', 'a', 'b', 'lens', 'ta_b_t', 'ta_b_f', 'tb_a_t', 'tb_a_f', 'c_ab',
	'apply_a', 'apply_b', 'left', 'right', 'text', 'pos'];
let passed = 0, failed = 0, shown = 0, errCases = 0, applied = 0;
for (const c of cases) {
	const line = lines[c.id];
	const got = line ? JSON.parse(line) : null;
	const e = expected(c);
	let bad = got ? null : 'no output';
	if (!bad && got.id !== c.id) bad = `id ${got.id}`;
	if (!bad && !e.converges) bad = 'quill-delta itself did not converge';
	for (const f of FIELDS) {
		if (bad) break;
		if (!same(got[f], e[f])) bad = f;
	}
	if (e.left.err || e.right.err) errCases++;
	if (e.applied) applied++;
	if (!bad) {
		passed++;
		continue;
	}
	failed++;
	if (shown++ < 1) {
		console.log(`MISMATCH in case ${c.id} field ${bad}`);
		console.log('  case:     ' + JSON.stringify(c));
		if (got && bad in e) {
			console.log('  expected: ' + JSON.stringify(canon(e[bad])));
			console.log('  got:      ' + JSON.stringify(canon(got[bad])));
		}
	}
}
console.log(`ot-differential: ${applied} cases converged on both sides, ${errCases} rejected ` +
	`(split surrogate pair or retain past the end), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`ot-differential: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
