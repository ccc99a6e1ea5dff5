// 11 — transport: the listener binds exactly the configured address; TLS 1.2
// and 1.3 only, AEAD suites only.  Each refusal has a control showing the
// client really offered the refused protocol or suite.  (RG-COMM-a, PS-COM-a/b)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Server, assertStatus, sleep } from './lib/server.mjs';

let srv, cnf;
before(async () => {
	srv = await Server.start();
	// An OpenSSL config without the distribution's MinProtocol/SECLEVEL
	// floor, so the client can offer old protocols and CBC suites.
	cnf = path.join(os.tmpdir(), `bulwark-openssl-${process.pid}.cnf`);
	fs.writeFileSync(cnf, 'openssl_conf = default_conf\n[default_conf]\n');
});
after(async () => {
	await srv?.dispose();
	if (cnf)
		fs.rmSync(cnf, { force: true });
});

function sClient(port, args) {
	const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], {
		input: '', encoding: 'utf8', timeout: 20000, env: { ...process.env, OPENSSL_CONF: cnf },
	});
	const out = `${r.stdout}\n${r.stderr}`;
	// "New, X, Cipher is Y" names the suite (X is the suite's own version);
	// "Protocol  : V" in the session block is the negotiated protocol.
	const cipher = /(?:New|Reused), \S+, Cipher is (\S+)/.exec(out)?.[1];
	// (TLS 1.3 prints no session block before stdin closes; its suites are 1.3-only)
	const version = /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /New, (TLSv1\.3), /.exec(out)?.[1];
	const ok = !!cipher && cipher !== '(NONE)';
	return { ok, version, cipher, code: r.status, out };
}

// A throwaway openssl s_server that allows everything, as the control.
async function withPermissiveServer(args, fn) {
	let port = 0;
	for (let i = 0; i < 20 && !port; i++) {
		const p = 20000 + Math.floor(Math.random() * 12000);
		const free = await new Promise((res) => {
			const s = net.createServer();
			s.once('error', () => res(false));
			s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
		});
		if (free)
			port = p;
	}
	const proc = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`,
		'-cert', path.join(srv.dir, 'tls/cert.pem'), '-key', path.join(srv.dir, 'tls/key.pem'), ...args],
	{ stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, OPENSSL_CONF: cnf } });
	try {
		for (let i = 0; i < 50; i++) {
			const up = await new Promise((res) => {
				const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
				s.on('error', () => res(false));
			});
			if (up)
				break;
			await sleep(100);
		}
		return fn(port);
	} finally {
		proc.kill('SIGKILL');
	}
}

test('the listener is exactly 127.0.0.1:PORT — no [::] or 0.0.0.0 socket', () => {
	const r = spawnSync('ss', ['-ltnH'], { encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	const locals = r.stdout.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[3])
		.filter((a) => a && a.endsWith(`:${srv.port}`));
	assert.deepEqual(locals, [`127.0.0.1:${srv.port}`], `listening sockets on port ${srv.port}: ${JSON.stringify(locals)}`);
	// and nothing answers on the port over IPv6 loopback
	return new Promise((resolve, reject) => {
		const s = net.connect({ host: '::1', port: srv.port });
		s.on('connect', () => { s.destroy(); reject(new Error('[::1] accepted a connection')); });
		s.on('error', () => resolve());
	});
});

test('TLS 1.2 and TLS 1.3 are accepted with AEAD suites', () => {
	const t12 = sClient(srv.port, ['-tls1_2']);
	assert.ok(t12.ok, `TLS 1.2 handshake failed:\n${t12.out.slice(0, 2000)}`);
	assert.equal(t12.version, 'TLSv1.2');
	assert.match(t12.cipher, /GCM|CHACHA20-POLY1305/, `AEAD suite: ${t12.cipher}`);
	assert.match(t12.cipher, /^ECDHE-/, `forward secrecy: ${t12.cipher}`);
	const t13 = sClient(srv.port, ['-tls1_3']);
	assert.ok(t13.ok, `TLS 1.3 handshake failed:\n${t13.out.slice(0, 2000)}`);
	assert.equal(t13.version, 'TLSv1.3');
	assert.match(t13.cipher, /^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
});

test('TLS 1.0 and 1.1 are refused (control: the client can speak them)', async () => {
	for (const [flag, name] of [['-tls1_1', 'TLSv1.1'], ['-tls1', 'TLSv1']]) {
		const args = [flag, '-cipher', 'DEFAULT:@SECLEVEL=0'];
		const r = sClient(srv.port, args);
		assert.ok(!r.ok, `${name} was accepted (${r.cipher})`);
		const control = await withPermissiveServer([flag, '-cipher', 'DEFAULT:@SECLEVEL=0'], (port) => sClient(port, args));
		assert.ok(control.ok && control.version === name,
			`control: the client could not do ${name} with a permissive server, so the refusal proves nothing:\n${control.out.slice(0, 1500)}`);
	}
});

test('non-AEAD (CBC) suites are refused on TLS 1.2 (control: the client offers them)', async () => {
	for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-SHA256', 'AES128-SHA', 'AES256-SHA256']) {
		const args = ['-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`];
		const r = sClient(srv.port, args);
		assert.ok(!r.ok, `${cipher} was accepted`);
	}
	const args = ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0'];
	const control = await withPermissiveServer(['-tls1_2', '-cipher', 'ALL:@SECLEVEL=0'], (port) => sClient(port, args));
	assert.ok(control.ok && control.cipher === 'ECDHE-ECDSA-AES128-SHA',
		`control: the client could not negotiate a CBC suite with a permissive server:\n${control.out.slice(0, 1500)}`);
});

test('plain HTTP on the TLS port gets no HTTP answer; the API still works over TLS', async () => {
	const answer = await new Promise((resolve) => {
		const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n'));
		let buf = '';
		s.on('data', (d) => { buf += d.toString('latin1'); });
		s.on('close', () => resolve(buf));
		s.on('error', () => resolve(buf));
		setTimeout(() => { s.destroy(); resolve(buf); }, 3000);
	});
	assert.doesNotMatch(answer, /"status":"ok"/, 'health must not be served in clear text');
	assertStatus(await srv.get('/api/v1/health'), 200);
});

test('the server shuts down cleanly on SIGTERM without sanitizer reports', async () => {
	await srv.finish();
});
