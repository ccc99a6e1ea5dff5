// 14 — audit retention and capacity (PS-LOG-d): a tenant's capacity
// threshold raises an `audit.capacity` record; after the 180-day floor the
// hourly job purges old records behind a signed anchor, records the purge,
// and the trail still verifies — while the same purge seen at a time inside
// the floor is reported as tampering.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, assertStatus, runBin } from './lib/server.mjs';

let srv, sec, aud;
before(async () => {
	srv = await Server.start();
	sec = await srv.bootstrapAdmin('acme', 'secadmin');
	aud = await srv.bootstrapAdmin('acme', 'auditor');
});
after(async () => {
	await srv?.dispose();
});

test('the capacity threshold records an audit.capacity event', async () => {
	const r = await srv.request('PUT', '/api/v1/policy', { json: { audit_capacity_records: 10 }, token: sec.ticket });
	assertStatus(r, 200, 'set capacity');
	assert.equal(r.json.policy.audit_capacity_records, 10);
	const bad = await srv.request('PUT', '/api/v1/policy', { json: { audit_capacity_records: -1 }, token: sec.ticket });
	assertStatus(bad, 400, 'negative capacity refused');
	assert.equal((await srv.audit(aud.ticket, 'event=audit.capacity')).length, 0, 'no alert before the check');
	await srv.restart();     // the hourly housekeeping also runs right after start
	let recs = [];
	for (let i = 0; i < 40 && recs.length === 0; i++) {
		await new Promise((res) => setTimeout(res, 250));
		recs = await srv.audit(aud.ticket, 'event=audit.capacity');
	}
	assert.equal(recs.length, 1, 'one capacity record');
	assert.equal(recs[0].detail.capacity, 10);
	assert.ok(recs[0].detail.records >= 9, `records ${recs[0].detail.records}`);
});

test('retention purges behind a signed anchor and the trail still verifies', async () => {
	const clockEnv = { BULWARK_TEST_CLOCK: srv.clockPath };
	const before_ = runBin(['audit', 'verify', '--data', srv.dir], { env: clockEnv });
	assert.equal(before_.code, 0, before_.stdout + before_.stderr);
	const firstBefore = Number(/\((\d+)\.\.\d+\)/.exec(before_.stdout)[1]);
	assert.equal(firstBefore, 1);

	await srv.advance(200 * 86400);   // 200 days later: past the 180-day default
	await srv.restart();              // housekeeping runs at start
	await new Promise((res) => setTimeout(res, 2500));
	await srv.stop();

	const v = runBin(['audit', 'verify', '--data', srv.dir], { env: clockEnv });
	assert.equal(v.code, 0, `verify after purge: ${v.stdout}${v.stderr}`);
	const first = Number(/\((\d+)\.\.\d+\)/.exec(v.stdout)[1]);
	assert.ok(first > 1, `records before the anchor were purged (chain now starts at ${first})`);

	const exp = runBin(['audit', 'export', '--data', srv.dir, '--format', 'json'], { env: clockEnv });
	assert.equal(exp.code, 0);
	const recs = JSON.parse(exp.stdout);
	const purge = recs.find((r) => r.event === 'audit.purge');
	assert.ok(purge, 'the purge is itself recorded');
	assert.ok(purge.detail.records >= 1);
	assert.ok(!recs.some((r) => r.event === 'tenant.create'), 'the oldest records are gone');

	// the same store judged at the real time: records younger than the
	// retention floor are missing, which only tampering can explain
	const early = runBin(['audit', 'verify', '--data', srv.dir], { env: { BULWARK_TEST_CLOCK: '/nonexistent' } });
	assert.equal(early.code, 1, early.stdout);
	assert.match(early.stdout, /retention floor/);
	await srv.launch();
});

test('clean shutdown', async () => {
	await srv.finish();
});
