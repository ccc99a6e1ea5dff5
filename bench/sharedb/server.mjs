// bench/sharedb/server.mjs — the ShareDB peer of bench/docs.sh (not part of
// Bulwark; a benchmark fixture only).  A stock ShareDB 7 backend with the
// rich-text OT type (quill-delta) registered, the in-memory database (it
// keeps every op and the snapshot in memory: nothing is persisted, nothing
// is encrypted) and no pub/sub adapter (one process), served over WebSocket
// with `ws` + @teamwork/websocket-json-stream exactly as ShareDB's examples
// do.  Optionally TLS (same certificate as the other servers of the run).
//
//   GET /doc?c=docs&d=bench   -> {"v":V,"type":URI,"data":{"ops":[...]}}
//                                (the server's snapshot: docs.sh compares it
//                                with what the load generator expects)
//   GET /health               -> {"status":"ok"}
//   WebSocket (any path)      -> a ShareDB agent
//
// usage: node server.mjs --port P [--host 127.0.0.1] [--cert C.pem --key K.pem]
// Listens on 127.x only.  Stops on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import ShareDB from 'sharedb';
import richText from 'rich-text';
import { WebSocketServer } from 'ws';
import WebSocketJSONStream from '@teamwork/websocket-json-stream';

const args = process.argv.slice(2);
const opt = { host: '127.0.0.1', port: 0, cert: '', key: '' };
for (let i = 0; i < args.length; i += 2) {
	const k = args[i].replace(/^--/, ''), v = args[i + 1];
	if (!(k in opt) || v === undefined) {
		console.error('usage: node server.mjs --port P [--host 127.0.0.1] [--cert C.pem --key K.pem]');
		process.exit(2);
	}
	opt[k] = k === 'port' ? Number(v) : v;
}
if (!(opt.port > 0 && opt.port < 65536) || !/^127\./.test(opt.host) || !!opt.cert !== !!opt.key) {
	console.error('sharedb-server: need --port, a 127.x --host, and --cert with --key');
	process.exit(2);
}

ShareDB.types.register(richText.type);
const backend = new ShareDB({ db: new ShareDB.MemoryDB() });
let errors = 0;
backend.on('error', (e) => { errors++; if (errors <= 20) console.error('sharedb-server: backend error', e); });

const json = (res, code, obj) => {
	const body = JSON.stringify(obj);
	res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
	res.end(body);
};
const onRequest = (req, res) => {
	const url = new URL(req.url, 'http://x');
	if (url.pathname === '/health')
		return json(res, 200, { status: 'ok', agents: backend.agentsCount, errors, streamErrors });
	if (url.pathname === '/doc') {
		const conn = backend.connect();
		const doc = conn.get(url.searchParams.get('c') || 'docs', url.searchParams.get('d') || 'bench');
		return doc.fetch((err) => {
			if (err)
				json(res, 500, { error: String(err) });
			else
				json(res, 200, { v: doc.version, type: doc.type ? doc.type.uri : null, data: doc.data || null });
			conn.close();
		});
	}
	json(res, 404, { error: 'not found' });
};
const server = opt.cert
	? https.createServer({ cert: readFileSync(opt.cert), key: readFileSync(opt.key) }, onRequest)
	: http.createServer(onRequest);
const wss = new WebSocketServer({ server, maxPayload: 1088 * 1024 });
let streamErrors = 0;
wss.on('connection', (ws) => {
	ws.on('error', () => {});
	const stream = new WebSocketJSONStream(ws);
	// a client that went away mid-write (EPIPE/ECONNRESET) must not kill the
	// process: ShareDB's agent does not listen for the stream's errors
	stream.on('error', () => { streamErrors++; });
	backend.listen(stream);
});
server.listen(opt.port, opt.host, () => {
	console.error(`sharedb-server: ShareDB on ${opt.cert ? 'wss' : 'ws'}://${opt.host}:${opt.port}/ (pid ${process.pid})`);
});
const stop = () => {
	for (const c of wss.clients)
		c.terminate();
	server.close(() => process.exit(0));
	setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
