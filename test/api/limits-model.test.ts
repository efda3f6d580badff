import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { ManualClock } from '../../src/clock.js';
import { adminClient, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// The engine, through the public API on each store, against a plain model of
// the rules written here: named limits (windows, scopes, usage types), the
// shorthand fields, overrides, credits burnt down by priority then expiry,
// all or nothing, over random sequences of calls, grants, overrides and
// forward clock steps. Every answer must agree with the model's.

const T0 = Date.parse('2026-03-31T17:59:00Z'); // within hours of the month edge in every zone below
const KINDS = ['image', 'pdf', 'llm'] as const;
const ZONES = ['UTC', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York'] as const;
const WINDOW_MS: Record<string, number> = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

interface Spec { name: string; window: string; units: number; scope: 'group' | 'app' | 'key'; usageTypes: string[] | null }
interface PlanArb { zone: string; monthlyQuota: number; ratePerMinute: number; limits: Omit<Spec, 'name'>[]; prices: Record<string, number> | null }
type Op =
  | { op: 'call'; key: number; kind: string; cost: number }
  | { op: 'grant'; amount: number; priority: number; expiresIn: number | null }
  | { op: 'override'; target: number; entries: Array<{ name: number; units: number | null }> }
  | { op: 'step'; ms: number };

const units = fc.integer({ min: 0, max: 6 });
const planArb: fc.Arbitrary<PlanArb> = fc.record({
  zone: fc.constantFrom(...ZONES),
  monthlyQuota: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 12 })),
  ratePerMinute: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 8 })),
  limits: fc.array(fc.record({
    window: fc.constantFrom('second', 'minute', 'hour', 'day', 'billing_period'),
    units,
    scope: fc.constantFrom('group' as const, 'app' as const, 'key' as const),
    usageTypes: fc.option(fc.subarray([...KINDS], { minLength: 1 }), { nil: null }),
  }), { maxLength: 3 }),
  prices: fc.option(fc.record({ image: fc.integer({ min: 0, max: 3 }), pdf: fc.integer({ min: 0, max: 3 }), '*': fc.integer({ min: 0, max: 2 }) }), { nil: null, freq: 4 }),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('call' as const), key: fc.integer({ min: 0, max: 3 }), kind: fc.constantFrom(...KINDS), cost: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 10 }), priority: fc.integer({ min: 0, max: 2 }), expiresIn: fc.option(fc.constantFrom(1_000, 60_000, 3_600_000, 86_400_000), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('override' as const), target: fc.integer({ min: 0, max: 2 }), entries: fc.array(fc.record({ name: fc.nat(), units: fc.option(units, { nil: null }) }), { maxLength: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('step' as const), ms: fc.constantFrom(1, 999, 1_000, 30_000, 60_000, 3_600_000, 86_400_000, 20 * 86_400_000) }) },
);

interface Counter { windowStart: number; previous: number; current: number }
interface Grant { amount: number; used: number; priority: number; expiresAt: number | null; createdAt: number; seq: number }

/** The rules, plainly: what a check should answer, and what it leaves behind. */
class Model {
  now = T0;
  readonly overrides: Array<Record<string, number | null>> = [{}, {}, {}];
  readonly windows = new Map<string, Counter>();
  readonly periods = new Map<string, number>();
  readonly grants: Grant[] = [];
  readonly specs: Spec[];

  constructor(readonly plan: PlanArb) {
    this.specs = [
      { name: 'minute', window: 'minute', units: plan.ratePerMinute, scope: 'group', usageTypes: null },
      { name: 'app-minute', window: 'minute', units: -1, scope: 'app', usageTypes: null },
      { name: 'month', window: 'billing_period', units: plan.monthlyQuota, scope: 'group', usageTypes: null },
      { name: 'app-month', window: 'billing_period', units: -1, scope: 'app', usageTypes: null },
      ...plan.limits.map((l, i) => ({ ...l, name: `l${i}` })),
    ];
  }

  /** The names a group's (target 0) or an app's overrides may name. */
  names(target: number): string[] {
    return this.specs.map((s) => s.name).filter((name) => target > 0 || !name.startsWith('app-'));
  }

  monthStart(): number {
    return DateTime.fromMillis(this.now, { zone: this.plan.zone }).startOf('month').toMillis();
  }

  live(): Grant[] {
    return this.grants.filter((g) => g.expiresAt === null || g.expiresAt > this.now)
      .sort((a, b) => b.priority - a.priority || (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity) || a.createdAt - b.createdAt || a.seq - b.seq);
  }

  balance(): number {
    return this.live().reduce((sum, g) => sum + g.amount - g.used, 0);
  }

  window(id: string, ms: number): Counter {
    const start = this.now - (this.now % ms);
    const c = this.windows.get(id);
    const moved = c === undefined || start - c.windowStart >= 2 * ms ? { windowStart: start, previous: 0, current: 0 }
      : start > c.windowStart ? { windowStart: start, previous: c.current, current: 0 } : c;
    this.windows.set(id, moved);
    return moved;
  }

  call(key: number, kind: string, cost: number) {
    const app = key >> 1;
    const deal = { ...this.overrides[0], ...this.overrides[1 + app] };
    const applied = this.specs.flatMap((s) => {
      const units = deal[s.name] === undefined ? s.units : deal[s.name] ?? -1;
      // The shorthand months count every call even when unlimited (the usage they report); other limits lifted are gone.
      const counted = units >= 0 || s.name === 'month' || s.name === 'app-month';
      if (!counted || (s.usageTypes !== null && !s.usageTypes.includes(kind))) return [];
      const owner = s.scope === 'group' ? 'g' : s.scope === 'app' ? `a${app}` : `k${key}`;
      return [{ ...s, units, id: `${s.name}:${owner}` }];
    });
    let quota: string | null = null;
    let rate: string | null = null;
    const readings = applied.map((l) => {
      if (l.window === 'billing_period') {
        const id = `${l.id}:${this.monthStart()}`;
        const used = this.periods.get(id) ?? 0;
        if (l.units >= 0 && used + cost > l.units) quota ??= l.name;
        return { l, id, used };
      }
      const ms = WINDOW_MS[l.window]!;
      const c = this.window(l.id, ms);
      const weighted = c.previous * (1 - Math.min(ms, this.now - c.windowStart) / ms) + c.current;
      if (weighted + cost > l.units + 1e-9) rate ??= l.name;
      return { l, id: l.id, used: weighted, counter: c, ms };
    });
    const price = this.plan.prices === null ? null : (this.plan.prices[kind] ?? this.plan.prices['*']!) * cost;
    let deniedBy: string | null = quota ?? rate;
    let code = quota !== null ? 'quota_exceeded' : rate !== null ? 'rate_limited' : 'ok';
    if (deniedBy === null && price !== null && price > 0 && price > this.balance()) {
      deniedBy = 'credits';
      code = 'insufficient_credits';
    }
    const allowed = deniedBy === null;
    if (allowed) {
      for (const r of readings) {
        if (r.counter !== undefined) r.counter.current += cost;
        else this.periods.set(r.id, r.used + cost);
      }
      let left = price ?? 0;
      for (const g of this.live()) {
        const take = Math.min(g.amount - g.used, left);
        g.used += take;
        left -= take;
      }
    }
    // An answer reports the limits that bind: not the unlimited months.
    const used = readings.filter((r) => r.l.units >= 0).map((r) => {
      if (r.counter === undefined) return [r.l.name, r.used + (allowed ? cost : 0)];
      const c = r.counter;
      return [r.l.name, Math.max(0, Math.ceil(c.previous * (1 - Math.min(r.ms, this.now - c.windowStart) / r.ms) + c.current - 1e-9))];
    });
    return { allowed, code, denied_by: deniedBy, credits: price === null ? null : { charged: allowed ? price : 0, balance: this.balance() }, used };
  }
}

eachStore((store) => {
  let server: TestServer;
  let admin: AdminClient;
  const clock = new ManualClock(T0);
  let n = 0;

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  async function ok(res: Promise<{ status: number; body: any }>, status = 200) {
    const answer = await res;
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    return answer.body;
  }

  test('every answer agrees with a plain model of the rules', async () => {
    await fc.assert(fc.asyncProperty(planArb, fc.array(opArb, { minLength: 1, maxLength: 12 }), async (plan, ops) => {
      n += 1;
      clock.set(T0);
      const model = new Model(plan);
      const ids = { plan: `pm-plan-${n}`, group: `pm-group-${n}`, apps: [`pm-app-${n}-0`, `pm-app-${n}-1`] };
      await ok(admin.post('/admin/plans', {
        id: ids.plan, time_zone: plan.zone, monthly_quota: plan.monthlyQuota, rate_limit_per_minute: plan.ratePerMinute,
        limits: plan.limits.map((l, i) => ({ name: `l${i}`, window: l.window, units: l.units, scope: l.scope, ...(l.usageTypes === null ? {} : { usage_types: l.usageTypes }) })),
        ...(plan.prices === null ? {} : { credits: { per_unit: plan.prices } }),
      }), 201);
      await ok(admin.post('/admin/groups', { id: ids.group, name: ids.group, plan_id: ids.plan }), 201);
      const keys: string[] = [];
      for (const app of ids.apps) {
        await ok(admin.post(`/admin/groups/${ids.group}/apps`, { id: app }), 201);
        for (let k = 0; k < 2; k += 1) keys.push((await ok(admin.post(`/admin/apps/${app}/keys`, { name: 'k' }), 201)).key);
      }
      for (const [step, op] of ops.entries()) {
        const where = `step ${step} (${JSON.stringify(op)}) of ${JSON.stringify(ops)}`;
        if (op.op === 'step') {
          model.now += op.ms;
          clock.set(model.now);
        } else if (op.op === 'grant') {
          const expiresAt = op.expiresIn === null ? null : model.now + op.expiresIn;
          await ok(admin.post(`/admin/groups/${ids.group}/grants`, { amount: op.amount, priority: op.priority, ...(expiresAt === null ? {} : { expires_at: new Date(expiresAt).toISOString() }) }), 201);
          model.grants.push({ amount: op.amount, used: 0, priority: op.priority, expiresAt, createdAt: model.now, seq: model.grants.length });
        } else if (op.op === 'override') {
          const names = model.names(op.target);
          const deal = Object.fromEntries(op.entries.map((e) => [names[e.name % names.length]!, e.units]));
          const path = op.target === 0 ? `/admin/groups/${ids.group}` : `/admin/apps/${ids.apps[op.target - 1]}`;
          await ok(admin.patch(path, { limit_overrides: deal }));
          model.overrides[op.target] = deal;
        } else {
          const body = await ok(admin.post('/v1/check', { key: keys[op.key], usage_type: op.kind, cost: op.cost }));
          const expected = model.call(op.key, op.kind, op.cost);
          const actual = {
            allowed: body.allowed, code: body.code, denied_by: body.denied_by ?? null, credits: body.credits ?? null,
            used: (body.limits as Array<{ name: string; used: number }>).map((l) => [l.name, l.used]),
          };
          assert.deepEqual(actual, expected, where);
        }
      }
      if (plan.prices !== null) {
        const grants = await ok(admin.get(`/admin/groups/${ids.group}/grants?limit=100`));
        assert.equal(grants.balance, model.balance(), 'the stored balance agrees');
        // Which grants were spent: grants alike in priority, expiry and age may be spent in either order, so they are summed together.
        const spent = (list: Array<{ priority: number; expiresAt: number | null; createdAt: number; used: number }>) => {
          const sums = new Map<string, number>();
          for (const g of list) sums.set(`${g.priority}/${g.expiresAt}/${g.createdAt}`, (sums.get(`${g.priority}/${g.expiresAt}/${g.createdAt}`) ?? 0) + g.used);
          return Object.fromEntries([...sums].sort());
        };
        const stored = (grants.items as Array<{ priority: number; expires_at: string | null; created_at: string; used: number }>)
          .map((g) => ({ priority: g.priority, expiresAt: g.expires_at === null ? null : Date.parse(g.expires_at), createdAt: Date.parse(g.created_at), used: g.used }));
        assert.deepEqual(spent(stored), spent(model.grants), 'each grant was spent in burn-down order');
      }
    }), { numRuns: 40 });
  });
});
