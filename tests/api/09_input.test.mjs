// 09 — input limits: body size, JSON syntax, UTF-8, shape, duplicate keys,
// field lengths, control characters.  (IN-SURGE, RG-APP-e, PS-COM-a)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus } from './lib/server.mjs';

let srv, admin;
before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
});
after(async () => { await srv?.dispose(); });

const LOGIN = '/api/v1/auth/login';

test('a body over 64 KiB answers 413 payload_too_large', async () => {
	const big = JSON.stringify({ tenant: 'acme', username: 'admin', password: 'x'.repeat(70 * 1024) });
	assert.ok(big.length > 64 * 1024);
	let r;
	try {
		r = await srv.request('POST', LOGIN, { body: big });
	} catch (e) {
		assert.fail(`the server dropped the connection instead of answering 413: ${e.message}`);
	}
	assertError(r, 413, 'payload_too_large', 'login');
	// also on an authenticated endpoint
	r = await srv.request('POST', '/api/v1/users', {
		body: JSON.stringify({ username: 'big', display_name: 'y'.repeat(65 * 1024) }), token: admin.ticket,
	});
	assertError(r, 413, 'payload_too_large', 'create user');
	// exactly at the limit is not "too large" (it is rejected for its content instead)
	const pad = 64 * 1024 - JSON.stringify({ tenant: 'acme', username: 'admin', password: '' }).length;
	const atLimit = JSON.stringify({ tenant: 'acme', username: 'admin', password: 'p'.repeat(pad) });
	assert.equal(atLimit.length, 64 * 1024);
	r = await srv.request('POST', LOGIN, { body: atLimit });
	assert.notEqual(r.status, 413, 'a 64 KiB body is within the limit');
	assertError(r, 400, 'invalid_request', 'oversized password field');
	// the server is still healthy afterwards
	assertStatus(await srv.get('/api/v1/health'), 200);
});

test('malformed JSON, non-objects, non-UTF-8 and duplicate keys answer 400 invalid_request', async () => {
	const bodies = [
		['truncated', '{"tenant":"acme","username":'],
		['trailing garbage', '{"tenant":"acme","username":"admin","password":"x"} x'],
		['two objects', '{"tenant":"acme"}{"username":"admin"}'],
		['single quotes', "{'tenant':'acme'}"],
		['trailing comma', '{"tenant":"acme","username":"admin","password":"x",}'],
		['array', '[]'],
		['array of object', '[{"tenant":"acme","username":"admin","password":"x"}]'],
		['string', '"acme"'],
		['number', '42'],
		['null', 'null'],
		['true', 'true'],
		['duplicate key', '{"tenant":"acme","username":"admin","username":"secadmin","password":"x"}'],
		['duplicate key (same value)', '{"tenant":"acme","tenant":"acme","username":"admin","password":"x"}'],
		['non-UTF-8 byte', Buffer.concat([Buffer.from('{"tenant":"acme","username":"adm'), Buffer.from([0xff, 0xfe]), Buffer.from('in","password":"x"}')])],
		['overlong UTF-8', Buffer.concat([Buffer.from('{"tenant":"acme","username":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","password":"x"}')])],
		['UTF-16 surrogate bytes', Buffer.concat([Buffer.from('{"tenant":"acme","username":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","password":"x"}')])],
		['Latin-1 body', Buffer.from('{"tenant":"acme","username":"m\xfcller","password":"x"}', 'latin1')],
		['raw control character', '{"tenant":"acme","username":"ad\u0001min","password":"x"}'],
		['NUL byte', Buffer.concat([Buffer.from('{"tenant":"acme","username":"ad'), Buffer.from([0]), Buffer.from('min","password":"x"}')])],
	];
	for (const [name, body] of bodies) {
		const r = await srv.request('POST', LOGIN, { body });
		assertError(r, 400, 'invalid_request', name);
	}
	// the same on an authenticated endpoint
	for (const [name, body] of bodies.slice(0, 13)) {
		const r = await srv.request('POST', '/api/v1/users', { body, token: admin.ticket });
		assertError(r, 400, 'invalid_request', `create user: ${name}`);
	}
});

test('missing, mistyped, unknown and oversized fields answer 400 invalid_request', async () => {
	const ok = { tenant: 'acme', username: 'admin', password: 'wrong-but-well-formed' };
	const cases = [
		['missing tenant', { username: 'admin', password: 'x' }],
		['missing username', { tenant: 'acme', password: 'x' }],
		['missing password', { tenant: 'acme', username: 'admin' }],
		['empty object', {}],
		['null username', { ...ok, username: null }],
		['number username', { ...ok, username: 42 }],
		['array password', { ...ok, password: ['x'] }],
		['object tenant', { ...ok, tenant: { name: 'acme' } }],
		['boolean totp', { ...ok, totp: true }],
		['unknown field', { ...ok, admin: true }],
		['unknown field role', { ...ok, role: 'sysadmin' }],
		['bad session kind', { ...ok, session: 'jwt' }],
		['10,000-character username', { ...ok, username: 'a'.repeat(10000) }],
		['10,000-character tenant', { ...ok, tenant: 'a'.repeat(10000) }],
		['2 KiB password', { ...ok, password: 'p'.repeat(2048) }],
		['oversized device_name', { ...ok, device_name: 'd'.repeat(1000) }],
		['oversized totp', { ...ok, totp: '1'.repeat(1000) }],
		['NUL in username', { ...ok, username: 'ad\u0000min' }],
		['NUL in password', { ...ok, password: 'pass\u0000word' }],
		['control char in username', { ...ok, username: 'ad\u0007min' }],
		['escape char in tenant', { ...ok, tenant: 'ac\u001bme' }],
		['DEL in username', { ...ok, username: 'ad\u007fmin' }],
		['newline in device_name', { ...ok, device_name: 'my\nlaptop' }],
	];
	for (const [name, json] of cases) {
		const r = await srv.post(LOGIN, json);
		assertError(r, 400, 'invalid_request', name);
		assert.ok(r.json.error.message.length < 1024, 'message bounded');
	}
	// the message names the field
	const r = await srv.post(LOGIN, { tenant: 'acme', username: 'admin' });
	assert.match(r.json.error.message, /password/);
});

test('create-user input is validated the same way', async () => {
	const cases = [
		['10,000-character username', { username: 'a'.repeat(10000) }],
		['NUL in display name', { username: 'nul.user', display_name: 'a\u0000b' }],
		['control char in display name', { username: 'ctl.user', display_name: 'a\u0008b' }],
		['number username', { username: 123 }],
		['unknown field', { username: 'unk.user', is_admin: true }],
		['string dept_id', { username: 'dep.user', dept_id: '1' }],
		['oversized email', { username: 'mail.user', email: `${'e'.repeat(300)}@example.cn` }],
		['oversized phone', { username: 'tel.user', phone: '1'.repeat(100) }],
	];
	for (const [name, json] of cases) {
		const r = await srv.post('/api/v1/users', json, { token: admin.ticket });
		assertError(r, 400, 'invalid_request', name);
	}
	// nothing was created by the refused requests
	const list = await srv.get('/api/v1/users?limit=500', { token: admin.ticket });
	assertStatus(list, 200);
	const names = list.json.users.map((u) => u.username);
	for (const n of ['nul.user', 'ctl.user', 'unk.user', 'dep.user', 'mail.user', 'tel.user'])
		assert.ok(!names.includes(n), `${n} must not exist`);
});

test('an overlong path is refused with a 4xx error body, and the server stays up', async () => {
	const r = await srv.get(`/api/v1/${'x'.repeat(1000)}`);
	assert.ok(r.status >= 400 && r.status < 500, `long path -> ${r.status}`);
	assertError(r, r.status, undefined, 'long path');
	assertStatus(await srv.get('/api/v1/health'), 200);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
