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
 * once. The plan prices both in credits and grants are made under the
 * load: after every restart the grants answered are held, and the credits
 * used (as the admin API reads them) are exactly the recorded units, priced;
 * at the end, the balance is every grant less every record, priced.
 */
export async function crashUnderLoad(options: CrashOptions): Promise<{ acknowledged: number; unanswered: number; units: number; counter: number }> {
  let server = await options.start();
  const customer = await setupCustomer(adminClient(server.url));
  // Checks of images cost 1 credit a unit, ingested PDFs 2: the balance is spent by both, and granted to under load.
  const admin = () => adminClient(server.url);
  const price: Record<string, number> = { image: 1, pdf: 2 };
  assert.equal((await admin().patch(`/admin/plans/${customer.planId}`, { credits: { per_unit: price } })).status, 200);
  let grantedAcknowledged = 0;
  const grantsUnanswered: string[] = [];
  const GRANT = 1_000;
  const grant = (url: string, idempotencyKey: string, amount = GRANT) => adminClient(url).post(`/admin/groups/${customer.groupId}/grants`, { amount, idempotency_key: idempotencyKey });
  assert.equal((await grant(server.url, 'crash-initial', 10_000_000)).status, 201);
  grantedAcknowledged += 10_000_000;
  /** What the store holds of the credits: granted in all, and the balance. */
  const credits = async (url: string): Promise<{ granted: number; balance: number }> => {
    const res = await adminClient(url).get(`/admin/groups/${customer.groupId}/grants`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.next, null, 'one page of grants');
    return { granted: res.body.items.reduce((s: number, g: { amount: number }) => s + g.amount, 0), balance: res.body.balance };
  };
  /** The month's recorded units priced: what the records say was spent. */
  const priced = async (url: string): Promise<number> => {
    const res = await request(`${url}/v3/ocr-usage?group_by=usage_type&timespan=month`, { headers: { 'x-api-key': customer.key } });
    return res.body.ocr_usage.reduce((s: number, r: { usage_type: string; count: number }) => s + price[r.usage_type]! * r.count, 0);
  };
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
    // Up to five grants, one after another, while the calls spend.
    const grants = (async () => {
      for (let i = 0; i < 5 && !killed; i += 1) {
        const idempotencyKey = fresh('grant');
        try {
          const res = await grant(current.url, idempotencyKey);
          assert.equal(res.status, 201, JSON.stringify(res.body));
          grantedAcknowledged += GRANT;
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          grantsUnanswered.push(idempotencyKey);
          return;
        }
      }
    })();
    // Killed at a random moment once the round's load is flowing (a slow start on a busy machine is not a kill before any load).
    const flowing = Date.now() + 30_000;
    while (answered < 20 && Date.now() < flowing) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, Math.random() * 700));
    current.child.kill('SIGKILL');
    killed = true;
    assert.equal((await current.exited).signal, 'SIGKILL');
    await Promise.all([...checks, ...batches, grants]);
    assert.ok(answered >= 20, `round ${round}: only ${answered} calls answered before the kill`);

    server = await options.start();
    const inFlight = unanswered.reduce((s, u) => s + unitsOf(u), 0);
    const used = await recorded(server.url);
    assert.ok(used >= acknowledgedUnits, `round ${round}: ${used} units counted < ${acknowledgedUnits} acknowledged`);
    assert.ok(used <= acknowledgedUnits + inFlight, `round ${round}: ${used} units counted > ${acknowledgedUnits} acknowledged + ${inFlight} in flight`);
    // Every grant answered is durable, and every consumption recorded took its credits: no more, no less.
    const held = await credits(server.url);
    assert.ok(held.granted >= grantedAcknowledged && held.granted <= grantedAcknowledged + GRANT * grantsUnanswered.length, `round ${round}: ${held.granted} granted, ${grantedAcknowledged} acknowledged`);
    assert.equal(held.granted - held.balance, await priced(server.url), `round ${round}: the credits used are the records priced`);
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
  for (const idempotencyKey of grantsUnanswered) assert.ok([200, 201].includes((await grant(server.url, idempotencyKey)).status));
  const units = await recorded(server.url);
  assert.equal(units, expected, 'after the retries, every acknowledged or retried call is recorded exactly once');
  for (const idempotencyKey of lastAcknowledged) assert.equal((await check(server.url, idempotencyKey)).body.replayed, true);
  assert.equal(await recorded(server.url), units, 'retries of acknowledged checks are replays, not new records');
  // Granted: every grant acknowledged or retried, once. Used: every unit recorded, priced; nothing for the replays.
  const granted = grantedAcknowledged + GRANT * grantsUnanswered.length;
  const spent = await priced(server.url);
  assert.deepEqual(await credits(server.url), { granted, balance: granted - spent }, 'the balance is exact: granted less the records priced');
  const counter = await counted(server.url);
  if (options.counterExactAfterKill) assert.equal(counter, units, 'the quota counter agrees with the records');
  else assert.ok(Math.abs(counter - units) <= inFlight, `the quota counter (${counter}) is off the records (${units}) by more than the ${inFlight} units in flight at the kills`);
  server.child.kill('SIGTERM');
  await server.exited;
  return { acknowledged: acknowledgedUnits, unanswered: unanswered.length, units, counter };
}
