// docs-sync.ts — the client side of realtime co-editing (docs/collab.md;
// RG-DOC-a, RG-DOC-g, RG-DOC-h): Jupiter / ShareDB style operational
// transformation over Quill Deltas, with no DOM in it (the editor is behind
// SyncHost), so the same code runs in the browser and in a Node simulation.
//
// Invariants:
//  - `base` is the document at revision `rev` as the server committed it;
//    the editor shows base ∘ inflight ∘ buffer.
//  - At most one op is in flight (sent, not yet acknowledged); later local
//    edits are composed into `buffer` and sent after the ack, based on the
//    acknowledged revision.
//  - An incoming doc.op (rev + 1) is transformed over the in-flight op and
//    then over the buffer, the server's op having priority both ways
//    (op' = inflight.transform(op, false), inflight' = op.transform(inflight,
//    true)), which is what the server does (ot_transform(server, client,
//    priority = server)); op' is what the editor applies.
//  - doc.nack unknown_revision / invalid_op / too_large / forbidden and
//    doc.reset reload the state with doc.open and drop every local op
//    ("drop"): nothing stale is ever sent again.
//  - After a reconnect (or a gap in revisions, or an ack that never came)
//    the state is reloaded with doc.open and reconciled ("reconcile"):
//      * server still at our rev with our base → nothing of ours arrived:
//        in-flight + buffer are sent again as one op;
//      * server at rev + 1 with exactly base ∘ inflight → our in-flight op
//        was committed: the buffer is sent;
//      * otherwise we cannot tell whether the in-flight op was committed,
//        so we do not guess: the server's state is taken as it is, the
//        buffer is transformed over (base ∘ inflight) → state and sent as
//        a new op.  At most the one in-flight op (a few keystrokes) can be
//        lost this way, never duplicated; the user is told (lostEdit).
//    (collab.md has no per-oid deduplication, so re-sending an in-flight
//    op after a reconnect could apply it twice.)
//  - An op the server refused without applying it because it was busy
//    (nack unavailable) or because the document was not open on this
//    connection (nack not_open, e.g. after the server dropped the session)
//    goes back in front of the buffer and is sent again (after a pause, or
//    after the state was reloaded), so it is neither lost nor doubled.
//  - The last LOG_MAX committed ops are kept by revision (the server's op,
//    or our acknowledged one as the server applied it), so a position the
//    server gives at an older revision (a comment's anchor) can be moved to
//    this editor's coordinates: toLocalAt().  A state reload clears the log.
import Delta from 'quill-delta';
import type { Schemas } from './api';
import type { DocClientFrame, DocFrame, LinkState } from './events';

export type { Delta };
export type DocRole = Schemas['DocRole'];
export type DocPeer = Schemas['DocPeer'];
export type SyncStatus = 'loading' | 'saved' | 'saving' | 'offline' | 'reloading' | 'error';
export type SyncNotice =
	| { kind: 'too_large' }
	| { kind: 'invalid_op' }
	| { kind: 'forbidden' }
	| { kind: 'not_found' }
	| { kind: 'reset'; reason: string }
	| { kind: 'lostEdit' }
	| { kind: 'tooManyEditors' };

export interface SyncHost {
	/** Sends a frame when the stream is live; false when it did not go out. */
	send(frame: DocClientFrame): boolean;
	/** Makes pending user input visible to the sync (quill.update('user')). */
	flush(): void;
	/** Replaces the editor's content (source 'api'); keep: try to keep the selection. */
	load(content: Delta, role: DocRole, keep: boolean): void;
	/** The editor's content right now (quill.getContents()). */
	content(): Delta;
	/** The editor's selection right now (null when it has no focus). */
	selection(): { index: number; length: number } | null;
	/** Applies a remote op, already transformed for this editor (source 'api'). */
	apply(op: Delta, user: number): void;
	/** The state's peer list (indices already in this editor's coordinates). */
	peers(list: DocPeer[]): void;
	cursor(user: number, name: string, index: number, length: number): void;
	left(user: number): void;
	status(s: SyncStatus): void;
	notice(n: SyncNotice): void;
}

type Mode = 'fresh' | 'reconcile' | 'drop';

/** How long an in-flight op may wait for its ack before the state is reloaded. */
const ACK_TIMEOUT_MS = 20_000;
const WRITE_ROLES: ReadonlySet<string> = new Set(['owner', 'editor']);
/** At least this long between two ops (keystrokes typed meanwhile go together), and between two cursor frames: the server closes a socket that sends more than 50 frames a second. */
const OP_GAP_MS = 60;
const CURSOR_GAP_MS = 250;
/** Committed ops kept to move positions given at older revisions (the server keeps 1,000). */
const LOG_MAX = 1000;
/** Pauses before sending again after `unavailable` (the server was busy). */
const RETRY_MS = [1000, 2000, 4000, 8000, 15_000];

let oidSeq = 0;
const OID_PREFIX = (() => {
	const b = new Uint8Array(6);
	crypto.getRandomValues(b);
	return Array.from(b, (x) => x.toString(36).padStart(2, '0')).join('').slice(0, 10);
})();

function newOid(): string {
	oidSeq += 1;
	return `c${OID_PREFIX}-${oidSeq}`;
}

/** JSON with object keys sorted (attribute order carries no meaning). */
function canonical(v: unknown): string {
	if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
	if (v && typeof v === 'object') {
		const o = v as Record<string, unknown>;
		return `{${Object.keys(o)
			.sort()
			.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
			.join(',')}}`;
	}
	return JSON.stringify(v) ?? 'null';
}

/** Whether two documents are the same (ops compared whole, attribute order ignored). */
export function sameDelta(a: Delta, b: Delta): boolean {
	return canonical(a.ops) === canonical(b.ops);
}

/** A Delta from the wire (ops checked to be an array of objects). */
export function toDelta(x: { ops?: unknown } | null | undefined): Delta {
	const ops = Array.isArray(x?.ops) ? (x.ops as unknown[]).filter((o) => o !== null && typeof o === 'object') : [];
	return new Delta(ops as Delta['ops']);
}

/** Whether a role may change the content. */
export function canWrite(role: DocRole | null | undefined): boolean {
	return !!role && WRITE_ROLES.has(role);
}

export class DocSync {
	readonly doc: number;
	private readonly host: SyncHost;
	/** Confirmed server revision and content. */
	rev = 0;
	private base = new Delta();
	private inflight: { oid: string; op: Delta } | null = null;
	private buffer: Delta | null = null;
	role: DocRole = 'viewer';
	/** idle: not open (offline or stopped); opening: doc.open sent; open: state received. */
	private phase: 'idle' | 'opening' | 'open' = 'idle';
	private mode: Mode = 'fresh';
	private loaded = false;
	private link: LinkState = 'connecting';
	private dead = false;
	private ackTimer: ReturnType<typeof setTimeout> | undefined;
	private retryTimer: ReturnType<typeof setTimeout> | undefined;
	private sendTimer: ReturnType<typeof setTimeout> | undefined;
	private cursorTimer: ReturnType<typeof setTimeout> | undefined;
	private lastOpAt = 0;
	private lastCursorAt = 0;
	private retries = 0;
	private lastStatus: SyncStatus | null = null;
	/** The last cursor sent (rev:index:length), to send each position once. */
	private selSent = '';
	/** Committed ops by revision, oldest first (rev n turned revision n-1 into n). */
	private log: { rev: number; op: Delta }[] = [];

	constructor(doc: number, host: SyncHost) {
		this.doc = doc;
		this.host = host;
	}

	/** Whether local edits wait for the server (in flight or buffered). */
	get pending(): boolean {
		return this.inflight !== null || this.buffer !== null;
	}

	get isOpen(): boolean {
		return this.phase === 'open';
	}

	/** The link changed (EventStream state); online means resumed. */
	linkState(s: LinkState): void {
		this.link = s;
		if (this.dead) return;
		if (s === 'online') {
			if (this.phase !== 'opening') this.open(this.loaded ? 'reconcile' : 'fresh');
		} else {
			if (this.phase !== 'idle') this.phase = 'idle';
			this.clearAckTimer();
		}
		this.report();
	}

	/** Stops for good (page left); tells the server unless quiet (another view of the same document takes over on this connection). */
	close(quiet = false): void {
		if (this.dead) return;
		this.dead = true;
		this.clearAckTimer();
		clearTimeout(this.retryTimer);
		clearTimeout(this.sendTimer);
		clearTimeout(this.cursorTimer);
		if (this.phase !== 'idle' && !quiet) this.host.send({ type: 'doc.close', doc: this.doc });
		this.phase = 'idle';
	}

	/** A local edit by the user (quill text-change with source 'user'). */
	local(delta: Delta): void {
		if (this.dead || delta.ops.length === 0) return;
		if (!canWrite(this.role)) return;
		this.buffer = this.buffer ? this.buffer.compose(delta) : delta;
		this.flushBuffer();
		this.report();
	}

	/** The local selection moved: it is sent when nothing is pending (then its index is in server terms). */
	selectionChanged(): void {
		this.sendCursor();
	}

	/** A doc.* frame from the event stream. */
	frame(f: DocFrame): void {
		if (this.dead || f.doc !== this.doc) return;
		this.host.flush();
		switch (f.type) {
			case 'doc.state':
				this.onState(f);
				break;
			case 'doc.ack':
				this.onAck(f.oid, f.rev);
				break;
			case 'doc.nack':
				this.onNack(f.oid ?? '', f.code);
				break;
			case 'doc.op':
				this.onOp(f.rev, toDelta(f.op), f.user ?? 0);
				break;
			case 'doc.cursor':
				if (this.phase === 'open') {
					const [index, length] = this.toLocal(f.index, f.length ?? 0);
					this.host.cursor(f.user, f.name ?? '', index, length);
				}
				break;
			case 'doc.left':
				this.host.left(f.user);
				break;
			case 'doc.reset':
				this.host.notice({ kind: 'reset', reason: f.reason ?? '' });
				this.open('drop');
				break;
			case 'doc.error':
				this.onError(f.code);
				break;
			default:
				break;
		}
		this.report();
	}

	/** Asks for the state again (e.g. after a version restore by this user). */
	reload(): void {
		if (!this.dead) this.open('drop');
		this.report();
	}

	// ---- internals ----

	private open(mode: Mode): void {
		/* a stronger mode wins while a reload is already under way */
		if (this.phase === 'opening' && (this.mode === 'drop' || mode !== 'drop')) return;
		this.mode = mode;
		this.clearAckTimer();
		if (mode === 'drop') {
			this.inflight = null;
			this.buffer = null;
		}
		if (this.link !== 'online') {
			this.phase = 'idle';
			return;
		}
		this.phase = this.host.send({ type: 'doc.open', doc: this.doc }) ? 'opening' : 'idle';
	}

	private onState(f: Extract<DocFrame, { type: 'doc.state' }>): void {
		const content = toDelta(f.content);
		const n = f.rev;
		this.role = f.role;
		const mode = this.loaded ? this.mode : 'fresh';
		this.phase = 'open';
		this.loaded = true;
		this.retries = 0;
		this.selSent = '';
		this.log = [];
		let peerShift: Delta | null = null;

		if (mode !== 'reconcile' || !this.pending || !canWrite(this.role)) {
			this.base = content;
			this.rev = n;
			this.inflight = null;
			this.buffer = null;
			this.host.load(content, this.role, mode === 'reconcile');
		} else {
			const inflight = this.inflight;
			const buffer = this.buffer;
			if (n === this.rev && sameDelta(content, this.base)) {
				/* nothing of ours was committed: send it all again */
				const all = inflight ? (buffer ? inflight.op.compose(buffer) : inflight.op) : buffer;
				this.inflight = null;
				this.buffer = all;
				peerShift = all;
			} else if (inflight && n === this.rev + 1 && sameDelta(content, this.base.compose(inflight.op))) {
				/* the in-flight op was committed (its ack was lost) */
				this.base = content;
				this.rev = n;
				this.inflight = null;
				peerShift = buffer;
			} else {
				const ref = inflight ? this.base.compose(inflight.op) : this.base;
				const change = ref.diff(content);
				const rebased = buffer ? change.transform(buffer, true) : null;
				this.base = content;
				this.rev = n;
				this.inflight = null;
				this.buffer = rebased && rebased.ops.length ? rebased : null;
				this.host.load(this.buffer ? content.compose(this.buffer) : content, this.role, true);
				peerShift = this.buffer;
				if (inflight) this.host.notice({ kind: 'lostEdit' });
			}
		}
		const peers = (f.peers ?? []).map((p) => {
			if (!peerShift) return p;
			const [index, length] = shift(peerShift, p.index ?? 0, p.length ?? 0);
			return { ...p, index, length };
		});
		this.host.peers(peers);
		if (canWrite(this.role)) {
			/* Quill normalises content (e.g. it always ends with a newline): bring the server along */
			const shown = this.host.content();
			const expected = this.buffer ? this.base.compose(this.buffer) : this.base;
			if (!sameDelta(shown, expected)) {
				const fix = expected.diff(shown);
				if (fix.ops.length) this.buffer = this.buffer ? this.buffer.compose(fix) : fix;
			}
		} else {
			this.buffer = null;
		}
		this.flushBuffer();
		this.sendCursor();
	}

	private onAck(oid: string, rev: number): void {
		if (!this.inflight || this.inflight.oid !== oid) return;
		this.clearAckTimer();
		const op = this.inflight.op;
		this.inflight = null;
		if (rev !== this.rev + 1) {
			/* we missed an op: the state is reloaded, the buffer rebased on it */
			this.base = this.base.compose(op);
			this.open('reconcile');
			return;
		}
		this.base = this.base.compose(op);
		this.rev = rev;
		this.remember(rev, op);
		this.retries = 0;
		this.flushBuffer();
		this.sendCursor();
	}

	/** A refused doc.open / doc.cursor. */
	private onError(code: string): void {
		switch (code) {
			case 'not_found':
				this.stop({ kind: 'not_found' });
				return;
			case 'too_many_editors':
				this.stop({ kind: 'tooManyEditors' });
				return;
			case 'not_open':
				this.requeue();
				this.open('reconcile');
				return;
			default:
				/* unavailable and anything new: try to open again after a pause */
				if (this.phase === 'opening') this.phase = 'idle';
				this.later(() => this.open(this.loaded ? 'reconcile' : 'fresh'));
				return;
		}
	}

	/** The document cannot be edited here any more (deleted, unshared, full). */
	private stop(n: SyncNotice): void {
		this.host.notice(n);
		this.dead = true;
		this.phase = 'idle';
		this.inflight = null;
		this.buffer = null;
		this.clearAckTimer();
		clearTimeout(this.retryTimer);
		this.lastStatus = null;
		this.host.status('error');
	}

	/** The in-flight op was refused without being applied: it goes back in front of the buffer. */
	private requeue(): void {
		if (!this.inflight) return;
		this.buffer = this.buffer ? this.inflight.op.compose(this.buffer) : this.inflight.op;
		this.inflight = null;
	}

	/** Runs fn after the next back-off pause (one pending at a time). */
	private later(fn: () => void): void {
		clearTimeout(this.retryTimer);
		const wait = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
		this.retries += 1;
		this.retryTimer = setTimeout(() => {
			this.retryTimer = undefined;
			if (this.dead) return;
			fn();
			this.report();
		}, wait);
	}

	private onNack(oid: string, code: string): void {
		if (oid && this.inflight && this.inflight.oid !== oid) return;
		this.clearAckTimer();
		switch (code) {
			case 'not_found':
				this.stop({ kind: 'not_found' });
				return;
			case 'unavailable':
				/* busy: not applied; send it again (with anything typed since) after a pause */
				this.requeue();
				this.later(() => this.flushBuffer());
				return;
			case 'not_open':
				this.requeue();
				this.open('reconcile');
				return;
			case 'forbidden':
				this.host.notice({ kind: 'forbidden' });
				break;
			case 'too_large':
				this.host.notice({ kind: 'too_large' });
				break;
			case 'invalid_op':
				this.host.notice({ kind: 'invalid_op' });
				break;
			default:
				/* unknown_revision and anything new: reload quietly */
				break;
		}
		this.open('drop');
	}

	private onOp(rev: number, op: Delta, user: number): void {
		if (this.phase !== 'open') return; /* a reload is under way; its state includes this op */
		if (rev <= this.rev) return; /* already have it */
		if (rev !== this.rev + 1) {
			this.open('reconcile');
			return;
		}
		this.base = this.base.compose(op);
		this.rev = rev;
		this.remember(rev, op);
		let theirs = op;
		if (this.inflight) {
			const mine = theirs.transform(this.inflight.op, true);
			theirs = this.inflight.op.transform(theirs, false);
			this.inflight.op = mine;
		}
		if (this.buffer) {
			const mine = theirs.transform(this.buffer, true);
			theirs = this.buffer.transform(theirs, false);
			this.buffer = mine;
		}
		if (theirs.ops.length) this.host.apply(theirs, user);
	}

	private flushBuffer(): void {
		if (this.inflight || !this.buffer || this.phase !== 'open' || this.retryTimer !== undefined) return;
		if (this.sendTimer !== undefined) return;
		const wait = this.lastOpAt + OP_GAP_MS - Date.now();
		if (wait > 0) {
			this.sendTimer = setTimeout(() => {
				this.sendTimer = undefined;
				if (this.dead) return;
				this.flushBuffer();
				this.report();
			}, wait);
			return;
		}
		const op = this.buffer;
		const oid = newOid();
		if (!this.host.send({ type: 'doc.op', doc: this.doc, rev: this.rev, oid, op: { ops: op.ops } })) return;
		this.inflight = { oid, op };
		this.buffer = null;
		this.lastOpAt = Date.now();
		this.clearAckTimer();
		this.ackTimer = setTimeout(() => {
			this.ackTimer = undefined;
			if (this.inflight?.oid === oid && !this.dead) {
				this.open('reconcile');
				this.report();
			}
		}, ACK_TIMEOUT_MS);
	}

	private sendCursor(): void {
		if (this.phase !== 'open' || this.pending || this.cursorTimer !== undefined) return;
		const wait = this.lastCursorAt + CURSOR_GAP_MS - Date.now();
		if (wait > 0) {
			this.cursorTimer = setTimeout(() => {
				this.cursorTimer = undefined;
				if (!this.dead) this.sendCursor();
			}, wait);
			return;
		}
		const sel = this.host.selection();
		if (!sel) return;
		const key = `${this.rev}:${sel.index}:${sel.length}`;
		if (key === this.selSent) return;
		if (this.host.send({ type: 'doc.cursor', doc: this.doc, index: sel.index, length: sel.length, rev: this.rev })) {
			this.selSent = key;
			this.lastCursorAt = Date.now();
		}
	}

	/** A server-coordinate selection in this editor's coordinates (over our pending ops). */
	private toLocal(index: number, length: number, move = shift): [number, number] {
		let r: [number, number] = [index, length];
		if (this.inflight) r = move(this.inflight.op, r[0], r[1]);
		if (this.buffer) r = move(this.buffer, r[0], r[1]);
		return r;
	}

	/**
	 * A range of the server's text at revision `rev` (a comment's anchor) in
	 * this editor's coordinates: moved over the ops committed since, then
	 * over our pending ones.  null when it cannot be moved yet: `rev` is
	 * ahead of this editor (ask again after the next op or ack) or older
	 * than the log (read it again from the server).
	 */
	toLocalAt(index: number, length: number, rev: number): [number, number] | null {
		if (this.phase !== 'open' || rev > this.rev) return null;
		let r: [number, number] = [index, length];
		if (rev < this.rev) {
			const first = this.log.length ? this.log[0].rev : this.rev + 1;
			if (rev + 1 < first) return null;
			for (const e of this.log) if (e.rev > rev) r = anchorShift(e.op, r[0], r[1]);
		}
		return this.toLocal(r[0], r[1], anchorShift);
	}

	private remember(rev: number, op: Delta): void {
		this.log.push({ rev, op });
		if (this.log.length > LOG_MAX) this.log.splice(0, this.log.length - LOG_MAX);
	}

	private clearAckTimer(): void {
		if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
		this.ackTimer = undefined;
	}

	private report(): void {
		if (this.dead) return;
		let s: SyncStatus;
		if (this.link !== 'online') s = 'offline';
		else if (this.phase !== 'open') s = this.loaded ? 'reloading' : 'loading';
		else if (this.pending) s = 'saving';
		else s = 'saved';
		if (s !== this.lastStatus) {
			this.lastStatus = s;
			this.host.status(s);
		}
	}
}

/** Moves a selection over a change (inserts at the caret push it on). */
export function shift(change: Delta, index: number, length: number): [number, number] {
	const start = change.transformPosition(index);
	const end = change.transformPosition(index + length);
	return [start, Math.max(0, end - start)];
}

/**
 * Moves an anchored range (a comment's) over a change: text inserted right
 * at either edge stays outside it, text deleted inside shrinks it.
 */
export function anchorShift(change: Delta, index: number, length: number): [number, number] {
	const start = change.transformPosition(index, false);
	const end = change.transformPosition(index + length, true);
	return [start, Math.max(0, end - start)];
}
