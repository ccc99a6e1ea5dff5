// 01 — the HTTP surface: health, 404/405, the error body, authentication
// on every protected route, security headers, static files.
// (RG-APP-e, PS-COM-a, WC-TICKET, PS-AC-b)
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

let srv;
before(async () => { srv = await Server.start(); });
after(async () => { await srv?.dispose(); });

// Every route that needs a ticket (docs/openapi.yaml).
const PROTECTED = [
	['POST', '/api/v1/auth/logout'],
	['GET', '/api/v1/auth/session'],
	['POST', '/api/v1/auth/password', { current_password: 'a', new_password: 'b' }],
	['POST', '/api/v1/auth/totp/enrol'],
	['POST', '/api/v1/auth/totp/confirm', { code: '123456' }],
	['DELETE', '/api/v1/auth/totp', { password: 'a', code: '123456' }],
	['POST', '/api/v1/auth/recovery-codes', { password: 'a' }],
	['GET', '/api/v1/me/sessions'],
	['DELETE', '/api/v1/me/sessions/abcdef'],
	['GET', '/api/v1/me/devices'],
	['GET', '/api/v1/users'],
	['POST', '/api/v1/users', { username: 'someone' }],
	['GET', '/api/v1/users/1'],
	['POST', '/api/v1/users/1/disable'],
	['POST', '/api/v1/users/1/enable'],
	['POST', '/api/v1/users/1/unlock'],
	['POST', '/api/v1/users/1/reset-password'],
	['PUT', '/api/v1/users/1/role', { role: 'member' }],
	['POST', '/api/v1/users/1/mfa-reset'],
	['GET', '/api/v1/users/1/sessions'],
	['POST', '/api/v1/users/1/sessions/revoke'],
	['GET', '/api/v1/departments'],
	['POST', '/api/v1/departments', { name: 'x' }],
	['GET', '/api/v1/policy'],
	['PUT', '/api/v1/policy', {}],
	['GET', '/api/v1/audit'],
	['GET', '/api/v1/audit/verify'],
	['GET', '/api/v1/audit/export?format=json'],
];

function checkSecurityHeaders(res, what) {
	const h = res.headers;
	const ctx = `${what}: ${res.method} ${res.path}`;
	const hsts = h['strict-transport-security'] || '';
	const m = /max-age=(\d+)/.exec(hsts);
	assert.ok(m && Number(m[1]) >= 15768000, `HSTS with max-age >= 6 months on ${ctx}: "${hsts}"`);
	assert.equal(h['x-content-type-options'], 'nosniff', `nosniff on ${ctx}`);
	assert.equal((h['x-frame-options'] || '').toUpperCase(), 'DENY', `x-frame-options on ${ctx}`);
	const csp = h['content-security-policy'] || '';
	assert.match(csp, /default-src/, `CSP default-src on ${ctx}: "${csp}"`);
	assert.match(csp, /frame-ancestors 'none'/, `CSP frame-ancestors on ${ctx}: "${csp}"`);
	assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `CSP without unsafe-* on ${ctx}`);
}

test('GET /api/v1/health answers 200 {"status":"ok"} without a ticket', async () => {
	const r = await srv.get('/api/v1/health');
	assertStatus(r, 200);
	assert.match(r.headers['content-type'], /^application\/json/);
	assert.deepEqual(r.json, { status: 'ok' });
});

test('body-less requests (Content-Length: 0, or none) are answered and the server stays up', async () => {
	for (const [method, p, status, code] of [
		['POST', '/api/v1/auth/logout', 401, 'unauthenticated'],
		['POST', '/api/v1/nope', 404, 'not_found'],
		['PUT', '/api/v1/policy', 401, 'unauthenticated'],
		['DELETE', '/api/v1/me/sessions/x', 401, 'unauthenticated'],
		['POST', '/api/v1/auth/login', 400, 'invalid_request'],
	]) {
		for (const headers of [{ 'content-length': '0' }, {}]) {
			const r = await srv.request(method, p, { headers });
			assertError(r, status, code, `${method} ${p} ${JSON.stringify(headers)}`);
		}
	}
	assertStatus(await srv.get('/api/v1/health'), 200);
});

test('unknown endpoints answer 404 not_found with the error body', async () => {
	const paths = ['/api/v1/nope', '/api/v1/users/1/nope', '/api/v1/auth', '/api/v2/health',
		'/api/v1/health/x', '/api/v1/users/1/sessions/revoke/x', '/api/v1/', '/api/',
		'/api/v1/HEALTH'];
	for (const p of paths) {
		for (const method of ['GET', 'POST']) {
			const r = await srv.request(method, p);
			assertError(r, 404, 'not_found', `${method} ${p}`);
		}
	}
});

test('a known path with the wrong method answers 405 method_not_allowed', async () => {
	const cases = [
		['DELETE', '/api/v1/health'], ['POST', '/api/v1/health'], ['PUT', '/api/v1/health'],
		['GET', '/api/v1/auth/login'], ['PUT', '/api/v1/auth/login'], ['DELETE', '/api/v1/auth/login'],
		['GET', '/api/v1/auth/logout'], ['POST', '/api/v1/auth/session'],
		['DELETE', '/api/v1/users'], ['PATCH', '/api/v1/users'], ['PUT', '/api/v1/users'],
		['GET', '/api/v1/users/1/disable'], ['DELETE', '/api/v1/users/1'],
		['POST', '/api/v1/users/1/role'], ['POST', '/api/v1/audit'], ['DELETE', '/api/v1/policy'],
		['POST', '/api/v1/audit/verify'], ['GET', '/api/v1/users/1/sessions/revoke'],
	];
	for (const [method, p] of cases) {
		const r = await srv.request(method, p);
		assertError(r, 405, 'method_not_allowed', `${method} ${p}`);
	}
});

test('every protected endpoint answers 401 unauthenticated without a valid ticket', async () => {
	const forged = crypto.randomBytes(32).toString('base64url');   // well-formed, unknown
	const variants = [
		['no ticket', {}],
		['malformed bearer', { headers: { authorization: 'Bearer not-a-ticket' } }],
		['unknown ticket', { token: forged }],
		['empty bearer', { headers: { authorization: 'Bearer ' } }],
		['basic auth', { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }],
		['unknown cookie ticket', { cookie: `bw_ticket=${forged}`, csrf: 'x' }],
	];
	for (const [method, p, json] of PROTECTED) {
		for (const [name, opts] of variants) {
			const r = await srv.request(method, p, { json, ...opts });
			assertError(r, 401, 'unauthenticated', `${name}: ${method} ${p}`);
		}
	}
});

test('security headers are on every kind of response', async () => {
	const responses = [
		await srv.get('/api/v1/health'),
		await srv.get('/api/v1/nope'),
		await srv.request('DELETE', '/api/v1/health'),
		await srv.get('/api/v1/users'),
		await srv.post('/api/v1/auth/login', { tenant: 'acme', username: 'nobody-here', password: 'x' }),
		await srv.post('/api/v1/auth/login', { bogus: 1 }),
	];
	for (const r of responses)
		checkSecurityHeaders(r, 'API');
	// The API's JSON (tickets, personal data) must never be cached.
	for (const r of responses)
		assert.match(r.headers['cache-control'] || '', /no-store/, `cache-control no-store on ${r.method} ${r.path}`);
});

test('the web client is served with the strict CSP; no path escapes web/dist', async () => {
	const index = await srv.get('/');
	assertStatus(index, 200, 'index');
	assert.match(index.headers['content-type'], /^text\/html/);
	checkSecurityHeaders(index, 'index.html');
	const csp = index.headers['content-security-policy'];
	assert.match(csp, /script-src 'self'/);
	// client-side routes fall back to index.html
	const route = await srv.get('/admin/users');
	assertStatus(route, 200, 'client route');
	assert.equal(route.text, index.text);
	// a missing asset is a 404, not index.html
	assertError(await srv.get('/assets/does-not-exist.js'), 404, 'not_found');
	// traversal attempts never reach files outside web/dist
	for (const p of ['/../../../../etc/passwd', '/assets/../../../../../etc/passwd',
		'/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2f..%2fetc%2fpasswd',
		'/assets/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd']) {
		let text = '';
		try {
			text = (await srv.get(p)).text;
		} catch { /* a dropped connection leaks nothing */ }
		assert.doesNotMatch(text, /root:.*:0:0:/, `traversal ${p} leaked /etc/passwd`);
	}
	// state-changing methods on static paths are refused
	const post = await srv.request('POST', '/index.html');
	assert.ok(post.status === 405 || post.status === 404, `POST /index.html -> ${post.status}`);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
