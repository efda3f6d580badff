import type { Span } from '../../domain/periods.js';
import type { AcceptedUsage } from '../../engine/ports.js';
import type { Redis } from 'ioredis';
import { runScript } from './redis-script.js';
import { isSeededWindow } from '../../domain/limits.js';
import type { WindowCounter } from '../../domain/sliding-window.js';
import { CREDITS, type AppliedLimit, type MeterRequest, type MeterResult } from '../../domain/metering.js';
import { ALLOCATE_LUA, creditsKey, LOADED_LUA, movementsOf } from './redis-credits.js';
import { consumes, counterId, creditCharge, judge, limitStates, windowMs, type Reading } from '../../domain/limit-decision.js';

/**
 * One round trip per call: this script applies every limit of a call
 * all-or-nothing, atomically in Redis, with the arithmetic of `judge`
 * (src/domain/limit-decision.ts), which the in-process limiter uses. It
 * answers whether the call was admitted and every counter as it stands;
 * the code, the limit that refused, the remaining units and the waits are
 * worked out from those by the same pure functions.
 *
 * When the plan uses credits, the charge is spread over the group's grants
 * in the same step (ALLOCATE_LUA), and a charge the balance cannot cover
 * refuses the call: limits and credits are all-or-nothing together.
 *
 * KEYS: one per limit: a sliding window's hash (s: start, p: previous
 *   count, c: current count) or a billing period's counter; then, with
 *   credits, the group's credit hash.
 * ARGV: now, cost, quota TTL in ms, the credit charge (-1: no credits), the
 *   period's start, then per limit: kind (w: a second or minute window,
 *   created empty; h: an hour or day window, seeded; q), window ms, units (-1:
 *   never refuses), and 1 when the call consumes it, else 0.
 * A period counter or an hour or day window that does not exist yet answers `missing` and its index
 * (and changes nothing): the caller seeds it from PostgreSQL with SET NX
 * and calls again; credits not loaded for the period answer `missing` and 0.
 * The answer: admitted (1/0), each limit's counts, then with credits the
 * allocation (src/store/redis/redis-credits.ts, `movementsOf`).
 */
export const ADMIT_SCRIPT = `${ALLOCATE_LUA}${LOADED_LUA}
local now, cost, quotaTtl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local charge, periodStart = tonumber(ARGV[4]), tonumber(ARGV[5])
local n = charge >= 0 and #KEYS - 1 or #KEYS
local kinds, lengths, units, takes = {}, {}, {}, {}
local s, p, c = {}, {}, {}
for i = 1, n do
  local b = 5 + 4 * (i - 1)
  kinds[i], lengths[i], units[i], takes[i] = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), ARGV[b + 4] == '1'
  if kinds[i] ~= 'q' then
    local w = lengths[i]
    local ws = now - (now % w)
    local h = redis.call('HMGET', KEYS[i], 's', 'p', 'c')
    local start, prev, curr = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
    if start == nil and kinds[i] == 'h' then return { 'missing', i } end
    if start == nil or ws - start >= 2 * w then start, prev, curr = ws, 0, 0
    elseif ws > start then start, prev, curr = ws, curr, 0 end
    s[i], p[i], c[i] = start, prev, curr
  else
    local v = redis.call('GET', KEYS[i])
    if not v then return { 'missing', i } end
    s[i], p[i], c[i] = tonumber(v), 0, 0
  end
end
if charge >= 0 and not loaded(KEYS[#KEYS], periodStart) then return { 'missing', 0 } end
local allowed = 1
for i = 1, n do
  if takes[i] and units[i] >= 0 then
    if kinds[i] == 'q' then
      if s[i] + cost > units[i] then allowed = 0 end
    else
      local w = lengths[i]
      local elapsed = math.min(math.max(now - s[i], 0), w)
      if p[i] * (1 - elapsed / w) + c[i] + cost > units[i] + 1e-9 then allowed = 0 end
    end
  end
end
local credits = nil
if allowed == 1 and charge >= 0 then
  credits = allocate(KEYS[#KEYS], charge, now, false)
  if credits[1] == 0 then allowed = 0 end
elseif charge >= 0 then
  credits = allocate(KEYS[#KEYS], 0, now, false)
  credits[1] = 1
end
if allowed == 1 then
  for i = 1, n do
    if takes[i] then
      if kinds[i] ~= 'q' then
        c[i] = c[i] + cost
        redis.call('HSET', KEYS[i], 's', s[i], 'p', p[i], 'c', c[i])
        redis.call('PEXPIRE', KEYS[i], 2 * lengths[i])
      else
        s[i] = redis.call('INCRBY', KEYS[i], cost)
        redis.call('PEXPIRE', KEYS[i], quotaTtl)
      end
    end
  end
end
local out = { allowed }
for i = 1, n do
  out[#out + 1] = s[i]
  out[#out + 1] = p[i]
  out[#out + 1] = c[i]
end
if credits then for _, v in ipairs(credits) do out[#out + 1] = v end end
return out
`;

/** The Redis key of a limit's counter: a sliding window's, or a billing period's for the period starting at `periodStart`. The braces keep a group's keys in one cluster slot. */
export function counterKey(groupId: string, limit: AppliedLimit, periodStart: number): string {
  return limit.window === 'billing_period' ? `tg:{${groupId}}:q:${counterId(limit)}:${periodStart}` : `tg:{${groupId}}:w:${counterId(limit)}`;
}

/** The Redis keys of every limit of a request. */
export function limiterKeys(request: Pick<MeterRequest, 'groupId' | 'period' | 'limits'>): string[] {
  return request.limits.map((limit) => counterKey(request.groupId, limit, request.period.start));
}

export type AdmitAnswer =
  | { kind: 'missing'; limit: AppliedLimit }
  | { kind: 'missing-credits' }
  | { kind: 'decided'; result: MeterResult };

/**
 * Seeds a period counter with the units durable storage holds for the
 * period, and the snapshot those units were read in (when known): the
 * transactions whose usage the seed already holds. NX: when another
 * instance seeded it first, its value (and snapshot) stands.
 * KEYS: counter, its snapshot key; ARGV: units, TTL ms, snapshot ('' for none).
 */
export const SEED_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') and ARGV[3] ~= '' then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
end
return 1
`;

export async function seedCounter(redis: Redis, key: string, used: number, ttlMs: number, snapshot = ''): Promise<void> {
  await runScript(redis, SEED_SCRIPT, 2, key, snapshotKey(key), used, ttlMs, snapshot);
}

/**
 * Seeds an hour or day window's hash with the counts durable storage holds,
 * unless another call or instance created it first (its counts stand).
 * KEYS: the window's hash; ARGV: start, previous, current, TTL ms.
 */
export const SEED_WINDOW_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'p', ARGV[2], 'c', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
`;

export async function seedWindowInRedis(redis: Redis, key: string, counter: WindowCounter, ttlMs: number): Promise<void> {
  await runScript(redis, SEED_WINDOW_SCRIPT, 1, key, counter.windowStart, counter.previous, counter.current, ttlMs);
}

/** Where the snapshot a counter was seeded in is kept; the same cluster slot as the counter. */
function snapshotKey(counter: string): string {
  return `${counter}:snapshot`;
}

/** Runs the script once for a request and reads its answer. */
export async function admitInRedis(redis: Redis, request: MeterRequest, quotaTtlMs: number): Promise<AdmitAnswer> {
  const charge = request.credits === undefined ? -1 : creditCharge(request);
  const args: Array<string | number> = [request.now, request.cost, quotaTtlMs, charge, request.period.start];
  for (const limit of request.limits) {
    args.push(limit.window === 'billing_period' ? 'q' : isSeededWindow(limit.window) ? 'h' : 'w', windowMs(limit) ?? 0, limit.units, consumes(limit, request.mode) ? 1 : 0);
  }
  const keys = limiterKeys(request);
  if (charge >= 0) keys.push(creditsKey(request.groupId));
  const raw = (await runScript(redis, ADMIT_SCRIPT, keys.length, ...keys, ...args)) as Array<string | number>;
  if (raw[0] === 'missing') return Number(raw[1]) === 0 ? { kind: 'missing-credits' } : { kind: 'missing', limit: request.limits[Number(raw[1]) - 1]! };
  const num = (i: number) => Number(raw[i]);
  const readings = request.limits.map((limit, i): Reading => (limit.window === 'billing_period'
    ? { kind: 'period', used: num(1 + 3 * i) }
    : { kind: 'window', counter: { windowStart: num(1 + 3 * i), previous: num(2 + 3 * i), current: num(3 + 3 * i) } }));
  const limits = limitStates(request, readings);
  const credits = charge < 0 ? null : movementsOf(request.groupId, raw, 1 + 3 * request.limits.length);
  const base = { limits, eventId: null, replayed: false };
  if (num(0) === 1) {
    return {
      kind: 'decided',
      result: {
        ...base, allowed: true, code: 'ok', deniedBy: null, retryAfterMs: null,
        credits: credits === null ? null : { charged: charge, balance: credits.balance },
        ...(credits !== null && credits.movements.length > 0 ? { movements: credits.movements } : {}),
      },
    };
  }
  const creditsOut = credits === null ? null : { charged: 0, balance: credits.balance };
  // Nothing was consumed: the counters are as the call found them, and the same rules say which limit refused and for how long.
  const { code, deniedBy, retryAfterMs } = judge(request, readings);
  if (code === 'ok') return { kind: 'decided', result: { ...base, allowed: false, code: 'insufficient_credits', deniedBy: CREDITS, retryAfterMs: null, credits: creditsOut } };
  return { kind: 'decided', result: { ...base, allowed: false, code, deniedBy, retryAfterMs, credits: creditsOut } };
}

/**
 * Changes an admitted call's consumption by ARGV[2] units (a reservation
 * settled above or below its estimate, or given back when it could not be
 * recorded), never below zero and never refusing: the call was served.
 * KEYS as for ADMIT_SCRIPT, for the limits the call consumed; ARGV: now, delta, then a kind per key.
 */
export const ADJUST_SCRIPT = `
local now, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #KEYS do
  if ARGV[2 + i] == 'w' then
    local s = tonumber(redis.call('HGET', KEYS[i], 's'))
    if s ~= nil and s <= now then
      local c = tonumber(redis.call('HGET', KEYS[i], 'c')) or 0
      redis.call('HSET', KEYS[i], 'c', math.max(0, c + delta))
    end
  else
    local v = redis.call('GET', KEYS[i])
    if v then redis.call('SET', KEYS[i], math.max(0, tonumber(v) + delta), 'KEEPTTL') end
  end
end
return 1
`;

export async function adjustInRedis(redis: Redis, request: MeterRequest, delta: number): Promise<void> {
  const taken = request.limits.filter((limit) => consumes(limit, request.mode));
  if (delta === 0 || taken.length === 0) return;
  const keys = taken.map((limit) => counterKey(request.groupId, limit, request.period.start));
  await runScript(redis, ADJUST_SCRIPT, keys.length, ...keys, request.now, delta, ...taken.map((l) => (l.window === 'billing_period' ? 'q' : 'w')));
}

/**
 * Adds usage that bypassed the limits (ingested events, already committed)
 * to quota counters that exist; a counter that does not exist yet is seeded
 * from durable storage, which already holds it. A counter seeded from a
 * snapshot that already holds the batch's transaction is not added to
 * again: seeding and this addition may run in either order, on any instance.
 * KEYS: counters and, after each, its snapshot key; ARGV: per counter, the
 * amount and the committing transaction's id ('' when not known).
 */
export const ADD_USAGE_SCRIPT = `
local function holds(snapshot, xid)
  local xmin, xmax, running = string.match(snapshot, '^(%d+):(%d+):(.*)$')
  if xmin == nil then return false end
  if xid < tonumber(xmin) then return true end
  if xid >= tonumber(xmax) then return false end
  for x in string.gmatch(running, '%d+') do
    if tonumber(x) == xid then return false end
  end
  return true
end
for i = 1, #KEYS, 2 do
  local n = (i + 1) / 2
  local amount, xid = tonumber(ARGV[2 * n - 1]), tonumber(ARGV[2 * n])
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local snapshot = xid and redis.call('GET', KEYS[i + 1])
    if not (snapshot and holds(snapshot, xid)) then redis.call('INCRBY', KEYS[i], amount) end
  end
end
return 1
`;

/** Usage to add to period counters of a group; `xid`: the transaction that committed it, when known. */
export interface UsageAddition {
  groupId: string;
  /** The billing-period limits it counts toward. */
  limits: readonly AppliedLimit[];
  period: MeterRequest['period'];
  count: number;
  xid?: string | undefined;
}

/** Ingested usage as additions to the counters of the periods it falls in (`periodOf`: the group's period holding `ts`). */
export function additionsOf(accepted: readonly AcceptedUsage[], periodOf: (groupId: string, ts: number) => Promise<Span>): Promise<UsageAddition[]> {
  return Promise.all(accepted.map(async ({ event: e, xid, limits }) => ({ groupId: e.groupId, limits, count: e.count, period: await periodOf(e.groupId, e.ts), xid })));
}

/** The keys of the period counters an addition (or an admitted call) counts toward. */
export function periodKeys(request: Pick<UsageAddition, 'groupId' | 'limits' | 'period'>): string[] {
  return request.limits.filter((l) => l.window === 'billing_period').map((l) => counterKey(request.groupId, l, request.period.start));
}

/** Adds units to the period counters, where those counters exist. */
export async function addUsageInRedis(redis: Redis, additions: readonly UsageAddition[]): Promise<void> {
  // One script per group: a cluster runs a script on the slot of its keys, and one group's keys share a slot.
  const byGroup = new Map<string, { keys: string[]; args: Array<string | number> }>();
  for (const a of additions) {
    const entry = byGroup.get(a.groupId) ?? { keys: [], args: [] };
    for (const counter of periodKeys(a)) {
      entry.keys.push(counter, snapshotKey(counter));
      entry.args.push(a.count, a.xid ?? '');
    }
    byGroup.set(a.groupId, entry);
  }
  await Promise.all([...byGroup.values()].filter(({ keys }) => keys.length > 0)
    .map(({ keys, args }) => runScript(redis, ADD_USAGE_SCRIPT, keys.length, ...keys, ...args)));
}

/** A counter's units; null when Redis does not hold it. */
export async function readCounter(redis: Redis, key: string): Promise<number | null> {
  const value = await redis.get(key);
  return value === null ? null : Number(value);
}

/** Counters' units; null where Redis does not hold one. */
export async function readCounters(redis: Redis, keys: readonly string[]): Promise<Array<number | null>> {
  if (keys.length === 0) return [];
  return (await redis.mget(...keys)).map((v) => (v === null ? null : Number(v)));
}

/**
 * Relaxed mode's sync: adds what one instance counted since its last sync
 * to the shared counters and answers their totals, all of one group's in one
 * script. KEYS: counters; ARGV: a kind, a delta and a TTL in ms per key.
 * `w` (a fixed window's count, created on first use) answers its
 * total; `q` (a quota counter) is added to only if it exists, and answers -1
 * when it does not: it is then seeded from PostgreSQL, which already holds
 * the units that delta counted.
 */
export const SYNC_SCRIPT = `
local totals = {}
for i, key in ipairs(KEYS) do
  local kind, delta, ttl = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  if kind == 'w' then
    totals[i] = redis.call('INCRBY', key, delta)
    redis.call('PEXPIRE', key, ttl)
  elseif redis.call('EXISTS', key) == 1 then
    totals[i] = redis.call('INCRBY', key, delta)
  else
    totals[i] = -1
  end
end
return totals
`;

/** One counter of relaxed mode's sync: a fixed window's count or a period's counter, and what to add to it. */
export interface SyncedCounter {
  key: string;
  kind: 'window' | 'quota';
  delta: number;
  /** How long a window's count is kept: two of its windows and a margin. */
  ttlMs: number;
}

/** The key of one fixed window's count of a limit, in relaxed mode. */
export function windowCountKey(groupId: string, limit: AppliedLimit, windowStart: number): string {
  return `tg:{${groupId}}:rw:${counterId(limit)}:${windowStart}`;
}

/**
 * Adds the deltas and reads the totals of many groups' counters: one script
 * per group (a cluster runs a script on its keys' slot), sent together.
 * Answers each counter's total, or null for a quota counter Redis does not hold.
 */
export async function syncCounters(redis: Redis, byGroup: ReadonlyMap<string, readonly SyncedCounter[]>): Promise<Map<string, number | null>> {
  const totals = new Map<string, number | null>();
  await Promise.all([...byGroup.values()].map(async (counters) => {
    const args = counters.flatMap((c) => [c.kind === 'window' ? 'w' : 'q', c.delta, c.ttlMs]);
    const answer = (await runScript(redis, SYNC_SCRIPT, counters.length, ...counters.map((c) => c.key), ...args)) as number[];
    counters.forEach((c, i) => totals.set(c.key, answer[i]! < 0 ? null : Number(answer[i])));
  }));
  return totals;
}
