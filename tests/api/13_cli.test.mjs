// 13 — the bulwark command: help for every command, init, tenant and user
// administration (audited), and the result seen through the server.
// (PS-DEL-b, PS-IA-c, PS-LOG-a)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Server, assertError, assertStatus, runBin } from './lib/server.mjs';

let srv;
const tmp = [];
before(async () => { srv = await Server.start({ start: false }); });
after(async () => {
	await srv?.dispose();
	for (const d of tmp)
		fs.rmSync(d, { recursive: true, force: true });
});

const data = () => ['--data', srv.dir];

test('--help of the command and of every subcommand exits 0 and prints usage', () => {
	for (const args of [['--help'], ['-h'], ['help'], ['init', '--help'], ['serve', '--help'], ['audit', '--help'],
		['tenant', '--help'], ['user', '--help'], ['audit', 'verify', '--help'], ['user', 'add', '--help']]) {
		const r = runBin(args);
		assert.equal(r.code, 0, `bulwark ${args.join(' ')} -> ${r.code}: ${r.stderr}`);
		assert.match(r.stdout, /usage:/i, `bulwark ${args.join(' ')} prints usage`);
	}
	const top = runBin(['--help']).stdout;
	for (const cmd of ['init', 'serve', 'audit', 'tenant', 'user'])
		assert.match(top, new RegExp(`\\b${cmd}\\b`), `--help lists ${cmd}`);
	const v = runBin(['version']);
	assert.equal(v.code, 0);
	assert.match(v.stdout, /^bulwark \d+\.\d+\.\d+/);
});

test('no command, an unknown command or a missing --data fail with a non-zero exit', () => {
	for (const args of [[], ['frobnicate'], ['user', 'list'], ['user', 'frob', ...data()], ['tenant', 'add'],
		['serve', '--data'], ['init'], ['audit', 'verify'], ['user', 'add', ...data(), '--tenant', 'acme']]) {
		const r = runBin(args);
		assert.notEqual(r.code, 0, `bulwark ${args.join(' ')} should fail`);
	}
});

test('init twice on the same directory fails and leaves the installation intact', () => {
	const r = runBin(['init', ...data(), '--tenant', 'other', '--json']);
	assert.notEqual(r.code, 0, 'second init must fail');
	assert.match(r.stderr, /already/i);
	assert.doesNotMatch(r.stdout, /password/i, 'no new passwords printed');
	const list = runBin(['tenant', 'list', ...data()]);
	assert.equal(list.code, 0);
	assert.match(list.stdout, /\bacme\b/);
	assert.doesNotMatch(list.stdout, /\bother\b/);
	// init with an invalid tenant name fails too, without creating a store
	const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-cli-'));
	tmp.push(d);
	const bad = runBin(['init', '--data', d, '--tenant', 'Bad Name']);
	assert.notEqual(bad.code, 0);
	assert.ok(!fs.existsSync(path.join(d, 'bulwark.db')), 'no store for a refused init');
	// plain-text init output names the three administrators
	const d2 = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-cli-'));
	tmp.push(d2);
	const ok = runBin(['init', '--data', d2, '--tenant', 'plain']);
	assert.equal(ok.code, 0, ok.stderr);
	for (const u of ['admin', 'secadmin', 'auditor'])
		assert.match(ok.stdout, new RegExp(`\\b${u}\\b`));
});

test('tenant add / list', () => {
	let r = runBin(['tenant', 'add', 'beta', ...data(), '--json']);
	assert.equal(r.code, 0, r.stderr);
	const j = JSON.parse(r.stdout);
	assert.equal(j.tenant, 'beta');
	assert.deepEqual(j.accounts.map((a) => [a.username, a.role]),
		[['admin', 'sysadmin'], ['secadmin', 'secadmin'], ['auditor', 'auditadmin']]);
	for (const a of j.accounts)
		assert.ok(a.password.length >= 12);
	srv.addAccounts(j);
	r = runBin(['tenant', 'add', 'beta', ...data()]);
	assert.notEqual(r.code, 0, 'duplicate tenant');
	r = runBin(['tenant', 'add', 'BETA', ...data()]);
	assert.notEqual(r.code, 0, 'duplicate tenant (case)');
	r = runBin(['tenant', 'add', 'no spaces', ...data()]);
	assert.notEqual(r.code, 0, 'invalid tenant name');
	r = runBin(['tenant', 'list', ...data()]);
	assert.equal(r.code, 0);
	const names = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[1]);
	assert.deepEqual(names.sort(), ['acme', 'beta']);
});

test('user add / list / disable / enable / unlock / reset-password', () => {
	let r = runBin(['user', 'add', ...data(), '--tenant', 'acme', '--username', 'carol.cli', '--display-name', 'Carol', '--json']);
	assert.equal(r.code, 0, r.stderr);
	const j = JSON.parse(r.stdout);
	assert.equal(j.tenant, 'acme');
	assert.equal(j.username, 'carol.cli');
	assert.ok(j.password.length >= 12);
	srv.cli = { first: j.password };
	r = runBin(['user', 'add', ...data(), '--tenant', 'acme', '--username', 'carol.cli']);
	assert.notEqual(r.code, 0, 'duplicate user');
	r = runBin(['user', 'add', ...data(), '--tenant', 'acme', '--username', 'Bad User']);
	assert.notEqual(r.code, 0, 'invalid username');
	r = runBin(['user', 'add', ...data(), '--tenant', 'acme', '--username', 'root.wannabe', '--role', 'sysadmin']);
	assert.notEqual(r.code, 0, 'administrator role from the CLI');
	r = runBin(['user', 'add', ...data(), '--tenant', 'nosuch', '--username', 'lost.user']);
	assert.notEqual(r.code, 0, 'unknown tenant');
	r = runBin(['user', 'add', ...data(), '--tenant', 'beta', '--username', 'gina.guest', '--role', 'guest']);
	assert.equal(r.code, 0, r.stderr);

	const line = (name, tenant = 'acme') => {
		const l = runBin(['user', 'list', ...data(), '--tenant', tenant]);
		assert.equal(l.code, 0);
		return l.stdout.split('\n').find((x) => x.split('\t')[1] === name);
	};
	assert.match(line('carol.cli'), /^\d+\tcarol\.cli\tmember\tactive/);
	assert.match(line('gina.guest', 'beta'), /\tguest\t/);
	assert.equal(line('gina.guest'), undefined, 'beta\'s user not listed in acme');

	r = runBin(['user', 'disable', ...data(), '--tenant', 'acme', '--username', 'carol.cli']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(line('carol.cli'), /\tdisabled/);
	r = runBin(['user', 'enable', ...data(), '--tenant', 'acme', '--username', 'carol.cli']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(line('carol.cli'), /\tactive/);
	r = runBin(['user', 'unlock', ...data(), '--tenant', 'acme', '--username', 'carol.cli']);
	assert.equal(r.code, 0, r.stderr);
	r = runBin(['user', 'reset-password', ...data(), '--tenant', 'acme', '--username', 'carol.cli', '--json']);
	assert.equal(r.code, 0, r.stderr);
	const reset = JSON.parse(r.stdout);
	assert.ok(reset.password.length >= 12);
	assert.notEqual(reset.password, srv.cli.first);
	srv.cli.reset = reset.password;
	r = runBin(['user', 'disable', ...data(), '--tenant', 'acme', '--username', 'nobody.here']);
	assert.notEqual(r.code, 0, 'unknown user');
	r = runBin(['user', 'disable', ...data(), '--tenant', 'beta', '--username', 'carol.cli']);
	assert.notEqual(r.code, 0, 'user of another tenant');
	assert.match(line('carol.cli'), /\tactive/);
});

test('CLI changes are in the audit trail, which verifies', () => {
	const r = runBin(['audit', 'export', ...data(), '--format', 'json']);
	assert.equal(r.code, 0, r.stderr);
	const recs = JSON.parse(r.stdout);
	const has = (event, pred = () => true) => recs.some((x) => x.event === event && pred(x));
	const missing = [
		['tenant.create', (x) => x.object === 'beta'],
		['user.create', (x) => x.object.includes('carol.cli')],
		['user.create', (x) => x.object.includes('gina.guest')],
		['user.disable', (x) => x.object.includes('carol.cli')],
		['user.enable', (x) => x.object.includes('carol.cli')],
		['user.unlock', (x) => x.object.includes('carol.cli')],
		['user.password_reset', (x) => x.object.includes('carol.cli')],
		['key.create', () => true],
	].filter(([e, p]) => !has(e, p)).map(([e]) => e);
	assert.deepEqual(missing, [], `CLI actions missing from the trail: ${missing.join(', ')}`);
	for (const x of recs.filter((y) => y.event.startsWith('user.')))
		assert.match(x.subject, /^cli:/, `CLI actor recorded: ${x.subject}`);
	const text = r.stdout;
	assert.ok(!text.includes(srv.cli.first) && !text.includes(srv.cli.reset), 'no passwords in the trail');
	const v = runBin(['audit', 'verify', ...data()]);
	assert.equal(v.code, 0, v.stdout);
	const s = runBin(['audit', 'export', ...data(), '--format', 'syslog']);
	assert.equal(s.code, 0);
	const lines = s.stdout.split('\n').filter(Boolean);
	assert.ok(lines.length > 10);
	for (const l of lines)
		assert.match(l, /^<\d+>1 \S+ \S+ bulwark - \S+ \[audit@32473 /);
	assert.notEqual(runBin(['audit', 'export', ...data(), '--format', 'xml']).code, 0);
});

test('the server sees the CLI\'s work: the reset password is one-time, the first is dead', async () => {
	await srv.launch();
	assertError(await srv.login('acme', 'carol.cli', srv.cli.first), 401, 'invalid_credentials');
	const r = await srv.login('acme', 'carol.cli', srv.cli.reset);
	assertError(r, 403, 'password_change_required');
	assert.equal(r.json.user.display_name, 'Carol');
	// a CLI disable while the server runs ends the user's sessions
	const d = runBin(['user', 'disable', ...data(), '--tenant', 'acme', '--username', 'carol.cli']);
	assert.equal(d.code, 0, d.stderr);
	assertError(await srv.login('acme', 'carol.cli', srv.cli.reset), 401, 'invalid_credentials');
	const t = r.json.ticket;
	assertError(await srv.get('/api/v1/auth/session', { token: t }), 401, 'unauthenticated');
	assertStatus(await srv.get('/api/v1/health'), 200);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
