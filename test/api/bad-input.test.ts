import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Pool } from 'undici';
import { answerProblem, operationRequests, rawRequests, reproduce, send, type FuzzContext, type FuzzRequest, type OpenApiDocument } from '../helpers/fuzz.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../helpers/server.js';

// scale-out: the fuzzing runs against the embedded store only (100,000 requests); the scale-out store's answers to odd strings are pinned in check, events and cloudevents.

/**
 * Property-based bad input over every documented route, against `tollgate
 * serve` in its own process over real sockets: no answer is ever a 5xx, and
 * every 4xx is a JSON `{"error", "message"}`. TOLLGATE_FUZZ_REQUESTS sets how
 * many requests (100,000 by default), TOLLGATE_FUZZ_SEED replays a run.
 */
const TOTAL = Number(process.env.TOLLGATE_FUZZ_REQUESTS ?? 100_000);
const SEED = Number(process.env.TOLLGATE_FUZZ_SEED ?? Date.now() % 2 ** 31);
/** Requests in flight at once: one fast-check run per lane. */
const LANES = 48;

let server: ServerProcess;
let dataDir: string;
let doc: OpenApiDocument;
let ctx: FuzzContext;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-fuzz-'));
  // The generated requests carry wrong credentials by the thousand from one address: with the failed-authentication
  // throttle on, most would be refused before reaching the code under test (the throttle has tests of its own).
  server = await spawnServer(dataDir, { env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn', TOLLGATE_AUTH_FAILURE_LIMIT: '0' } });
  const admin = adminClient(server.url);
  // The customer whose key the generated requests use: its ids are never offered to the generator, so no request revokes or limits it.
  const suffix = Math.random().toString(36).slice(2, 14);
  const customer = await setupCustomer(admin, { planId: `keep-${suffix}`, groupId: `keep-${suffix}`, appId: `keep-${suffix}` });
  // What the generator may change and delete: a second customer, a service token, a webhook endpoint.
  const victim = await setupCustomer(admin);
  const token = await admin.post('/admin/service-tokens', { name: 'fuzz' });
  const webhook = await admin.post('/admin/webhooks', { url: 'http://127.0.0.1:9/hook', group_ids: [victim.groupId] });
  assert.equal(webhook.status, 201, JSON.stringify(webhook.body));
  ctx = {
    adminToken: ADMIN_TOKEN,
    customerKey: customer.key,
    customerAppId: customer.appId,
    ids: {
      plan_id: [victim.planId], group_id: [victim.groupId], app_id: [victim.appId], key_id: [victim.keyId],
      token_id: [token.body.token_id ?? token.body.id], webhook_id: [webhook.body.id], delivery_id: ['dlv_unknown'],
      period: ['2026-01', '1970-01', '9999-12', '2026-13', '2026-1'],
    },
  };
  const res = await request(`${server.url}/openapi.json`);
  assert.equal(res.status, 200);
  doc = res.body;
});

after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every documented operation, "METHOD /path/{param}". */
function operations(): Array<{ path: string; method: string }> {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ path, method })));
}

test(`${TOTAL} generated bad requests over every documented route: no 5xx, every 4xx is {"error", "message"}`, { timeout: 15 * 60_000 }, async () => {
  const pool = new Pool(server.url, { connections: LANES, pipelining: 1, keepAliveTimeout: 30_000 });
  const ops = operations();
  assert.ok(ops.length > 30, `the document lists the routes: ${ops.length}`);
  const requests = fc.oneof(
    ...ops.map(({ path, method }) => ({ weight: 4, arbitrary: operationRequests(doc, path, method, doc.paths[path]![method]!, ctx) })),
    { weight: 3, arbitrary: rawRequests(ctx) },
  ).map((r: FuzzRequest) => Object.assign(r, { [fc.toStringMethod]: () => reproduce(r, server.url) }));

  const sent = new Map<string, number>();
  const statuses = new Map<number, number>();
  let total = 0;
  /** The lane that failed first: the others stop sending, it goes on to shrink its counterexample. */
  let failedLane = -1;
  const started = Date.now();
  const perLane = Math.ceil(TOTAL / LANES);
  const lanes = Array.from({ length: LANES }, (_, lane) => fc.assert(fc.asyncProperty(requests, async (r) => {
    if (failedLane !== -1 && failedLane !== lane) return;
    let answer;
    try {
      answer = await send(pool, server.url, r);
    } catch (error) {
      if (failedLane === -1) failedLane = lane;
      throw new Error(`no answer (${(error as Error).message})\n  reproduce: ${reproduce(r, server.url)}`);
    }
    total += 1;
    sent.set(r.operation, (sent.get(r.operation) ?? 0) + 1);
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const problem = answerProblem(r, answer);
    if (problem !== null) {
      if (failedLane === -1) failedLane = lane;
      throw new Error(`${problem}\n  reproduce: ${reproduce(r, server.url)}`);
    }
  }), { numRuns: perLane, seed: SEED + lane, includeErrorInReport: true }));
  const results = await Promise.allSettled(lanes);
  await pool.close();
  const seconds = (Date.now() - started) / 1000;
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.deepEqual(failures.map((f) => String(f.reason?.message ?? f.reason)), [], `seed ${SEED}`);

  const byStatus = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
  console.log(`# bad input: ${total} requests in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s), seed ${SEED}; ${byStatus}`);
  assert.ok(total >= TOTAL, `${total} requests sent`);
  const missed = ops.map(({ path, method }) => `${method.toUpperCase()} ${path}`).filter((op) => !sent.has(op));
  assert.deepEqual(missed, [], 'every documented operation was sent requests');

  // The server saw them too, route by route, and answered none of them with a 5xx.
  const metrics = await request(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const routed = new Set([...String(metrics.body).matchAll(/tollgate_http_request_duration_seconds_count\{method="(\w+)",route="([^"]+)"/g)]
    .map((m) => `${m[1]} ${m[2]!.replace(/:(\w+)/g, '{$1}')}`));
  assert.deepEqual(ops.map(({ path, method }) => `${method.toUpperCase()} ${path}`).filter((op) => !routed.has(op)), [], 'every operation was routed by the server');
  assert.doesNotMatch(String(metrics.body), /status_class="5xx"/);

  // Still healthy and still counting.
  assert.equal((await request(`${server.url}/healthz`)).status, 200);
  const check = await request(`${server.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: ctx.customerKey, usage_type: 'image' } });
  assert.equal(check.status, 200);
  assert.equal(check.body.allowed, true);
  // No error, and no 500, in the logs.
  const errors = server.output().split('\n').filter((line) => line.startsWith('{')).filter((line) => (JSON.parse(line) as { level: number }).level >= 50 || /"statusCode":5\d\d/.test(line));
  assert.deepEqual(errors, []);
});
