// signin.mjs — sign-in throughput through the Argon2id worker queue
// (design.md "Budgets"; components.md: logins need a bounded worker queue,
// IN-SURGE, PS-IA-f).  Not a test: a bounded load generator.
//
// CONC clients, each on its own kept-alive TLS connection, post correct
// bearer sign-ins for the members in CREDS (round-robin) back to back for
// SECS seconds, then wait for the requests in flight (10 s timeout each).
// Prints one JSON object: counts by status and error code, transport
// errors, sign-ins/s (200s only), latency percentiles of the 200s and of
// all answers.  No back-off on 429: the overload run is meant to hammer.
//
// usage: node bench/signin.mjs PORT CA.pem TENANT CREDS CONC SECS
// Bounded: CONC <= 500, SECS <= 120, 127.0.0.1 only.
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [port, caFile, tenant, credsFile, concArg, secsArg] = process.argv.slice(2);
const conc = Number(concArg), secs = Number(secsArg);
if (!(conc >= 1 && conc <= 500 && secs > 0 && secs <= 120)) {
	console.error('usage: node bench/signin.mjs PORT CA.pem TENANT CREDS CONC(<=500) SECS(<=120)');
	process.exit(2);
}
const creds = readFileSync(credsFile, 'utf8').split('\n').filter((l) => l.trim())
	.map((l) => { const sp = l.indexOf(' '); return { username: l.slice(0, sp), password: l.slice(sp + 1) }; });
const agent = new https.Agent({ keepAlive: true, maxSockets: conc, maxFreeSockets: conc,
	ca: readFileSync(caFile) });

const statuses = {}, codes = {};
let transportErrors = 0, firstTransportError = null, retryAfterSeen = 0;
const okLat = [], allLat = [];

function signIn(i) {
	const c = creds[i % creds.length];
	const body = Buffer.from(JSON.stringify({ tenant, username: c.username, password: c.password, session: 'bearer' }));
	const t0 = process.hrtime.bigint();
	return new Promise((resolve) => {
		const req = https.request({ host: '127.0.0.1', port: Number(port), path: '/api/v1/auth/login',
			method: 'POST', agent, timeout: 10000,
			headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
			const chunks = [];
			res.on('data', (d) => chunks.push(d));
			res.on('end', () => {
				const ms = Number(process.hrtime.bigint() - t0) / 1e6;
				statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
				allLat.push(ms);
				if (res.statusCode === 200) okLat.push(ms);
				else {
					let code = 'unparsable';
					try { code = JSON.parse(Buffer.concat(chunks).toString('utf8')).error.code; } catch { /* counted */ }
					codes[code] = (codes[code] ?? 0) + 1;
					if (res.statusCode === 429 && res.headers['retry-after']) retryAfterSeen++;
				}
				resolve();
			});
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', (e) => {
			transportErrors++;
			firstTransportError ??= e.message;
			resolve();
		});
		req.end(body);
	});
}

const pct = (a, p) => {
	if (!a.length) return null;
	const s = Float64Array.from(a).sort();
	return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10;
};

const start = Date.now(), end = start + secs * 1000;
let seq = 0;
async function client(k) {
	let n = k;
	while (Date.now() < end) {
		await signIn(n);
		n += conc;
		seq++;
	}
}
await Promise.all(Array.from({ length: conc }, (_, k) => client(k)));
const elapsed = (Date.now() - start) / 1000;
agent.destroy();
console.log(JSON.stringify({
	conc, secs: Math.round(elapsed * 10) / 10, requests: seq, statuses, error_codes: codes,
	transport_errors: transportErrors, first_transport_error: firstTransportError,
	retry_after_on_429: retryAfterSeen,
	signins_per_s: Math.round(((statuses[200] ?? 0) / elapsed) * 10) / 10,
	ok_p50_ms: pct(okLat, 50), ok_p99_ms: pct(okLat, 99),
	all_p50_ms: pct(allLat, 50), all_p99_ms: pct(allLat, 99),
}));
