// accounts.mjs — benchmark set-up (not a test): turns members created with
// `bulwark user add --json` into usable accounts on a running loopback
// server.  For each "username password" line of IN: sign in with the
// one-time password (403 password_change_required + a restricted ticket),
// change it (the ticket becomes "full": members need no MFA by default),
// then sign in again for a fresh full ticket (12 h absolute lifetime).
// Writes TICKETS (one full ticket a line) and CREDS ("username password").
//
// usage: node bench/accounts.mjs PORT CA.pem TENANT IN TICKETS CREDS
// Bounded: at most 1,000 accounts, 10 s per request, 127.0.0.1 only.
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { randomBytes } from 'node:crypto';

const [port, caFile, tenant, inFile, ticketsFile, credsFile] = process.argv.slice(2);
if (!credsFile) {
	console.error('usage: node bench/accounts.mjs PORT CA.pem TENANT IN TICKETS CREDS');
	process.exit(2);
}
const ca = readFileSync(caFile);
const agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca });

function post(path, body, ticket) {
	return new Promise((resolve, reject) => {
		const data = Buffer.from(JSON.stringify(body));
		const headers = { 'content-type': 'application/json', 'content-length': data.length };
		if (ticket) headers.authorization = `Bearer ${ticket}`;
		const req = https.request({ host: '127.0.0.1', port: Number(port), path, method: 'POST',
			headers, agent, timeout: 10000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				let json = null;
				try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* empty */ }
				resolve({ status: res.statusCode, json });
			});
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', reject);
		req.end(data);
	});
}

const lines = readFileSync(inFile, 'utf8').split('\n').filter((l) => l.trim()).slice(0, 1000);
const tickets = [], creds = [];
for (const line of lines) {
	const sp = line.indexOf(' ');
	const username = line.slice(0, sp), onetime = line.slice(sp + 1);
	const first = await post('/api/v1/auth/login', { tenant, username, password: onetime, session: 'bearer' });
	if (first.status !== 403 || first.json?.error?.code !== 'password_change_required')
		throw new Error(`${username}: first sign-in answered ${first.status} ${JSON.stringify(first.json?.error)}`);
	const pw = `Bw-${randomBytes(12).toString('base64url')}-7q`;
	const ch = await post('/api/v1/auth/password', { current_password: onetime, new_password: pw }, first.json.ticket);
	if (ch.status !== 200 || ch.json?.scope !== 'full')
		throw new Error(`${username}: password change answered ${ch.status} ${JSON.stringify(ch.json)}`);
	const full = await post('/api/v1/auth/login', { tenant, username, password: pw, session: 'bearer' });
	if (full.status !== 200 || full.json?.scope !== 'full' || typeof full.json.ticket !== 'string')
		throw new Error(`${username}: second sign-in answered ${full.status} ${JSON.stringify(full.json)}`);
	tickets.push(full.json.ticket);
	creds.push(`${username} ${pw}`);
}
writeFileSync(ticketsFile, tickets.join('\n') + '\n', { mode: 0o600 });
writeFileSync(credsFile, creds.join('\n') + '\n', { mode: 0o600 });
agent.destroy();
console.log(`accounts: ${tickets.length} members ready`);
