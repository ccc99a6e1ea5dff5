// api.ts — the typed client for /api/v1 (WC-API).
//
// Types come from api-types.ts, which `npm run gen:api` generates from
// docs/openapi.yaml on every build, so a path, parameter or body that the
// description does not have fails the type check.
// The browser session is the HttpOnly cookie bw_ticket (JavaScript never
// sees the ticket); every state-changing request carries the CSRF token
// from login / GET /auth/session in X-CSRF-Token.
import type { components, paths } from './api-types';

export type Schemas = components['schemas'];
export type User = Schemas['User'];
export type Role = Schemas['Role'];
export type SessionInfo = Schemas['SessionInfo'];
export type ErrorCode = Schemas['ErrorCode'];
export type Conversation = Schemas['Conversation'];
export type ChatMessage = Schemas['ChatMessage'];
export type Member = Schemas['Member'];
export type UserRef = Schemas['UserRef'];
export type ConvSettings = Schemas['ConvSettings'];

type Method = 'get' | 'post' | 'put' | 'delete' | 'patch';
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type PathsWith<M extends Method> = {
	[P in keyof paths]-?: [NonNullable<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];

type BodyOf<O> = O extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type PathOf<O> = O extends { parameters: { path: infer Pp } } ? Pp : never;
type Responses<O> = O extends { responses: infer R } ? R : never;
type JsonOf<X> = X extends { content: { 'application/json': infer J } } ? J : null;
type OkOf<O> = JsonOf<Responses<O>[Extract<keyof Responses<O>, 200 | 201 | 204>]>;

type PathPart<O> = [PathOf<O>] extends [never] ? { path?: undefined } : { path: PathOf<O> };
type BodyPart<O> = [BodyOf<O>] extends [never] ? { body?: undefined } : { body: BodyOf<O> };
type QueryPart<O> = [QueryOf<O>] extends [never] ? { query?: undefined } : { query?: QueryOf<O> };

/** Options of one call: path parameters and body are required where the operation has them. */
export type CallOpts<O> = PathPart<O> &
	BodyPart<O> &
	QueryPart<O> & {
		/** Do not run the "session is gone" hook on 401 unauthenticated. */
		quiet401?: boolean;
	};
type Args<O> = {} extends CallOpts<O> ? [opts?: CallOpts<O>] : [opts: CallOpts<O>];

/** An HTTP or network failure; code is the API's stable error code. */
export class ApiError extends Error {
	readonly status: number;
	readonly code: ErrorCode | 'network' | 'bad_response';
	readonly reason?: Schemas['PasswordPolicyReason'];
	readonly lockedUntil?: number;
	readonly retryAfter?: number;
	/** The whole decoded error body (login's 403 carries a session in it). */
	readonly body: unknown;

	constructor(status: number, code: ApiError['code'], message: string, body: unknown, retryAfter?: number) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.body = body;
		this.retryAfter = retryAfter;
		const err = (body as { error?: Schemas['ErrorBody'] } | null)?.error;
		if (err) {
			this.reason = err.reason;
			this.lockedUntil = err.locked_until;
		}
	}
}

let csrfToken = '';
let onUnauthenticated: (() => void) | null = null;
const TIMEOUT_MS = 30_000;

/** Remembers the CSRF token sent on every state-changing request. */
export function setCsrf(token: string): void {
	csrfToken = token;
}

/** Sets the hook run when any call finds the session gone (401 unauthenticated). */
export function setUnauthenticatedHandler(fn: (() => void) | null): void {
	onUnauthenticated = fn;
}

function buildUrl(template: string, path?: object, query?: object): string {
	let url = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
		const v = (path as Record<string, unknown> | undefined)?.[name];
		if (v === undefined || v === null) throw new Error(`missing path parameter ${name}`);
		return encodeURIComponent(String(v));
	});
	if (query) {
		const qs = new URLSearchParams();
		for (const [k, v] of Object.entries(query)) {
			if (v === undefined || v === null || v === '') continue;
			qs.set(k, String(v));
		}
		const s = qs.toString();
		if (s) url += `?${s}`;
	}
	return url;
}

/**
 * Calls one operation of the API.  Resolves with the decoded success body
 * (null for 204); rejects with ApiError otherwise.
 */
export async function api<M extends Method, P extends PathsWith<M>>(
	method: M,
	path: P,
	...args: Args<Op<P, M>>
): Promise<OkOf<Op<P, M>>> {
	const opts = (args[0] ?? {}) as { path?: object; query?: object; body?: unknown; quiet401?: boolean };
	const url = buildUrl(path as string, opts.path, opts.query);
	const headers: Record<string, string> = { Accept: 'application/json' };
	if (method !== 'get') {
		if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
	}
	let body: string | undefined;
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(opts.body);
	}
	const ctl = new AbortController();
	const timer = window.setTimeout(() => ctl.abort(), TIMEOUT_MS);
	let res: Response;
	try {
		res = await fetch(url, {
			method: method.toUpperCase(),
			headers,
			body,
			credentials: 'same-origin',
			cache: 'no-store',
			redirect: 'error',
			signal: ctl.signal,
		});
	} catch (e) {
		throw new ApiError(0, 'network', e instanceof Error ? e.message : 'network error', null);
	} finally {
		window.clearTimeout(timer);
	}

	return decode<OkOf<Op<P, M>>>(res, !!opts.quiet401);
}

/** Turns a response into its decoded body, or throws ApiError. */
async function decode<T>(res: Response, quiet401: boolean): Promise<T> {
	let data: unknown = null;
	const type = res.headers.get('Content-Type') ?? '';
	if (res.status !== 204 && type.includes('application/json')) {
		try {
			data = await res.json();
		} catch {
			throw new ApiError(res.status, 'bad_response', 'response is not valid JSON', null);
		}
	}
	if (res.ok) return data as T;

	const err = (data as { error?: Schemas['ErrorBody'] } | null)?.error;
	const retry = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
	const e = new ApiError(
		res.status,
		err?.code ?? (res.status >= 500 ? 'internal' : 'bad_response'),
		err?.message ?? `HTTP ${res.status}`,
		data,
		Number.isFinite(retry) ? retry : undefined,
	);
	if (e.code === 'unauthenticated' && !quiet401 && onUnauthenticated) onUnauthenticated();
	throw e;
}

/**
 * PUT of raw bytes (an attachment chunk: PUT /api/v1/uploads/{upload_id}
 * ?offset=N, application/octet-stream), which the JSON-only api() cannot
 * send.  Same CSRF header, timeout and error decoding as api().
 */
export async function putUploadChunk(
	uploadId: string,
	offset: number,
	chunk: Blob,
	signal?: AbortSignal,
): Promise<{ received: number }> {
	const url = buildUrl('/api/v1/uploads/{upload_id}', { upload_id: uploadId }, { offset });
	const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/octet-stream' };
	if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
	const ctl = new AbortController();
	const timer = window.setTimeout(() => ctl.abort(), TIMEOUT_MS * 2);
	const onAbort = () => ctl.abort();
	signal?.addEventListener('abort', onAbort);
	let res: Response;
	try {
		res = await fetch(url, {
			method: 'PUT',
			headers,
			body: chunk,
			credentials: 'same-origin',
			cache: 'no-store',
			redirect: 'error',
			signal: ctl.signal,
		});
	} catch (e) {
		throw new ApiError(0, 'network', e instanceof Error ? e.message : 'network error', null);
	} finally {
		window.clearTimeout(timer);
		signal?.removeEventListener('abort', onAbort);
	}
	return decode<{ received: number }>(res, false);
}

/** URL of an attachment (GET; the cookie authenticates it; served as a download). */
export function fileUrl(id: number): string {
	return buildUrl('/api/v1/files/{id}', { id });
}

/** URL of an audit export download (GET; the cookie authenticates it). */
export function auditExportUrl(format: 'json' | 'syslog', since?: number, until?: number): string {
	return buildUrl('/api/v1/audit/export', undefined, { format, since, until });
}

/** URL of a document export (GET /api/v1/documents/{id}/export?format=md|html). */
export function docExportUrl(id: number, format: 'md' | 'html'): string {
	return buildUrl('/api/v1/documents/{id}/export', { id }, { format });
}

/**
 * GET of a file the server sends as an attachment rather than JSON (a
 * document export): the body as a Blob and the file name from
 * Content-Disposition.  Same cookie, timeout and error decoding as api()
 * (an error answer is JSON: export_forbidden, not_found, …).
 */
export async function fetchDownload(url: string): Promise<{ blob: Blob; filename: string | null }> {
	const ctl = new AbortController();
	const timer = window.setTimeout(() => ctl.abort(), TIMEOUT_MS * 2);
	let res: Response;
	try {
		res = await fetch(url, {
			method: 'GET',
			headers: { Accept: 'text/markdown, text/html, application/octet-stream, application/json;q=0.5' },
			credentials: 'same-origin',
			cache: 'no-store',
			redirect: 'error',
			signal: ctl.signal,
		});
		if (!res.ok) return await decode<never>(res, false);
		const blob = await res.blob();
		const cd = res.headers.get('Content-Disposition') ?? '';
		const m = /filename="([^"\\/]{1,200})"/.exec(cd);
		return { blob, filename: m ? m[1] : null };
	} catch (e) {
		if (e instanceof ApiError) throw e;
		throw new ApiError(0, 'network', e instanceof Error ? e.message : 'network error', null);
	} finally {
		window.clearTimeout(timer);
	}
}
