import assert from 'node:assert/strict';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from './server.js';
import type { ServerProcess } from './process.js';

export interface CrashOptions {
  /** Starts (or restarts) the server under test, on the same data. */
  start(): Promise<ServerProcess>;
  rounds: number;
  /**
   * Whether the quota counter (what `GET /v1/usage` and the limits read) is
   * exact after a kill, as the embedded store's, rebuilt from its file at
   * start. The scale-out store's lives on in Redis: a call in flight at a
   * kill may have been counted there and not recorded (a check), or
   * recorded and not counted (an event batch).
   */
  counterExactAfterKill: boolean;
  /** Concurrent check loops and event-batch loops during each round. */
  checkWorkers?: number;
  batchWorkers?: number;
}

/** A call sent before a kill whose answer never came: counted at most once, and retried at the end. */
type Unanswered = { kind: 'check'; idempotencyKey: string } | { kind: 'batch'; events: EventBody[] };

interface EventBody {
  id: string;
  app_id: string;
  usage_type: string;
  count: number;
}

/**
 * Steady load of checks (each under its own idempotency key) and event
 * batches (each event with its own id) against one server, killed with
 * SIGKILL at a random moment of each round and started again on the same
 * data. After every restart, the usage the server has recorded is at least
 * what was acknowledged and at most that plus what was in flight at the
 * kills. At the end every call left unanswered is retried with the same keys
 * and ids, after which every check and every event must be recorded exactly
 * once.
 */
export async function crashUnderLoad(options: CrashOptions): Promise<{ acknowledged: number; unanswered: number; units: number; counter: number }> {
  let server = await options.start();
  const customer = await setupCustomer(adminClient(server.url));
  /** The month's units as recorded: the rollups the usage API reads. */
  const recorded = async (url: string): Promise<number> => {
    const res = await request(`${url}/v3/ocr-usage?group_by=usage_type&timespan=month`, { headers: { 'x-api-key': customer.key } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.ocr_usage.reduce((s: number, r: { count: number }) => s + r.count, 0);
  };
  /** The month's units as the quota counter has them. */
  const counted = async (url: string): Promise<number> => {
    const res = await request(`${url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.monthly_used as number;
  };
  let acknowledgedUnits = 0;
  const unanswered: Unanswered[] = [];
  /** The last checks acknowledged before each kill: a retry must be a replay. */
  const lastAcknowledged: string[] = [];
  let sequence = 0;
  const fresh = (prefix: string) => `${prefix}-${(sequence += 1)}-${Math.random().toString(36).slice(2, 8)}`;
  const check = (url: string, idempotencyKey: string) => request(`${url}/v1/check`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: customer.key, usage_type: 'image', idempotency_key: idempotencyKey },
  });
  const ingest = (url: string, events: EventBody[]) => request(`${url}/v1/events`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: events,
  });

  const unitsOf = (u: Unanswered) => (u.kind === 'check' ? 1 : u.events.reduce((n, e) => n + e.count, 0));
  for (let round = 0; round < options.rounds; round += 1) {
    const current = server;
    let killed = false;
    let answered = 0;
    const checks = Array.from({ length: options.checkWorkers ?? 24 }, async () => {
      while (!killed) {
        const idempotencyKey = fresh('chk');
        try {
          const res = await check(current.url, idempotencyKey);
          assert.ok(res.status === 200 && res.body.allowed === true, `check answered ${res.status} ${JSON.stringify(res.body)}`);
          acknowledgedUnits += 1;
          answered += 1;
          if (lastAcknowledged.push(idempotencyKey) > 3 * options.rounds) lastAcknowledged.shift();
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          unanswered.push({ kind: 'check', idempotencyKey });
          return;
        }
      }
    });
    const batches = Array.from({ length: options.batchWorkers ?? 2 }, async () => {
      while (!killed) {
        const events = Array.from({ length: 25 }, (_, i) => ({ id: fresh('evt'), app_id: customer.appId, usage_type: 'pdf', count: 1 + (i % 3) }));
        try {
          const res = await ingest(current.url, events);
          assert.deepEqual([res.status, res.body.accepted, res.body.duplicates], [200, events.length, 0], JSON.stringify(res.body));
          acknowledgedUnits += events.reduce((s, e) => s + e.count, 0);
          answered += 1;
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          unanswered.push({ kind: 'batch', events });
          return;
        }
      }
    });
    // Killed at a random moment once the round's load is flowing (a slow start on a busy machine is not a kill before any load).
    const flowing = Date.now() + 30_000;
    while (answered < 20 && Date.now() < flowing) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, Math.random() * 700));
    current.child.kill('SIGKILL');
    killed = true;
    assert.equal((await current.exited).signal, 'SIGKILL');
    await Promise.all([...checks, ...batches]);
    assert.ok(answered >= 20, `round ${round}: only ${answered} calls answered before the kill`);

    server = await options.start();
    const inFlight = unanswered.reduce((s, u) => s + unitsOf(u), 0);
    const used = await recorded(server.url);
    assert.ok(used >= acknowledgedUnits, `round ${round}: ${used} units counted < ${acknowledgedUnits} acknowledged`);
    assert.ok(used <= acknowledgedUnits + inFlight, `round ${round}: ${used} units counted > ${acknowledgedUnits} acknowledged + ${inFlight} in flight`);
  }

  const inFlight = unanswered.reduce((s, u) => s + unitsOf(u), 0);
  // Retried under the same idempotency keys and event ids, every call is now counted exactly once.
  let expected = acknowledgedUnits;
  for (const call of unanswered) {
    if (call.kind === 'check') {
      const res = await check(server.url, call.idempotencyKey);
      assert.equal(res.body.allowed, true, JSON.stringify(res.body));
      expected += 1;
    } else {
      const res = await ingest(server.url, call.events);
      assert.equal(res.body.accepted + res.body.duplicates, call.events.length, JSON.stringify(res.body));
      expected += call.events.reduce((s, e) => s + e.count, 0);
    }
  }
  const units = await recorded(server.url);
  assert.equal(units, expected, 'after the retries, every acknowledged or retried call is recorded exactly once');
  for (const idempotencyKey of lastAcknowledged) assert.equal((await check(server.url, idempotencyKey)).body.replayed, true);
  assert.equal(await recorded(server.url), units, 'retries of acknowledged checks are replays, not new records');
  const counter = await counted(server.url);
  if (options.counterExactAfterKill) assert.equal(counter, units, 'the quota counter agrees with the records');
  else assert.ok(Math.abs(counter - units) <= inFlight, `the quota counter (${counter}) is off the records (${units}) by more than the ${inFlight} units in flight at the kills`);
  server.child.kill('SIGTERM');
  await server.exited;
  return { acknowledged: acknowledgedUnits, unanswered: unanswered.length, units, counter };
}
