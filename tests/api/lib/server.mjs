// tests/api/lib/server.mjs — harness for the black-box API tests.
//
// Starts the REAL bulwark binary ($BULWARK_BIN, default build/asan/bulwark)
// on a throwaway data directory and a free loopback port, talks HTTPS to it
// with its self-signed certificate trusted explicitly (verification stays on),
// moves its clock through the test-build clock file ($BULWARK_TEST_CLOCK),
// and on shutdown fails if the process reported a sanitizer error.
//
// Requirement IDs exercised by the suites: PS-IA-a..f, PS-AC-a..d, PS-LOG-a..d,
// PS-COM-a..c, PS-PI-d/h, RG-COMM-a, RG-APP-e, WC-TICKET, WC-STORE.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.BULWARK_BIN || path.join(ROOT, 'build/asan/bulwark');
export const WEB_DIR = path.join(ROOT, 'web/dist');

const require = createRequire(import.meta.url);
function loadWs() {
	try {
		return require('ws');          // NODE_PATH=web/node_modules (tests/check.sh)
	} catch {
		return require(path.join(ROOT, 'web/node_modules/ws'));
	}
}
export const WebSocket = loadWs();

export const SANITIZER_RE = /ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: UndefinedBehaviorSanitizer/;

// Sanitizer settings when the caller (tests/run-api.sh, tests/check.sh) set none.
const CHILD_ENV = {
	...process.env,
	ASAN_OPTIONS: process.env.ASAN_OPTIONS ||
		'detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0',
	UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function randomHex(n = 6) {
	return crypto.randomBytes(n).toString('hex');
}

// A password meeting the default policy (12+, 3+ classes, not common, no username).
export function strongPassword() {
	return `Kx7!${randomHex(6)}Qz#w`;
}

export function assertNoSanitizer(text, what) {
	const m = SANITIZER_RE.exec(text || '');
	if (m) {
		const at = Math.max(0, m.index - 200);
		assert.fail(`${what}: sanitizer report:\n${text.slice(at, at + 4000)}`);
	}
}

// Runs the binary synchronously (CLI); never throws on a non-zero exit, but
// fails on a sanitizer report.  Returns { code, stdout, stderr }.
export function runBin(args, { input, env, allowSanitizer = false, timeout = 60000 } = {}) {
	const r = spawnSync(BIN, args, {
		cwd: ROOT, env: { ...CHILD_ENV, ...(env || {}) }, input, encoding: 'utf8', timeout,
		maxBuffer: 64 * 1024 * 1024,
	});
	if (r.error)
		throw r.error;
	if (!allowSanitizer)
		assertNoSanitizer(r.stderr, `bulwark ${args.join(' ')}`);
	return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function binExists() {
	try {
		fs.accessSync(BIN, fs.constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

// TOTP code for a base32 secret at unix time `at` (seconds), by the real oathtool.
export function totpCode(secret, at) {
	const d = new Date(Math.floor(at) * 1000);
	const p = (n) => String(n).padStart(2, '0');
	const stamp = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
		`${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
	const r = spawnSync('oathtool', ['--totp', '-b', secret, '--now', stamp], { encoding: 'utf8' });
	if (r.status !== 0)
		throw new Error(`oathtool failed: ${r.stderr}`);
	const code = r.stdout.trim();
	assert.match(code, /^\d{6}$/);
	return code;
}

async function portIsFree(port) {
	return new Promise((resolve) => {
		const s = net.createServer();
		s.once('error', () => resolve(false));
		s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
	});
}

// Checks an error answer: status, JSON content type, {"error":{"code","message"}}.
// Only the restricted-login answers may carry members besides "error".
export function assertError(res, status, code, what = '') {
	const ctx = `${what} ${res.method || ''} ${res.path || ''} -> ${res.status} ${res.text?.slice(0, 400)}`;
	assert.equal(res.status, status, `status ${ctx}`);
	assert.match(res.headers['content-type'] || '', /^application\/json/, `content-type ${ctx}`);
	assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `JSON object body ${ctx}`);
	const err = res.json.error;
	assert.ok(err && typeof err === 'object', `error object ${ctx}`);
	assert.equal(typeof err.code, 'string', `error.code ${ctx}`);
	assert.equal(typeof err.message, 'string', `error.message ${ctx}`);
	assert.ok(err.message.length > 0, `error.message non-empty ${ctx}`);
	if (code !== undefined)
		assert.equal(err.code, code, `error.code ${ctx}`);
	const restricted = res.json.scope !== undefined &&
		(err.code === 'password_change_required' || err.code === 'mfa_enrolment_required');
	if (!restricted)
		assert.deepEqual(Object.keys(res.json), ['error'], `only "error" at top level ${ctx}`);
	return err;
}

export function assertStatus(res, status, what = '') {
	assert.equal(res.status, status,
		`${what} ${res.method} ${res.path} -> ${res.status} ${res.text?.slice(0, 400)}`);
	return res.json;
}

// Parses Set-Cookie headers into { name: { value, attrs: Set(lowercased), raw } }.
export function parseSetCookies(headers) {
	const out = {};
	for (const raw of [].concat(headers['set-cookie'] || [])) {
		const parts = raw.split(';').map((s) => s.trim());
		const [nv, ...attrs] = parts;
		const eq = nv.indexOf('=');
		out[nv.slice(0, eq)] = {
			value: nv.slice(eq + 1), raw,
			attrs: new Set(attrs.map((a) => a.toLowerCase())),
		};
	}
	return out;
}

// A WebSocket client with a message queue.
export class WsClient {
	constructor(ws) {
		this.ws = ws;
		this.messages = [];
		this.waiters = [];
		this.closeInfo = null;
		this.closed = new Promise((resolve) => {
			ws.on('close', (code, reason) => {
				this.closeInfo = { code, reason: reason.toString() };
				resolve(this.closeInfo);
				for (const w of this.waiters)
					w.check();
			});
		});
		ws.on('message', (data, isBinary) => {
			let m;
			try {
				m = isBinary ? { binary: true } : JSON.parse(data.toString());
			} catch {
				m = { unparsable: data.toString() };
			}
			this.messages.push(m);
			for (const w of [...this.waiters])
				w.check();
		});
		ws.on('error', () => {});
	}

	// Resolves with the first message (received so far or later) matching pred.
	next(pred, ms = 5000, what = 'message') {
		return new Promise((resolve, reject) => {
			const w = {
				check: () => {
					const i = this.messages.findIndex(pred);
					if (i >= 0) {
						const [m] = this.messages.splice(i, 1);
						done();
						resolve(m);
					} else if (this.closeInfo) {
						done();
						reject(new Error(`socket closed (${this.closeInfo.code}) before ${what}; got ${JSON.stringify(this.messages)}`));
					}
				},
			};
			const timer = setTimeout(() => {
				done();
				reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(this.messages)}`));
			}, ms);
			const done = () => {
				clearTimeout(timer);
				this.waiters = this.waiters.filter((x) => x !== w);
			};
			this.waiters.push(w);
			w.check();
		});
	}

	async waitClose(ms = 10000) {
		let timer;
		const t = new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms);
		});
		try {
			return await Promise.race([this.closed, t]);
		} finally {
			clearTimeout(timer);
		}
	}

	send(obj) {
		this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
	}

	close() {
		try {
			this.ws.terminate();
		} catch { /* already gone */ }
	}
}

export class Server {
	constructor() {
		this.dir = null;
		this.port = 0;
		this.proc = null;
		this.stderr = '';
		this.stdout = '';
		this.exit = null;       // { code, signal } once exited
		this.offset = 0;        // test-clock offset, seconds
		this.accounts = {};     // tenant -> username -> { username, role, password, ... }
		this.ca = null;
		this.stopped = false;
		this.shutdownErrors = [];   // unclean stops during restart(), reported by finish()
	}

	// Creates a data directory with tenant "acme" (and more via opts.tenants)
	// and starts the server.  opts.start=false only initialises.
	static async start({ tenants = [], start = true, extraArgs = [] } = {}) {
		if (!binExists())
			throw new Error(`${BIN} does not exist or is not executable (build it: make build/asan/bulwark)`);
		const s = new this();   // subclasses (the browser harness) get their own kind
		s.extraArgs = extraArgs;   // more `bulwark serve` options (e.g. --clamd)
		s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-test-'));
		try {
			await s.setup(tenants, start);
		} catch (e) {
			await s.dispose();
			throw e;
		}
		return s;
	}

	// bulwark init (+ tenant add for each extra tenant), the clock file, launch.
	async setup(tenants, start) {
		const s = this;
		const init = runBin(['init', '--data', s.dir, '--tenant', 'acme', '--json']);
		if (init.code !== 0)
			throw new Error(`bulwark init failed (${init.code}): ${init.stderr}`);
		s.addAccounts(JSON.parse(init.stdout));
		for (const t of tenants) {
			const r = runBin(['tenant', 'add', t, '--data', s.dir, '--json']);
			if (r.code !== 0)
				throw new Error(`bulwark tenant add ${t} failed (${r.code}): ${r.stderr}`);
			s.addAccounts(JSON.parse(r.stdout));
		}
		s.ca = fs.readFileSync(path.join(s.dir, 'tls/cert.pem'));
		s.writeClock();
		if (start)
			await s.launch();
	}

	addAccounts(j) {
		assert.equal(typeof j.tenant, 'string');
		assert.ok(Array.isArray(j.accounts) && j.accounts.length === 3, 'three preset accounts');
		const t = (this.accounts[j.tenant] ||= {});
		for (const a of j.accounts)
			t[a.username] = { tenant: j.tenant, username: a.username, role: a.role, password: a.password };
	}

	get clockPath() {
		return path.join(this.dir, 'clock');
	}

	writeClock() {
		const tmp = `${this.clockPath}.tmp`;
		fs.writeFileSync(tmp, `${this.offset}\n`, { mode: 0o644 });
		fs.renameSync(tmp, this.clockPath);
	}

	// Moves the server's clock forward by secs (waits until it re-read it).
	async advance(secs) {
		this.offset += secs;
		this.writeClock();
		await sleep(150);
	}

	// The server's idea of now, in unix seconds (fractional).
	now() {
		return Date.now() / 1000 + this.offset;
	}

	async launch() {
		let lastErr;
		for (let attempt = 0; attempt < 6; attempt++) {
			const port = 20000 + Math.floor(Math.random() * 12000);
			if (!(await portIsFree(port)))
				continue;
			try {
				await this.spawnOn(port);
				return;
			} catch (e) {
				lastErr = e;
				if (this.proc && this.exit === null) {
					this.proc.kill('SIGKILL');
					await this.exited;
				}
				assertNoSanitizer(this.stderr, 'bulwark serve (start)');
				if (!/cannot listen|address already in use/i.test(this.stderr))
					throw e;
			}
		}
		throw lastErr || new Error('no free port found');
	}

	spawnOn(port) {
		this.port = port;
		this.stderr = '';
		this.stdout = '';
		this.exit = null;
		this.stopped = false;
		const args = ['serve', '--data', this.dir, '--listen', `127.0.0.1:${port}`, '--web', WEB_DIR, ...(this.extraArgs || [])];
		const proc = spawn(BIN, args, {
			cwd: ROOT, env: { ...CHILD_ENV, BULWARK_TEST_CLOCK: this.clockPath },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		this.proc = proc;
		proc.stdout.on('data', (d) => { this.stdout += d; });
		proc.stderr.on('data', (d) => { this.stderr += d; });
		this.exited = new Promise((resolve) => {
			proc.on('exit', (code, signal) => {
				this.exit = { code, signal };
				resolve(this.exit);
			});
		});
		return this.waitHealthy(30000);
	}

	async waitHealthy(ms) {
		const deadline = Date.now() + ms;
		for (;;) {
			if (this.exit)
				throw new Error(`bulwark serve exited (${JSON.stringify(this.exit)}) before answering:\n${this.stderr}`);
			try {
				const r = await this.request('GET', '/api/v1/health', { timeout: 2000, quick: true });
				if (r.status === 200)
					return;
			} catch { /* not listening yet */ }
			if (Date.now() > deadline)
				throw new Error(`bulwark serve not healthy within ${ms} ms:\n${this.stderr}`);
			await sleep(100);
		}
	}

	// SIGTERM, wait, and fail on an unclean exit or a sanitizer report.
	async stop({ keepDir = true } = {}) {
		if (!this.proc)
			return null;
		const proc = this.proc;
		if (this.exit === null) {
			proc.kill('SIGTERM');
			const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
			await this.exited;
			clearTimeout(t);
		}
		this.proc = null;
		this.stopped = true;
		assertNoSanitizer(this.stderr, 'bulwark serve');
		assert.deepEqual(this.exit, { code: 0, signal: null },
			`bulwark serve should exit 0 on SIGTERM; stderr:\n${this.stderr.slice(-4000)}`);
		if (!keepDir)
			this.cleanup();
		return this.exit;
	}

	// Stops and starts again (new port, same data).  An unclean stop is
	// recorded and reported by finish(), so the file's other tests still run.
	async restart() {
		try {
			await this.stop();
		} catch (e) {
			this.shutdownErrors.push(e.message);
		}
		await this.launch();
	}

	// The last test of each file: clean SIGTERM shutdown now and before.
	async finish() {
		assert.ok(this.proc, 'the server should still be running at the end of the file');
		await this.stop();
		assert.deepEqual(this.shutdownErrors, [], 'earlier restarts were clean');
	}

	// Best-effort teardown for after() hooks: kills a still-running server
	// (a clean stop is asserted by each file's last test) and removes the dir.
	async dispose() {
		if (this.proc && this.exit === null) {
			this.proc.kill('SIGTERM');
			const t = setTimeout(() => this.proc?.kill('SIGKILL'), 10000);
			await this.exited;
			clearTimeout(t);
		}
		this.proc = null;
		this.cleanup();
	}

	cleanup() {
		if (this.dir && !process.env.BULWARK_KEEP_TEST_DIRS)
			fs.rmSync(this.dir, { recursive: true, force: true });
	}

	origin() {
		return `https://127.0.0.1:${this.port}`;
	}

	// One HTTPS request on a fresh connection.
	//   json: value sent as JSON; body: raw string/Buffer; token: bearer;
	//   cookie: Cookie header; csrf: X-CSRF-Token; headers: extra headers;
	//   quick: reject connection errors at once (health polling).
	// A body-less POST/PUT/PATCH goes out with Content-Length: 0, as from browsers.
	// Resolves { status, headers, text, json, buf, method, path }.
	request(method, p, { json, body, token, cookie, csrf, headers = {}, timeout = 30000, quick = false } = {}) {
		return new Promise((resolve, reject) => {
			let data = null;
			const h = { ...headers };
			if (json !== undefined) {
				data = Buffer.from(JSON.stringify(json));
				h['content-type'] ??= 'application/json';
			} else if (body !== undefined) {
				data = Buffer.isBuffer(body) ? body : Buffer.from(body);
				h['content-type'] ??= 'application/json';
			}
			if (data)
				h['content-length'] = String(data.length);
			if (token)
				h.authorization = `Bearer ${token}`;
			if (cookie)
				h.cookie = cookie;
			if (csrf)
				h['x-csrf-token'] = csrf;
			let answered = false;
			const req = https.request({
				host: '127.0.0.1', port: this.port, method, path: p, headers: h, ca: this.ca,
				agent: false, timeout,
			}, (res) => {
				answered = true;
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('error', reject);
				res.on('end', () => {
					const buf = Buffer.concat(chunks);
					const text = buf.toString('utf8');
					let parsed;
					if (/json/.test(res.headers['content-type'] || '')) {
						try {
							parsed = JSON.parse(text);
						} catch { /* left undefined; tests assert on it */ }
					}
					resolve({ status: res.statusCode, headers: res.headers, text, json: parsed, buf, method, path: p });
				});
			});
			req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${p}`)));
			req.on('error', (e) => {
				if (answered)
					return;
				if (quick)
					return reject(e);
				// a refused or reset connection: say so when the server died
				setTimeout(() => {
					if (this.exit || this.stopped) {
						const m = SANITIZER_RE.exec(this.stderr);
						e.message += ` — the server is not running (${JSON.stringify(this.exit)})` +
							(m ? `; sanitizer: ${this.stderr.slice(m.index, m.index + 600)}` : '');
					}
					reject(e);
				}, 300);
			});
			req.end(data ?? undefined);
		});
	}

	get(p, opts) { return this.request('GET', p, opts); }
	post(p, json, opts = {}) { return this.request('POST', p, { json, ...opts }); }
	put(p, json, opts = {}) { return this.request('PUT', p, { json, ...opts }); }
	del(p, opts) { return this.request('DELETE', p, opts); }

	login(tenant, username, password, extra = {}) {
		return this.post('/api/v1/auth/login', { tenant, username, password, ...extra });
	}

	acct(tenant, username) {
		const a = this.accounts[tenant]?.[username];
		assert.ok(a, `no account ${tenant}/${username} known to the harness`);
		return a;
	}

	// First sign-in of a preset administrator: one-time password -> new
	// password -> TOTP enrolment -> full ticket.  Returns the account record
	// { password, secret, recovery[], ticket, id, user }.
	async bootstrapAdmin(tenant, username) {
		const a = this.acct(tenant, username);
		let r = await this.login(tenant, username, a.password);
		assertError(r, 403, 'password_change_required', `first login ${tenant}/${username}`);
		assert.equal(r.json.scope, 'password_change');
		const ticket = r.json.ticket;
		assert.equal(typeof ticket, 'string');
		const newPw = strongPassword();
		r = await this.post('/api/v1/auth/password', { current_password: a.password, new_password: newPw }, { token: ticket });
		assertStatus(r, 200, 'password change');
		assert.equal(r.json.scope, 'mfa_enrol', 'administrators must enrol MFA after the password change');
		a.password = newPw;
		r = await this.post('/api/v1/auth/totp/enrol', undefined, { token: ticket });
		assertStatus(r, 200, 'totp enrol');
		a.secret = r.json.secret;
		const code = totpCode(a.secret, this.now());
		r = await this.post('/api/v1/auth/totp/confirm', { code }, { token: ticket });
		assertStatus(r, 200, 'totp confirm');
		assert.equal(r.json.scope, 'full');
		a.recovery = [...r.json.recovery_codes];
		a.lastStep = Math.floor(this.now() / 30);
		a.ticket = ticket;
		r = await this.get('/api/v1/auth/session', { token: ticket });
		assertStatus(r, 200, 'session after bootstrap');
		assert.equal(r.json.scope, 'full');
		a.id = r.json.user.id;
		a.user = r.json.user;
		return a;
	}

	// A fresh full ticket for a bootstrapped account (uses a recovery code
	// when it has TOTP; TOTP codes are single-use).
	async relogin(tenant, username, extra = {}) {
		const a = this.acct(tenant, username);
		const body = { ...extra };
		if (a.secret) {
			assert.ok(a.recovery && a.recovery.length, `recovery codes of ${username} used up`);
			body.totp = a.recovery.shift();
		}
		const r = await this.login(tenant, username, a.password, body);
		assertStatus(r, 200, `relogin ${tenant}/${username}`);
		a.ticket = r.json.ticket;
		return a;
	}

	// Logs in with a fresh TOTP code, moving the test clock to the next step
	// when the current one was used already.
	async loginTotp(tenant, username, extra = {}) {
		const a = this.acct(tenant, username);
		let step = Math.floor(this.now() / 30);
		if (step <= (a.lastStep ?? 0)) {
			await this.advance(((a.lastStep + 1) * 30) - this.now() + 2);
			step = Math.floor(this.now() / 30);
		}
		const code = totpCode(a.secret, this.now());
		const r = await this.login(tenant, username, a.password, { totp: code, ...extra });
		if (r.status === 200) {
			a.lastStep = step;
			a.ticket = r.json.ticket;
		}
		return { res: r, code };
	}

	// Creates a member (or guest) with the sysadmin's ticket and completes
	// its first sign-in.  Returns { id, username, password, ticket, user }.
	async createUser(adminTicket, tenant, username, fields = {}, { firstLogin = true } = {}) {
		let r = await this.post('/api/v1/users', { username, ...fields }, { token: adminTicket });
		assertStatus(r, 201, `create ${username}`);
		const u = { tenant, username, id: r.json.user.id, password: r.json.initial_password, user: r.json.user };
		(this.accounts[tenant] ||= {})[username] = u;
		if (!firstLogin)
			return u;
		r = await this.login(tenant, username, u.password);
		assertError(r, 403, 'password_change_required', `first login ${username}`);
		const t = r.json.ticket;
		const pw = strongPassword();
		r = await this.post('/api/v1/auth/password', { current_password: u.password, new_password: pw }, { token: t });
		assertStatus(r, 200, `password change ${username}`);
		assert.equal(r.json.scope, 'full');
		u.password = pw;
		u.ticket = t;
		return u;
	}

	// A full bearer ticket for a user without TOTP.
	async ticketFor(tenant, username, extra = {}) {
		const a = this.acct(tenant, username);
		const r = await this.login(tenant, username, a.password, extra);
		assertStatus(r, 200, `login ${tenant}/${username}`);
		return r.json.ticket;
	}

	// Audit records (auditadmin ticket), newest first.
	async audit(ticket, query = '') {
		const r = await this.get(`/api/v1/audit${query ? `?${query}` : ''}`, { token: ticket });
		assertStatus(r, 200, 'audit list');
		return r.json.records;
	}

	// Opens the event WebSocket.  Resolves a WsClient once open; rejects
	// with err.status set when the handshake is refused.
	openWs({ token, cookie, origin, headers = {}, timeout = 5000 } = {}) {
		return new Promise((resolve, reject) => {
			const h = { ...headers };
			if (token)
				h.authorization = `Bearer ${token}`;
			if (cookie)
				h.cookie = cookie;
			const ws = new WebSocket(`wss://127.0.0.1:${this.port}/api/v1/events`, {
				ca: this.ca, headers: h, origin, handshakeTimeout: timeout,
			});
			const client = new WsClient(ws);   // queue messages from the first frame
			let settled = false;
			ws.once('open', () => {
				settled = true;
				resolve(client);
			});
			ws.once('unexpected-response', (req, res) => {
				settled = true;
				const e = new Error(`handshake refused: HTTP ${res.statusCode}`);
				e.status = res.statusCode;
				res.resume();
				req.destroy();
				reject(e);
			});
			ws.once('error', (e) => {
				if (!settled) {
					settled = true;
					e.status = e.status || 0;
					reject(e);
				}
			});
			ws.once('close', (code) => {
				if (!settled) {
					settled = true;
					const e = new Error(`closed during handshake (${code})`);
					e.status = 0;
					reject(e);
				}
			});
		});
	}

	// Every file under the data directory (recursive).
	dataFiles() {
		const out = [];
		const walk = (d) => {
			for (const e of fs.readdirSync(d, { withFileTypes: true })) {
				const p = path.join(d, e.name);
				if (e.isDirectory())
					walk(p);
				else if (e.isFile())
					out.push(p);
			}
		};
		walk(this.dir);
		return out;
	}
}
