import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from './helpers/server.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-crash-'));
const env = { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };
let current: ServerProcess | null = null;
after(() => {
  current?.child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Sends checks from `workers` concurrent loops until `stop` says so; counts what was acknowledged. */
async function load(url: string, key: string, workers: number, stop: () => boolean) {
  let acknowledged = 0;
  let unanswered = 0;
  const ids: string[] = [];
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stop(); i += 1) {
      const idempotencyKey = `w${w}-${i}-${Math.random().toString(36).slice(2)}`;
      try {
        const res = await request(`${url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key, usage_type: 'image', idempotency_key: idempotencyKey } });
        if (res.status === 200 && res.body.allowed === true) {
          acknowledged += 1;
          ids.push(idempotencyKey);
        }
      } catch {
        unanswered += 1; // in flight when the process died: counted at most once
        return;
      }
    }
  }));
  return { acknowledged, unanswered, ids };
}

test('kill -9 under load loses no acknowledged check, and counts none twice', { timeout: 120_000 }, async () => {
  current = await spawnServer(dataDir, { env });
  const customer = await setupCustomer(adminClient(current.url));
  let totalAcknowledged = 0;
  let totalUnanswered = 0;
  const sample: string[] = [];

  for (let round = 0; round < 3; round += 1) {
    const server: ServerProcess = current!;
    let killed = false;
    const loading = load(server.url, customer.key, 32, () => killed);
    await new Promise((r) => setTimeout(r, 400 + Math.random() * 600));
    server.child.kill('SIGKILL');
    killed = true;
    const { signal }: { signal: NodeJS.Signals | null } = await server.exited;
    assert.equal(signal, 'SIGKILL');
    const result = await loading;
    assert.ok(result.acknowledged > 50, `round ${round}: only ${result.acknowledged} checks before the kill`);
    totalAcknowledged += result.acknowledged;
    totalUnanswered += result.unanswered;
    sample.push(...result.ids.slice(-3));

    current = await spawnServer(dataDir, { env });
    const usage = await request(`${current.url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
    assert.equal(usage.status, 200);
    assert.ok(usage.body.monthly_used >= totalAcknowledged, `round ${round}: ${usage.body.monthly_used} recorded < ${totalAcknowledged} acknowledged`);
    assert.ok(usage.body.monthly_used <= totalAcknowledged + totalUnanswered, `round ${round}: ${usage.body.monthly_used} recorded > ${totalAcknowledged} acknowledged + ${totalUnanswered} in flight`);
  }

  // The last acknowledged checks of each round are remembered: a retry is a replay, not a new count.
  const before = (await request(`${current!.url}/v1/usage`, { headers: { 'x-api-key': customer.key } })).body.monthly_used;
  for (const idempotencyKey of sample) {
    const res: { body: { replayed: boolean } } = await request(`${current!.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: customer.key, usage_type: 'image', idempotency_key: idempotencyKey } });
    assert.equal(res.body.replayed, true);
  }
  const afterRetries = (await request(`${current!.url}/v1/usage`, { headers: { 'x-api-key': customer.key } })).body.monthly_used;
  assert.equal(afterRetries, before);

  // The rollups agree with the counter after recovery.
  const month = await request(`${current!.url}/v3/ocr-usage?group_by=app_id&timespan=month`, { headers: { 'x-api-key': customer.key } });
  assert.equal(month.body.ocr_usage.reduce((s: number, r: { count: number }) => s + r.count, 0), afterRetries);
});
