// events.ts — the event WebSocket /api/v1/events (same origin; the cookie
// authenticates it).  Reconnects with exponential backoff and jitter
// (1 s … 30 s); before each reconnect it asks the server whether the session
// still exists, so an expired session ends on the sign-in screen instead of
// retrying forever.  Close code 4001 (after session_ended) is final.
import type { Schemas } from './api';

type EventMessage = Schemas['EventMessage'];

export interface EventHandlers {
	onSessionEnded(reason: Schemas['EventSessionEnded']['reason']): void;
	onNewDevice(name: string, ip: string): void;
	/** Resolves false when the session is gone (the handler shows sign-in). */
	stillSignedIn(): Promise<boolean>;
}

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
const STABLE_MS = 10_000;
const MAX_FRAME = 64 * 1024;

export class EventStream {
	private ws: WebSocket | null = null;
	private closed = false;
	private attempt = 0;
	private timer: number | undefined;
	private openedAt = 0;
	private ended = false;

	constructor(private readonly h: EventHandlers) {
		this.connect();
	}

	/** Stops for good (sign-out, session end); idempotent. */
	close(): void {
		this.closed = true;
		window.clearTimeout(this.timer);
		if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'bye');
		this.ws = null;
	}

	private connect(): void {
		if (this.closed) return;
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
			if (this.closed) return;
			if (ev.code === 4001 || this.ended) {
				this.closed = true;
				if (!this.ended) this.h.onSessionEnded('revoked');
				return;
			}
			if (this.openedAt && Date.now() - this.openedAt > STABLE_MS) this.attempt = 0;
			this.openedAt = 0;
			this.schedule();
		});
	}

	private schedule(): void {
		if (this.closed) return;
		const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
		const delay = base * (0.8 + Math.random() * 0.4);
		this.attempt = Math.min(this.attempt + 1, 10);
		this.timer = window.setTimeout(async () => {
			if (this.closed) return;
			if (!(await this.h.stillSignedIn())) {
				this.closed = true;
				return;
			}
			this.connect();
		}, delay);
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

	private send(obj: unknown): void {
		if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
	}
}
