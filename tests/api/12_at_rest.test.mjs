// 12 — encryption at rest: personal data, display names, department names,
// TOTP secrets, passwords, tickets and recovery codes never appear in clear
// in any file of the data directory (db, -wal, -shm, keys, ...), nor in the
// server's log.  (WC-STORE, PS-PI-h, RG-PI, PS-IA-b)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Server, assertStatus, randomHex } from './lib/server.mjs';

let srv, admin;
const tag = randomHex(3);
const n4 = String(Math.floor(Math.random() * 10000)).padStart(4, '0');
const PEOPLE = [
	{ username: `quinn.${tag}`, display_name: `Quinn Zebrafish ${tag}`, email: `quinn.${tag}@marker-example.cn`,
		phone: `1398765${n4}`, id_card: `11010519491231${n4.slice(0, 3)}X` },
	{ username: `wang.${tag}`, display_name: `王小明 ${tag}`, email: `wang.${tag}@corp-secret.cn`,
		phone: `+86 139 ${n4} 2468`, id_card: `44030419850607${n4}` },
];
const DEPT = `Skunkworks Division ${tag}`;
const secrets = [];      // [label, Buffer] that must never be on disk
const positives = [];    // [label, Buffer] that must be on disk (controls)

before(async () => {
	srv = await Server.start();
	admin = await srv.bootstrapAdmin('acme', 'admin');
	secrets.push(['admin password', Buffer.from(admin.password)]);
	secrets.push(['admin TOTP secret (base32)', Buffer.from(admin.secret.replace(/=+$/, ''))]);
	const raw = base32Decode(admin.secret);
	secrets.push(['admin TOTP secret (raw)', raw]);
	secrets.push(['admin TOTP secret (hex)', Buffer.from(raw.toString('hex'))]);
	secrets.push(['admin TOTP secret (HEX)', Buffer.from(raw.toString('hex').toUpperCase())]);
	secrets.push(['admin TOTP secret (base64)', Buffer.from(raw.toString('base64').replace(/=+$/, ''))]);
	for (const c of admin.recovery) {
		secrets.push([`recovery code ${c}`, Buffer.from(c)]);
		secrets.push([`recovery code ${c} (no dashes)`, Buffer.from(c.replace(/-/g, ''))]);
	}
	secrets.push(['admin ticket', Buffer.from(admin.ticket)]);
	for (const p of PEOPLE) {
		const u = await srv.createUser(admin.ticket, 'acme', p.username, {
			display_name: p.display_name, email: p.email, phone: p.phone, id_card: p.id_card,
		});
		secrets.push([`${p.username} initial/changed password`, Buffer.from(u.password)]);
		secrets.push([`${p.username} ticket`, Buffer.from(u.ticket)]);
		for (const k of ['display_name', 'email', 'phone', 'id_card'])
			secrets.push([`${p.username} ${k}`, Buffer.from(p[k], 'utf8')]);
		secrets.push([`${p.username} phone digits`, Buffer.from(p.phone.replace(/\D/g, ''))]);
		positives.push([`${p.username} username (stored in clear by design)`, Buffer.from(p.username)]);
		// a member with TOTP too
		const e = await srv.post('/api/v1/auth/totp/enrol', undefined, { token: u.ticket });
		assertStatus(e, 200);
		const m = base32Decode(e.json.secret);
		secrets.push([`${p.username} TOTP secret`, Buffer.from(e.json.secret.replace(/=+$/, ''))]);
		secrets.push([`${p.username} TOTP secret (raw)`, m]);
		secrets.push([`${p.username} TOTP secret (hex)`, Buffer.from(m.toString('hex'))]);
	}
	const d = await srv.post('/api/v1/departments', { name: DEPT }, { token: admin.ticket });
	assertStatus(d, 201);
	secrets.push(['department name', Buffer.from(DEPT)]);
	// the API itself returns the data: it was stored, not dropped
	const list = await srv.get('/api/v1/users?limit=500', { token: admin.ticket });
	for (const p of PEOPLE)
		assert.equal(list.json.users.find((u) => u.username === p.username)?.display_name, p.display_name);
	const un = await srv.get(`/api/v1/users/${list.json.users.find((u) => u.username === PEOPLE[0].username).id}?unmask=1`, { token: admin.ticket });
	assert.equal(un.json.user.phone, PEOPLE[0].phone);
});
after(async () => { await srv?.dispose(); });

function base32Decode(s) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0, value = 0;
	const out = [];
	for (const ch of s.replace(/=+$/, '')) {
		value = (value << 5) | alphabet.indexOf(ch);
		bits += 5;
		if (bits >= 8) {
			out.push((value >>> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

function scan(label) {
	const files = srv.dataFiles();
	assert.ok(files.some((f) => f.endsWith('bulwark.db')), `the database is in ${srv.dir}`);
	const found = [];
	const contents = files.map((f) => [f, fs.readFileSync(f)]);
	for (const [what, needle] of secrets) {
		for (const [f, buf] of contents) {
			if (needle.length >= 4 && buf.includes(needle))
				found.push(`${what} in ${f.slice(srv.dir.length + 1)}`);
		}
	}
	assert.deepEqual(found, [], `${label}: plaintext found on disk:\n${found.join('\n')}`);
	// controls: the scan does see data that is stored in clear by design
	for (const [what, needle] of positives)
		assert.ok(contents.some(([, buf]) => buf.includes(needle)), `${label}: control "${what}" not found — the scan is not seeing the data`);
	return files;
}

test('while the server runs: no plaintext secret or personal datum in any data file', async () => {
	const files = scan('running');
	assert.ok(files.length >= 2, `files: ${files.join(', ')}`);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});

test('after shutdown (WAL checkpointed): still none', () => {
	assert.equal(srv.proc, null, 'server stopped');
	scan('stopped');
});

test('the server log holds no password, ticket, secret or personal datum', () => {
	const log = Buffer.from(srv.stderr + srv.stdout);
	const found = secrets.filter(([, needle]) => needle.length >= 4 && log.includes(needle)).map(([w]) => w);
	assert.deepEqual(found, [], `in the server log: ${found.join(', ')}`);
});
