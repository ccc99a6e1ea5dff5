// chat-store.ts — the chat state of this tab: conversations, loaded
// messages, pending sends, members, typing, presence and read pointers
// (RG-IM-a/b/c).  It is fed by the HTTP API and by the event stream
// (events.ts onChat): every event is applied idempotently (messages are
// keyed by id, unread counts only grow for messages newer than the newest
// one known), so a resume that replays events already loaded over HTTP
// changes nothing.  One store per signed-in user; it is dropped when the
// event stream resets (sign-out).  Views subscribe with store.on().
import { ApiError, type ChatMessage, type Conversation, type Member, type SessionInfo, type UserRef, api } from './api';
import { type ChatFrame, type LinkState, SendError, chatLink, newCid, onChat } from './events';
import { t } from './i18n';

export type Conv = Conversation;
export type Msg = ChatMessage;

/** A message of ours that the server has not acknowledged (yet). */
export interface LocalMsg {
	cid: string;
	conv: number;
	body: string;
	reply_to: number;
	thread_root: number;
	created_at: number;
	state: 'sending' | 'failed';
	error?: string;
	/** Set when the stored copy already arrived as an event (the local one is then hidden). */
	matched?: number;
}

export interface ConvMsgs {
	byId: Map<number, Msg>;
	/** Ids of the contiguous, newest part of the history that is loaded (ascending). */
	timeline: number[];
	loaded: boolean;
	hasMore: boolean;
	loading: boolean;
	/** Thread root → reply ids loaded for the thread panel (ascending). */
	threads: Map<number, number[]>;
}

export type Change =
	| { kind: 'list' }
	| { kind: 'msgs'; conv: number }
	| { kind: 'typing'; conv: number }
	| { kind: 'members'; conv: number }
	| { kind: 'presence' }
	| { kind: 'receipt'; conv: number }
	| { kind: 'link' }
	| { kind: 'gone'; conv: number; why: 'leave' | 'dissolve' }
	| { kind: 'reset' };

const PAGE = 50;
const TYPING_MS = 6000;
/** Messages of at most this many members get "read by" marks. */
export const RECEIPT_GROUP_MAX = 20;

export class ChatStore {
	readonly me: SessionInfo['user'];
	readonly convs = new Map<number, Conv>();
	listLoaded = false;
	listError: unknown = null;
	readonly msgs = new Map<number, ConvMsgs>();
	readonly local = new Map<string, LocalMsg>();
	readonly members = new Map<number, Member[]>();
	private readonly membersLoading = new Map<number, Promise<Member[]>>();
	readonly users = new Map<number, UserRef>();
	readonly presence = new Map<number, boolean>();
	/** conv → user → expiry (ms). */
	readonly typing = new Map<number, Map<number, number>>();
	/** conv → user → newest message id they read (live receipts). */
	readonly receipts = new Map<number, Map<number, number>>();
	readonly drafts = new Map<number, string>();
	link: LinkState = 'connecting';
	/** The conversation on screen (reads are sent for it while the page is visible). */
	openConv = 0;
	private readonly listeners = new Set<(c: Change) => void>();
	private listLoading: Promise<void> | null = null;
	private readonly refetching = new Map<number, Promise<void>>();
	private readonly refetchAgain = new Set<number>();
	private typingTimer: number | undefined;

	constructor(me: SessionInfo['user']) {
		this.me = me;
		this.users.set(me.id, { id: me.id, username: me.username, display_name: me.display_name ?? null });
	}

	on(fn: (c: Change) => void): () => void {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	}

	private emit(c: Change): void {
		for (const fn of [...this.listeners]) {
			try {
				fn(c);
			} catch (e) {
				console.warn('chat view failed', e);
			}
		}
	}

	// ---- names ----

	/** Display name of a user ("User #7" while unknown). */
	nameOf(id: number): string {
		const u = this.users.get(id);
		if (u) return u.display_name || u.username;
		return t('chat.userN', { id });
	}

	usernameOf(id: number): string | null {
		return this.users.get(id)?.username ?? null;
	}

	learnUser(u: UserRef): void {
		this.users.set(u.id, u);
		if (typeof u.online === 'boolean') this.presence.set(u.id, u.online);
	}

	/** Title of a conversation (the peer's name for direct chats). */
	convTitle(c: Conv): string {
		if (c.kind === 'direct' && c.peer) return c.peer.display_name || c.peer.username;
		return c.name || t('chat.untitled');
	}

	// ---- list ----

	/** Conversations, newest activity first (pending ones last). */
	sorted(): Conv[] {
		const at = (c: Conv) => Math.max(c.last_msg?.created_at ?? 0, c.last_activity ?? 0, c.created_at);
		return [...this.convs.values()].sort((a, b) => at(b) - at(a) || b.id - a.id);
	}

	totalUnread(): number {
		let n = 0;
		for (const c of this.convs.values()) if (c.my_status === 'active') n += c.unread;
		return n;
	}

	loadList(): Promise<void> {
		if (this.listLoading) return this.listLoading;
		this.listLoading = (async () => {
			try {
				const r = await api('get', '/api/v1/conversations');
				const seen = new Set<number>();
				for (const c of r.conversations) {
					seen.add(c.id);
					this.putConv(c);
				}
				for (const id of [...this.convs.keys()]) if (!seen.has(id)) this.convs.delete(id);
				this.listLoaded = true;
				this.listError = null;
			} catch (e) {
				this.listError = e;
			} finally {
				this.listLoading = null;
				this.emit({ kind: 'list' });
			}
		})();
		return this.listLoading;
	}

	private putConv(c: Conv): void {
		const old = this.convs.get(c.id);
		if (c.peer) this.learnUser(c.peer);
		if (old && old.last_msg && c.last_msg && old.last_msg.id > c.last_msg.id) c.last_msg = old.last_msg;
		this.convs.set(c.id, c);
		if (c.last_msg) this.putMsg(c.last_msg, false);
	}

	/**
	 * Fetches one conversation again (after membership or settings changes).
	 * Calls while one is running coalesce into one more fetch, and every
	 * caller's promise settles after the fetch that started after its call.
	 */
	refetchConv(id: number): Promise<void> {
		const running = this.refetching.get(id);
		if (running) {
			this.refetchAgain.add(id);
			return running.then(() => this.refetching.get(id));
		}
		const p = (async () => {
			try {
				const r = await api('get', '/api/v1/conversations/{id}', { path: { id } });
				const c = r.conversation;
				const old = this.convs.get(id);
				/* our counters may be ahead of the server's answer (events and reads applied meanwhile) */
				if (old && old.last_read > c.last_read) {
					c.last_read = old.last_read;
					c.unread = old.unread;
				} else if (old && old.last_msg && c.last_msg && old.last_msg.id > c.last_msg.id) {
					c.unread = old.unread;
				}
				this.putConv(c);
				this.emit({ kind: 'list' });
				this.emit({ kind: 'msgs', conv: id });
			} catch (e) {
				if (e instanceof ApiError && (e.code === 'not_found' || e.code === 'forbidden')) this.forget(id, 'leave');
			}
		})().finally(() => {
			this.refetching.delete(id);
			if (this.refetchAgain.delete(id)) void this.refetchConv(id);
		});
		this.refetching.set(id, p);
		return p;
	}

	/** Adds a conversation the caller just created or joined. */
	adopt(c: Conv): void {
		this.putConv(c);
		this.emit({ kind: 'list' });
	}

	private forget(id: number, why: 'leave' | 'dissolve'): void {
		if (!this.convs.has(id)) return;
		this.convs.delete(id);
		this.msgs.delete(id);
		this.members.delete(id);
		this.emit({ kind: 'list' });
		this.emit({ kind: 'gone', conv: id, why });
	}

	// ---- messages ----

	convMsgs(conv: number): ConvMsgs {
		let m = this.msgs.get(conv);
		if (!m) {
			m = { byId: new Map(), timeline: [], loaded: false, hasMore: true, loading: false, threads: new Map() };
			this.msgs.set(conv, m);
		}
		return m;
	}

	/** Loads the newest page of a conversation (once). */
	async ensureMessages(conv: number): Promise<void> {
		const m = this.convMsgs(conv);
		if (m.loaded || m.loading) return;
		m.loading = true;
		try {
			const r = await api('get', '/api/v1/conversations/{id}/messages', { path: { id: conv }, query: { limit: PAGE } });
			for (const msg of r.messages) m.byId.set(msg.id, msg);
			/* live events that came in while loading are newer; keep them */
			const ids = new Set(m.timeline);
			for (const msg of r.messages) ids.add(msg.id);
			m.timeline = [...ids].sort((a, b) => a - b);
			m.hasMore = r.has_more;
			m.loaded = true;
		} finally {
			m.loading = false;
			this.emit({ kind: 'msgs', conv });
		}
	}

	/** Loads the page before the oldest loaded message; resolves false at the start. */
	async loadOlder(conv: number): Promise<boolean> {
		const m = this.convMsgs(conv);
		if (!m.loaded || !m.hasMore || m.loading) return false;
		const before = m.timeline[0];
		if (!before) {
			m.hasMore = false;
			return false;
		}
		m.loading = true;
		this.emit({ kind: 'msgs', conv });
		try {
			const r = await api('get', '/api/v1/conversations/{id}/messages', {
				path: { id: conv },
				query: { before, limit: PAGE },
			});
			for (const msg of r.messages) m.byId.set(msg.id, msg);
			const ids = new Set(m.timeline);
			for (const msg of r.messages) ids.add(msg.id);
			m.timeline = [...ids].sort((a, b) => a - b);
			m.hasMore = r.has_more && r.messages.length > 0;
			return r.messages.length > 0;
		} finally {
			m.loading = false;
			this.emit({ kind: 'msgs', conv });
		}
	}

	/** Loads a thread (root and replies) for the thread panel. */
	async loadThread(conv: number, root: number): Promise<void> {
		const m = this.convMsgs(conv);
		const r = await api('get', '/api/v1/conversations/{id}/messages', {
			path: { id: conv },
			query: { thread: root, limit: 100 },
		});
		const ids = new Set(m.threads.get(root) ?? []);
		for (const msg of r.messages) {
			m.byId.set(msg.id, msg);
			if (msg.id !== root) ids.add(msg.id);
		}
		m.threads.set(root, [...ids].sort((a, b) => a - b));
		this.emit({ kind: 'msgs', conv });
	}

	/** A message known to the store, if any. */
	msg(conv: number, id: number): Msg | undefined {
		return this.msgs.get(conv)?.byId.get(id);
	}

	/** Replies to root that are loaded (thread panel, or seen in the timeline). */
	threadReplies(conv: number, root: number): Msg[] {
		const m = this.msgs.get(conv);
		if (!m) return [];
		const ids = new Set(m.threads.get(root) ?? []);
		for (const id of m.timeline) {
			const x = m.byId.get(id);
			if (x && x.thread_root === root) ids.add(id);
		}
		return [...ids]
			.sort((a, b) => a - b)
			.map((id) => m.byId.get(id))
			.filter((x): x is Msg => !!x);
	}

	/**
	 * Stores a message.  live: it arrived as an event or ack and belongs at
	 * the end of the timeline.  Returns whether it was new to the store.
	 */
	private putMsg(msg: Msg, live: boolean): boolean {
		const m = this.convMsgs(msg.conv);
		const isNew = !m.byId.has(msg.id);
		m.byId.set(msg.id, msg);
		if (live && m.loaded && !m.timeline.includes(msg.id)) {
			const tl = m.timeline;
			let i = tl.length;
			while (i > 0 && tl[i - 1] > msg.id) i--;
			tl.splice(i, 0, msg.id);
		}
		if (live && msg.thread_root) {
			const th = m.threads.get(msg.thread_root);
			if (th && !th.includes(msg.id)) {
				th.push(msg.id);
				th.sort((a, b) => a - b);
			}
		}
		const c = this.convs.get(msg.conv);
		if (c && (!c.last_msg || c.last_msg.id <= msg.id)) c.last_msg = msg;
		return isNew;
	}

	private onNewMessage(msg: Msg): void {
		const c = this.convs.get(msg.conv);
		const newest = c?.last_msg?.id ?? 0;
		const wasKnown = !!this.msgs.get(msg.conv)?.byId.has(msg.id);
		this.putMsg(msg, true);
		if (msg.sender === this.me.id) this.matchLocal(msg);
		if (!c) {
			void this.refetchConv(msg.conv);
			return;
		}
		const fresh = !wasKnown && msg.id > newest && msg.id > c.last_read;
		if (fresh && msg.sender !== this.me.id) {
			if (this.isViewing(msg.conv)) this.markRead(msg.conv);
			else c.unread += 1;
		}
		/* someone who sends has read everything before */
		this.noteReceipt(msg.conv, msg.sender, msg.id);
		this.clearTyping(msg.conv, msg.sender);
		this.emit({ kind: 'msgs', conv: msg.conv });
		this.emit({ kind: 'list' });
	}

	private matchLocal(msg: Msg): void {
		if (msg.cid && this.local.has(msg.cid)) {
			this.local.delete(msg.cid);
			return;
		}
		for (const l of this.local.values()) {
			if (l.conv === msg.conv && l.state === 'sending' && !l.matched && l.body === msg.body) {
				l.matched = msg.id;
				return;
			}
		}
	}

	/** Local (unacknowledged) messages of a conversation, oldest first. */
	localMsgs(conv: number, threadRoot?: number): LocalMsg[] {
		return [...this.local.values()].filter(
			(l) => l.conv === conv && !l.matched && (threadRoot === undefined || l.thread_root === threadRoot),
		);
	}

	// ---- sending ----

	/** Sends a message over the event stream (HTTP when there is none). */
	send(conv: number, body: string, o: { reply_to?: number; thread_root?: number; cid?: string } = {}): string {
		const cid = o.cid ?? newCid();
		const l: LocalMsg = {
			cid,
			conv,
			body,
			reply_to: o.reply_to ?? 0,
			thread_root: o.thread_root ?? 0,
			created_at: Math.floor(Date.now() / 1000),
			state: 'sending',
		};
		this.local.set(cid, l);
		this.emit({ kind: 'msgs', conv });
		const done = (msg: Msg) => {
			this.local.delete(cid);
			this.onNewMessage(msg);
			this.markRead(conv, msg.id);
		};
		const fail = (code: string) => {
			const cur = this.local.get(cid);
			if (!cur) return;
			cur.state = 'failed';
			cur.matched = undefined;
			cur.error = code;
			this.emit({ kind: 'msgs', conv });
		};
		const link = chatLink();
		const viaHttp = () => {
			api('post', '/api/v1/conversations/{id}/messages', {
				path: { id: conv },
				body: { body, cid, reply_to: l.reply_to, thread_root: l.thread_root },
			})
				.then((r) => done(r.message))
				.catch((e: unknown) => fail(e instanceof ApiError ? e.code : 'network'));
		};
		if (!link) {
			viaHttp();
			return cid;
		}
		link
			.sendMessage({ conv, body, reply_to: l.reply_to, thread_root: l.thread_root, cid })
			.done.then(done)
			.catch((e: unknown) => {
				if (e instanceof SendError && e.code === 'too_large' && e.message === 'message too large') {
					/* the frame is over 16 KiB (escaping); HTTP takes up to 64 KiB */
					viaHttp();
					return;
				}
				fail(e instanceof SendError ? e.code : 'network');
			});
		return cid;
	}

	retry(cid: string): void {
		const l = this.local.get(cid);
		if (!l || l.state !== 'failed') return;
		this.local.delete(cid);
		this.send(l.conv, l.body, { reply_to: l.reply_to, thread_root: l.thread_root, cid });
	}

	discard(cid: string): void {
		const l = this.local.get(cid);
		if (!l) return;
		this.local.delete(cid);
		this.emit({ kind: 'msgs', conv: l.conv });
	}

	/** Applies a message returned by an HTTP call (edit, recall, upload, forward). */
	applyMessage(msg: Msg): void {
		const known = !!this.msgs.get(msg.conv)?.byId.has(msg.id);
		if (known) {
			this.putMsg(msg, false);
			this.emit({ kind: 'msgs', conv: msg.conv });
			this.emit({ kind: 'list' });
		} else {
			this.onNewMessage(msg);
		}
	}

	private recall(conv: number, id: number): void {
		const m = this.msgs.get(conv)?.byId.get(id);
		const c = this.convs.get(conv);
		const gone = (x: Msg): Msg => ({
			...x,
			recalled: true,
			body: undefined,
			html: undefined,
			file: null,
			links: [],
			reactions: {},
		});
		if (m) this.msgs.get(conv)?.byId.set(id, gone(m));
		if (c?.last_msg && c.last_msg.id === id) c.last_msg = gone(c.last_msg);
		this.emit({ kind: 'msgs', conv });
		this.emit({ kind: 'list' });
	}

	setReactions(conv: number, id: number, reactions: Msg['reactions']): void {
		const m = this.msgs.get(conv)?.byId.get(id);
		if (m) m.reactions = reactions;
		this.emit({ kind: 'msgs', conv });
	}

	// ---- reading ----

	/** Whether the user is looking at this conversation right now. */
	isViewing(conv: number): boolean {
		return this.openConv === conv && document.visibilityState === 'visible';
	}

	/** Moves the read pointer to upTo (default: the newest message). */
	markRead(conv: number, upTo?: number): void {
		const c = this.convs.get(conv);
		if (!c || c.my_status !== 'active') return;
		const newest = upTo ?? Math.max(c.last_msg?.id ?? 0, ...(this.msgs.get(conv)?.timeline.slice(-1) ?? []));
		if (!newest) return;
		const changed = c.unread !== 0;
		if (newest > c.last_read) {
			c.last_read = newest;
			const link = chatLink();
			if (link) link.read(conv, newest);
			else void api('post', '/api/v1/conversations/{id}/read', { path: { id: conv }, body: { msg: newest } }).catch(() => {});
		}
		if (newest >= (c.last_msg?.id ?? 0)) c.unread = 0;
		if (changed) this.emit({ kind: 'list' });
	}

	private noteReceipt(conv: number, user: number, msg: number): void {
		let r = this.receipts.get(conv);
		if (!r) {
			r = new Map();
			this.receipts.set(conv, r);
		}
		if ((r.get(user) ?? 0) < msg) r.set(user, msg);
	}

	/** How many other members have read message id (live receipts only). */
	readBy(conv: number, id: number): number {
		const r = this.receipts.get(conv);
		if (!r) return 0;
		let n = 0;
		for (const [u, m] of r) if (u !== this.me.id && m >= id) n++;
		return n;
	}

	// ---- typing, presence ----

	typingUsers(conv: number): number[] {
		const m = this.typing.get(conv);
		if (!m) return [];
		const now = Date.now();
		return [...m.entries()].filter(([, exp]) => exp > now).map(([u]) => u);
	}

	private clearTyping(conv: number, user: number): void {
		const m = this.typing.get(conv);
		if (m?.delete(user)) this.emit({ kind: 'typing', conv });
	}

	private onTyping(conv: number, user: number): void {
		if (user === this.me.id) return;
		let m = this.typing.get(conv);
		if (!m) {
			m = new Map();
			this.typing.set(conv, m);
		}
		m.set(user, Date.now() + TYPING_MS);
		this.emit({ kind: 'typing', conv });
		window.clearTimeout(this.typingTimer);
		this.typingTimer = window.setTimeout(() => {
			const now = Date.now();
			for (const [cv, users] of this.typing) {
				let changed = false;
				for (const [u, exp] of users) {
					if (exp <= now) {
						users.delete(u);
						changed = true;
					}
				}
				if (changed) this.emit({ kind: 'typing', conv: cv });
			}
		}, TYPING_MS + 100);
	}

	isOnline(user: number): boolean | undefined {
		return this.presence.get(user);
	}

	// ---- members ----

	/** Members of a conversation (cached; reload forces a fetch). */
	loadMembers(conv: number, reload = false): Promise<Member[]> {
		const have = this.members.get(conv);
		if (have && !reload) return Promise.resolve(have);
		const running = this.membersLoading.get(conv);
		if (running) return running;
		const p = api('get', '/api/v1/conversations/{id}/members', { path: { id: conv } })
			.then((r) => {
				for (const mem of r.members) {
					this.learnUser({
						id: mem.user_id,
						username: mem.username,
						display_name: mem.display_name,
						online: mem.online,
					});
				}
				this.members.set(conv, r.members);
				this.emit({ kind: 'members', conv });
				this.emit({ kind: 'msgs', conv });
				if (r.members.some((mem) => typeof mem.online === 'boolean')) this.emit({ kind: 'presence' });
				return r.members;
			})
			.finally(() => this.membersLoading.delete(conv));
		this.membersLoading.set(conv, p);
		return p;
	}

	// ---- the event stream ----

	setLink(s: LinkState, fresh: boolean): void {
		this.link = s;
		this.emit({ kind: 'link' });
		if (s === 'online' && (fresh || !this.listLoaded)) {
			/* first connection of the tab: state may have moved since the HTTP load */
			void this.loadList();
			for (const [conv, m] of this.msgs) {
				if (m.loaded && conv === this.openConv) {
					m.loaded = false;
					void this.ensureMessages(conv);
				}
			}
		}
		if (s === 'online' && this.openConv) this.markRead(this.openConv);
	}

	apply(f: ChatFrame): void {
		switch (f.type) {
			case 'typing':
				this.onTyping(f.conv, f.user);
				return;
			case 'receipt': {
				if (f.user === this.me.id) {
					/* read on another device */
					const c = this.convs.get(f.conv);
					if (c && f.msg > c.last_read) {
						c.last_read = f.msg;
						if (f.msg >= (c.last_msg?.id ?? 0)) c.unread = 0;
						this.emit({ kind: 'list' });
					}
					return;
				}
				this.noteReceipt(f.conv, f.user, f.msg);
				this.emit({ kind: 'receipt', conv: f.conv });
				return;
			}
			case 'presence':
				this.presence.set(f.user, f.online);
				this.emit({ kind: 'presence' });
				return;
			case 'event':
				this.applyEvent(f);
				return;
			default:
				return;
		}
	}

	private applyEvent(f: Extract<ChatFrame, { type: 'event' }>): void {
		const convId = f.conv;
		switch (f.kind) {
			case 'message':
				if (f.msg) this.onNewMessage(f.msg);
				return;
			case 'message.edit':
				if (f.msg) this.applyMessage(f.msg);
				return;
			case 'message.recall': {
				const id = f.msg_id ?? f.msg?.id;
				if (id) this.recall(convId || (f.msg?.conv ?? 0), id);
				return;
			}
			case 'reaction': {
				const id = f.msg_id ?? f.msg?.id;
				if (id && f.reactions) this.setReactions(convId, id, f.reactions);
				return;
			}
			case 'conv.new':
			case 'conv.update': {
				/* the payload is what all members share; merge it, then fetch our own view (role, status, counters) */
				const shared = f.conversation;
				const old = this.convs.get(convId);
				if (old && shared) {
					if (shared.name !== undefined) old.name = shared.name;
					if (shared.topic !== undefined) old.topic = shared.topic;
					if (shared.settings) old.settings = { ...old.settings, ...shared.settings };
					if (typeof shared.member_count === 'number') old.member_count = shared.member_count;
					if (typeof shared.legal_hold === 'boolean') old.legal_hold = shared.legal_hold;
					if (typeof shared.last_activity === 'number') old.last_activity = shared.last_activity;
					this.emit({ kind: 'list' });
					this.emit({ kind: 'msgs', conv: convId });
				}
				if (convId) void this.refetchConv(convId);
				return;
			}
			case 'conv.member':
				if (!convId) return;
				if (f.user_id && f.user_id !== this.me.id) this.clearTyping(convId, f.user_id);
				void this.refetchConv(convId);
				if (this.members.has(convId)) void this.loadMembers(convId, true);
				return;
			case 'conv.leave':
				this.forget(convId, 'leave');
				return;
			case 'conv.dissolve':
				this.forget(convId, 'dissolve');
				return;
			default:
				return;
		}
	}

	reset(): void {
		window.clearTimeout(this.typingTimer);
		this.emit({ kind: 'reset' });
		this.listeners.clear();
	}
}

let store: ChatStore | null = null;

onChat((s) => {
	if (s.type === 'reset') {
		store?.reset();
		store = null;
		return;
	}
	if (!store) return;
	if (s.type === 'state') {
		if (s.userId && s.userId !== store.me.id) return;
		store.setLink(s.state, s.fresh);
		return;
	}
	store.apply(s.frame);
});

/** The store of the signed-in user (made, and its list loaded, on first use). */
export function chatStore(session: SessionInfo): ChatStore {
	if (!store || store.me.id !== session.user.id) {
		store?.reset();
		store = new ChatStore(session.user);
		const link = chatLink();
		if (link) store.link = link.linkState;
		void store.loadList();
	}
	return store;
}

/** The store, if one exists (no loading). */
export function currentChatStore(): ChatStore | null {
	return store;
}
