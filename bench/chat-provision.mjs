// chat-provision.mjs — benchmark set-up (not a test) for bench/chat.sh: creates
// the groups of the group-chat workload on a running loopback Bulwark through
// the REST API (POST /api/v1/conversations, Bearer ticket of the creator).
//
// USERS is the file `bulwark loadtest-seed` writes: "user_id<TAB>username<TAB>
// ticket" a line; line i (0-based) is user i of the workload.  The shape is the
// one bench/chatload.c assumes: group 0 = users 0..G-1 (created by user 0),
// group g >= 1 = users (g-1)*S .. (g-1)*S+S-1 (created by the first of them),
// for every full block of S users.  Writes CONVS: one conversation id a line,
// group 0 first.
//
// usage: node bench/chat-provision.mjs PORT CA.pem USERS N G S CONVS
// Bounded: N <= 19,000, 8 requests in flight, 15 s per request, at most 5
// retries of a 429/503 (after its Retry-After, at most 5 s), 127.0.0.1 only.
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';

const [port, caFile, usersFile, nArg, gArg, sArg, convsFile] = process.argv.slice(2);
if (!convsFile) {
	console.error('usage: node bench/chat-provision.mjs PORT CA.pem USERS N G S CONVS');
	process.exit(2);
}
const N = Number(nArg), G = Number(gArg), S = Number(sArg);
if (!(N >= 1 && N <= 19000 && G >= 0 && G <= N && G <= 1000 && S >= 2 && S <= N)) {
	console.error('chat-provision: need 1 <= N <= 19000, G <= min(N, 1000), 2 <= S <= N');
	process.exit(2);
}
const ca = readFileSync(caFile);
const users = readFileSync(usersFile, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
	const [id, username, ticket] = l.split('\t');
	return { id: Number(id), username, ticket };
});
if (users.length < N || users.slice(0, N).some((u) => !(u.id > 0) || !u.ticket)) {
	console.error(`chat-provision: ${usersFile} must hold ${N} lines "user_id<TAB>username<TAB>ticket"`);
	process.exit(2);
}
const agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function post(path, body, ticket) {
	return new Promise((resolve, reject) => {
		const data = Buffer.from(JSON.stringify(body));
		const req = https.request({
			host: '127.0.0.1', port: Number(port), path, method: 'POST', agent, timeout: 15000,
			headers: { 'content-type': 'application/json', 'content-length': data.length,
				authorization: `Bearer ${ticket}` },
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				let json = null;
				try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* empty */ }
				resolve({ status: res.statusCode, json, retryAfter: Number(res.headers['retry-after'] || 1) });
			});
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', reject);
		req.end(data);
	});
}

// groups: [first member, count]
const groups = [];
if (G >= 2)
	groups.push([0, G]);
else
	groups.push(null);   // no big group: keep line numbers = group numbers
for (let g = 0; (g + 1) * S <= N; g++)
	groups.push([g * S, S]);

const ids = new Array(groups.length).fill(0);
let next = 0, failed = null;
async function worker() {
	while (!failed && next < groups.length) {
		const k = next++;
		if (!groups[k])
			continue;
		const [first, count] = groups[k];
		const members = [];
		for (let u = first + 1; u < first + count; u++)
			members.push(users[u].id);
		const body = { kind: 'group', name: k === 0 ? 'bench big group' : `bench group ${k}`, members };
		for (let attempt = 0; ; attempt++) {
			const r = await post('/api/v1/conversations', body, users[first].ticket);
			if ((r.status === 429 || r.status === 503) && attempt < 5) {
				await sleep(Math.min(5, Math.max(0.1, r.retryAfter)) * 1000);
				continue;
			}
			const id = r.json?.conversation?.id;
			if (r.status !== 201 || !(id > 0)) {
				failed = `group ${k}: ${r.status} ${JSON.stringify(r.json)}`;
				return;
			}
			ids[k] = id;
			break;
		}
	}
}
const t0 = Date.now();
await Promise.all(Array.from({ length: 8 }, worker));
agent.destroy();
if (failed) {
	console.error(`chat-provision: ${failed}`);
	process.exit(1);
}
writeFileSync(convsFile, ids.map((id) => String(id)).join('\n') + '\n');
console.error(`chat-provision: ${groups.filter(Boolean).length} groups in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
