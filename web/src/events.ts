// events.ts — the event WebSocket /api/v1/events (same origin; the cookie
// authenticates it).  Reconnects with exponential backoff and jitter
// (1 s … 30 s); before each reconnect it asks the server whether the session
// still exists, so an expired session ends on the sign-in screen instead of
// retrying forever.  Close code 4001 (after session_ended) is final.
//
// Chat (docs/realtime.md; RG-IM-a/b/c): after `hello` the stream sends
// `resume` with the highest event `seq` it has processed, kept in memory and
// in sessionStorage per user (so a reload of the tab resumes too); the first
// connection of a tab resumes from hello's `seq` and tells the chat store to
// reload (fresh).  Sends carry a client id (`cid`); every send not yet
// acknowledged is sent again, same cid, after each reconnect (the server
// stores a cid once, so retrying never duplicates).  Close 4008 (overflow)
// reconnects at once, 4029 (too many frames) after a pause, 1006 and the rest
// with the backoff.  Chat frames reach the chat store through onChat().
//
// Documents (docs/collab.md; RG-DOC-a/g/h): doc.* frames from the server
// reach the open document through onDoc(), together with the link state;
// the document sends doc.open/op/cursor/close with sendDoc(), which only
// sends on a resumed socket (false otherwise: the caller re-opens the
// document when the link is back online, see docs-sync.ts).  Nothing of a
// document is queued here: after a reconnect the editor asks for the state
// again.
import type { Schemas } from './api';

type EventMessage = Schemas['EventMessage'];
export type ChatMessage = Schemas['ChatMessage'];
export type ChatEvent = Schemas['EventChat'];
export type ChatFrame =
	| ChatEvent
	| Schemas['EventTyping']
	| Schemas['EventReceipt']
	| Schemas['EventPresence'];
export type DocFrame =
	| Schemas['EventDocState']
	| Schemas['EventDocAck']
	| Schemas['EventDocNack']
	| Schemas['EventDocOp']
	| Schemas['EventDocCursor']
	| Schemas['EventDocLeft']
	| Schemas['EventDocReset']
	| Schemas['EventDocError']
	| Schemas['EventDocComment']
	| Schemas['EventDocPolicy'];
/** Frames a client sends about a document (docs/collab.md). */
export type DocClientFrame =
	| { type: 'doc.open'; doc: number }
	| { type: 'doc.op'; doc: number; rev: number; oid: string; op: { ops: unknown[] } }
	| { type: 'doc.cursor'; doc: number; index: number; length: number; rev?: number }
	| { type: 'doc.close'; doc: number };

export interface EventHandlers {
	onSessionEnded(reason: Schemas['EventSessionEnded']['reason']): void;
	onNewDevice(name: string, ip: string): void;
	/** Resolves false when the session is gone (the handler shows sign-in). */
	stillSignedIn(): Promise<boolean>;
}

/** online = resumed and live; connecting = socket not (yet) resumed; offline = waiting to reconnect. */
export type LinkState = 'connecting' | 'online' | 'offline';

export type ChatSignal =
	| { type: 'frame'; frame: ChatFrame }
	/** fresh: this tab had no stored position, so state must be reloaded over HTTP. */
	| { type: 'state'; state: LinkState; fresh: boolean; userId: number }
	/** The stream ended for good (sign-out, session end): forget everything. */
	| { type: 'reset' };

export type DocSignal =
	| { type: 'frame'; frame: DocFrame }
	/** online: resumed (open the document again); connecting/offline: frames are not delivered. */
	| { type: 'link'; state: LinkState }
	/** The stream ended for good (sign-out, session end). */
	| { type: 'reset' };

/** A send that failed for good (nack, or the stream closed). */
export class SendError extends Error {
	readonly code: string;
	readonly retryAfter?: number;
	constructor(code: string, message: string, retryAfter?: number) {
		super(message);
		this.name = 'SendError';
		this.code = code;
		this.retryAfter = retryAfter;
	}
}

export interface SendRequest {
	conv: number;
	body: string;
	reply_to?: number;
	thread_root?: number;
	/** Reuse a cid (retry of a failed send); a new one is made otherwise. */
	cid?: string;
}

interface Pending {
	frame: string;
	conv: number;
	resolve(m: ChatMessage): void;
	reject(e: SendError): void;
	tries: number;
	timer: number | undefined;
	sentAt: number;
}

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
const STABLE_MS = 10_000;
const PAUSE_4029_MS = 10_000;
/** The server's queue is at most 1 MiB; a frame is far smaller. */
const MAX_FRAME = 1024 * 1024;
/** The server accepts client frames of at most 16 KiB. */
export const MAX_CLIENT_FRAME = 16 * 1024;
/** … except that a document frame may be up to 1,088 KiB (docs/realtime.md). */
export const MAX_DOC_FRAME = 1088 * 1024;
/** Resend an unacknowledged frame on the same connection after this long. */
const ACK_RESEND_MS = 30_000;
/** nack codes worth retrying by themselves, and how often. */
const RETRYABLE = new Set(['unavailable', 'rate_limited']);
const MAX_TRIES = 4;
const SEQ_KEY = 'bulwark.chat.seq.';

const listeners = new Set<(s: ChatSignal) => void>();
let active: EventStream | null = null;

/** Subscribes to chat signals; returns the remover. */
export function onChat(fn: (s: ChatSignal) => void): () => void {
	listeners.add(fn);
	return () => listeners.delete(fn);
}

function emit(s: ChatSignal): void {
	for (const fn of [...listeners]) {
		try {
			fn(s);
		} catch (e) {
			console.warn('chat listener failed', e);
		}
	}
}

const docListeners = new Set<(s: DocSignal) => void>();

/** Subscribes to document frames and link changes; returns the remover. */
export function onDoc(fn: (s: DocSignal) => void): () => void {
	docListeners.add(fn);
	return () => docListeners.delete(fn);
}

function emitDoc(s: DocSignal): void {
	for (const fn of [...docListeners]) {
		try {
			fn(s);
		} catch (e) {
			console.warn('document listener failed', e);
		}
	}
}

/** The running stream of this tab, if any. */
export function chatLink(): EventStream | null {
	return active;
}

/** A new client id: 22 url-safe characters from the CSPRNG. */
export function newCid(): string {
	const b = new Uint8Array(16);
	crypto.getRandomValues(b);
	let s = '';
	for (const x of b) s += String.fromCharCode(x);
	return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function loadSeq(uid: number): number | null {
	try {
		const v = sessionStorage.getItem(SEQ_KEY + uid);
		if (v === null) return null;
		const n = Number(v);
		return Number.isSafeInteger(n) && n >= 0 ? n : null;
	} catch {
		return null;
	}
}

function saveSeq(uid: number, seq: number): void {
	try {
		sessionStorage.setItem(SEQ_KEY + uid, String(seq));
	} catch {
		/* storage full or disabled: the in-memory position still works */
	}
}

export class EventStream {
	private ws: WebSocket | null = null;
	private closed = false;
	private attempt = 0;
	private timer: number | undefined;
	private openedAt = 0;
	private ended = false;
	private resumed = false;
	private fresh = false;
	private seq = -1;
	private uid = 0;
	private state: LinkState = 'connecting';
	private readonly pending = new Map<string, Pending>();
	/** Read pointers to tell the server once the stream is live again. */
	private readonly unsentRead = new Map<number, number>();

	constructor(private readonly h: EventHandlers) {
		active = this;
		this.connect();
	}

	/** Stops for good (sign-out, session end); idempotent. */
	close(): void {
		for (const p of this.pending.values()) {
			window.clearTimeout(p.timer);
			p.reject(new SendError('closed', 'the connection was closed'));
		}
		this.pending.clear();
		this.closed = true;
		window.clearTimeout(this.timer);
		if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'bye');
		this.ws = null;
		if (active === this) {
			active = null;
			emit({ type: 'reset' });
			emitDoc({ type: 'reset' });
		}
	}

	/** The signed-in user (0 until hello). */
	get userId(): number {
		return this.uid;
	}

	get linkState(): LinkState {
		return this.state;
	}

	/**
	 * Sends a message; resolves with the stored message on ack, rejects with
	 * SendError on nack.  Unacknowledged sends are repeated (same cid) after
	 * every reconnect.  Returns the cid at once so the caller can show it.
	 */
	sendMessage(req: SendRequest): { cid: string; done: Promise<ChatMessage> } {
		const cid = req.cid ?? newCid();
		const frame = JSON.stringify({
			type: 'send',
			conv: req.conv,
			cid,
			body: req.body,
			reply_to: req.reply_to ?? 0,
			thread_root: req.thread_root ?? 0,
		});
		const done = new Promise<ChatMessage>((resolve, reject) => {
			if (this.closed) {
				reject(new SendError('closed', 'not connected'));
				return;
			}
			if (new TextEncoder().encode(frame).length > MAX_CLIENT_FRAME) {
				reject(new SendError('too_large', 'message too large'));
				return;
			}
			const old = this.pending.get(cid);
			if (old) window.clearTimeout(old.timer);
			this.pending.set(cid, { frame, conv: req.conv, resolve, reject, tries: 0, timer: undefined, sentAt: 0 });
			if (this.resumed) this.transmit(cid);
		});
		return { cid, done };
	}

	/** Whether a send with this cid still waits for its ack. */
	isPending(cid: string): boolean {
		return this.pending.has(cid);
	}

	/**
	 * Sends a document frame (doc.open/op/cursor/close) when the stream is
	 * live; returns whether it went out.  Nothing is queued: the document
	 * re-opens itself when the link is back (DocSignal link online).
	 */
	sendDoc(frame: DocClientFrame): boolean {
		if (!this.resumed) return false;
		const text = JSON.stringify(frame);
		/* a UTF-16 length over the limit may still fit in UTF-8 bytes; only count when close */
		if (text.length * 3 > MAX_DOC_FRAME && new TextEncoder().encode(text).length > MAX_DOC_FRAME) return false;
		return this.send(text, true);
	}

	/** Tells the members that the user is typing (ephemeral; dropped while offline). */
	typing(conv: number): void {
		if (this.resumed) this.send({ type: 'typing', conv });
	}

	/** Moves the read pointer; kept and sent after a reconnect when offline. */
	read(conv: number, msg: number): void {
		if (this.resumed && this.send({ type: 'read', conv, msg })) {
			this.unsentRead.delete(conv);
			return;
		}
		const prev = this.unsentRead.get(conv) ?? 0;
		if (msg > prev) this.unsentRead.set(conv, msg);
	}

	private setState(s: LinkState): void {
		if (this.state === s && s !== 'online') return;
		this.state = s;
		emit({ type: 'state', state: s, fresh: s === 'online' && this.fresh, userId: this.uid });
		emitDoc({ type: 'link', state: s });
	}

	private transmit(cid: string): void {
		const p = this.pending.get(cid);
		if (!p) return;
		if (!this.send(p.frame, true)) return;
		p.tries += 1;
		p.sentAt = Date.now();
		window.clearTimeout(p.timer);
		p.timer = window.setTimeout(() => {
			if (this.pending.has(cid) && this.resumed) this.transmit(cid);
		}, ACK_RESEND_MS);
	}

	private connect(): void {
		if (this.closed) return;
		this.resumed = false;
		this.setState('connecting');
		const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
		let ws: WebSocket;
		try {
			ws = new WebSocket(`${scheme}//${location.host}/api/v1/events`);
		} catch {
			this.schedule();
			return;
		}
		this.ws = ws;
		ws.addEventListener('open', () => {
			this.openedAt = Date.now();
		});
		ws.addEventListener('message', (ev) => this.onMessage(ev));
		ws.addEventListener('close', (ev) => {
			if (this.ws !== ws) return;
			this.ws = null;
			this.resumed = false;
			if (this.closed) return;
			if (ev.code === 4001 || this.ended) {
				this.closed = true;
				if (!this.ended) this.h.onSessionEnded('revoked');
				return;
			}
			if (this.openedAt && Date.now() - this.openedAt > STABLE_MS) this.attempt = 0;
			this.openedAt = 0;
			this.setState('offline');
			if (ev.code === 4008) {
				/* overflow: we were too slow; resume at once, nothing is lost */
				this.attempt = 0;
				this.schedule(250);
			} else if (ev.code === 4029) {
				this.schedule(PAUSE_4029_MS);
			} else {
				this.schedule();
			}
		});
	}

	private schedule(fixed?: number): void {
		if (this.closed) return;
		const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
		const delay = fixed ?? base * (0.8 + Math.random() * 0.4);
		this.attempt = Math.min(this.attempt + 1, 10);
		window.clearTimeout(this.timer);
		this.timer = window.setTimeout(async () => {
			if (this.closed) return;
			if (!(await this.h.stillSignedIn())) {
				this.closed = true;
				return;
			}
			this.connect();
		}, delay);
	}

	private onHello(userId: number, serverSeq: number | undefined): void {
		if (this.uid && this.uid !== userId) {
			/* another account in this tab: nothing of the old one carries over */
			this.seq = -1;
			this.fresh = true;
		}
		this.uid = userId;
		if (this.seq < 0) {
			const stored = loadSeq(userId);
			if (stored !== null) {
				this.seq = stored;
				this.fresh = false;
			} else {
				this.fresh = true;
			}
		}
		if (this.seq >= 0) {
			this.send({ type: 'resume', since: this.seq });
		} else if (typeof serverSeq === 'number') {
			/* nothing of ours yet: live from the hello point (the store reloads over HTTP) */
			this.seq = serverSeq;
			this.send({ type: 'resume', since: serverSeq });
		} else {
			this.send({ type: 'resume' });
		}
	}

	private onResumed(seq: number | undefined): void {
		if (typeof seq === 'number' && seq > this.seq) this.seq = seq;
		if (this.uid && this.seq >= 0) saveSeq(this.uid, this.seq);
		this.resumed = true;
		this.setState('online');
		this.fresh = false;
		for (const [conv, msg] of this.unsentRead) {
			if (this.send({ type: 'read', conv, msg })) this.unsentRead.delete(conv);
		}
		for (const cid of [...this.pending.keys()]) this.transmit(cid);
	}

	private onMessage(ev: MessageEvent): void {
		if (typeof ev.data !== 'string' || ev.data.length > MAX_FRAME) return;
		let msg: EventMessage;
		try {
			msg = JSON.parse(ev.data) as EventMessage;
		} catch {
			return;
		}
		if (!msg || typeof msg !== 'object') return;
		switch (msg.type) {
			case 'hello':
				this.attempt = 0;
				if (typeof msg.user_id === 'number') this.onHello(msg.user_id, msg.seq);
				break;
			case 'resumed':
				this.onResumed(msg.seq);
				break;
			case 'event': {
				if (typeof msg.seq !== 'number') return;
				if (msg.seq <= this.seq) return; /* already processed (should not happen) */
				this.seq = msg.seq;
				emit({ type: 'frame', frame: msg });
				if (this.uid) saveSeq(this.uid, this.seq);
				break;
			}
			case 'ack': {
				const p = this.pending.get(msg.cid);
				if (!p) return;
				window.clearTimeout(p.timer);
				this.pending.delete(msg.cid);
				p.resolve(msg.msg);
				break;
			}
			case 'nack': {
				const p = this.pending.get(msg.cid);
				if (!p) return;
				window.clearTimeout(p.timer);
				if (RETRYABLE.has(msg.code) && p.tries < MAX_TRIES) {
					const wait = Math.min(60, Math.max(1, msg.retry_after ?? 2 * p.tries)) * 1000;
					p.timer = window.setTimeout(() => {
						if (this.resumed) this.transmit(msg.cid);
					}, wait);
					return;
				}
				this.pending.delete(msg.cid);
				p.reject(new SendError(msg.code, msg.message ?? msg.code, msg.retry_after));
				break;
			}
			case 'typing':
			case 'receipt':
			case 'presence':
				emit({ type: 'frame', frame: msg });
				break;
			case 'doc.state':
			case 'doc.ack':
			case 'doc.nack':
			case 'doc.op':
			case 'doc.cursor':
			case 'doc.left':
			case 'doc.reset':
			case 'doc.error':
			case 'doc.comment':
			case 'doc.policy':
				emitDoc({ type: 'frame', frame: msg as DocFrame });
				break;
			case 'error':
				console.warn('event stream error', msg.code, msg.message ?? '');
				break;
			case 'ping':
				this.send({ type: 'pong' });
				break;
			case 'security':
				if (msg.event === 'new_device') this.h.onNewDevice(String(msg.device?.name ?? ''), String(msg.device?.ip ?? ''));
				break;
			case 'session_ended':
				this.ended = true;
				this.closed = true;
				this.h.onSessionEnded(msg.reason);
				break;
			default:
				break;
		}
	}

	/** Sends a frame when the socket is open; returns whether it went out. */
	private send(obj: unknown, raw = false): boolean {
		if (this.ws?.readyState !== WebSocket.OPEN) return false;
		try {
			this.ws.send(raw ? (obj as string) : JSON.stringify(obj));
			return true;
		} catch {
			return false;
		}
	}
}
