import type { Span } from '../../domain/periods.js';
import type { AcceptedUsage } from '../../engine/ports.js';
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { evaluate, latestRetry, MINUTE_MS, rateState, type WindowCounter } from '../../domain/sliding-window.js';
import type { MeterRequest, MeterResult } from '../../domain/metering.js';
import type { RateState } from '../../domain/sliding-window.js';

/**
 * One round trip per call: this script applies the group's and the app's
 * per-minute windows and monthly quotas all-or-nothing, atomically in Redis,
 * with the same arithmetic as the in-process limiter (src/limits). It
 * answers the decision and the counters as they stand; the remaining units,
 * reset and retry times are derived from those by the same pure functions.
 *
 * KEYS: group window, app window, group quota, app quota.
 * ARGV: now, window ms, group rate, app rate, group quota, app quota, cost,
 *       mode (record | reserve | rate_only), quota TTL in ms.
 * A quota counter that does not exist yet answers `missing` (and changes
 * nothing): the caller seeds it from PostgreSQL with SET NX and calls again.
 */
export const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local limits = { tonumber(ARGV[3]), tonumber(ARGV[4]) }
local quotas = { tonumber(ARGV[5]), tonumber(ARGV[6]) }
local cost = tonumber(ARGV[7])
local mode = ARGV[8]
local quotaTtl = tonumber(ARGV[9])
local ws = now - (now % w)

local function window(key)
  local s = redis.call('HMGET', key, 's', 'p', 'c')
  local start, prev, curr = tonumber(s[1]), tonumber(s[2]) or 0, tonumber(s[3]) or 0
  if start == nil or ws - start >= 2 * w then return ws, 0, 0 end
  if ws > start then return ws, curr, 0 end
  return start, prev, curr
end

local starts, prevs, currs = {}, {}, {}
for i = 1, 2 do starts[i], prevs[i], currs[i] = window(KEYS[i]) end

local used = { 0, 0 }
for i = 1, 2 do
  local v = redis.call('GET', KEYS[i + 2])
  if not v then return { 'missing', i == 1 and 'group' or 'app' } end
  used[i] = tonumber(v)
end

local names = { 'group', 'app' }
local code, denied = 'ok', ''
if mode ~= 'rate_only' then
  for i = 1, 2 do
    if code == 'ok' and quotas[i] >= 0 and used[i] + cost > quotas[i] then code, denied = 'quota_exceeded', names[i] end
  end
end
for i = 1, 2 do
  if code == 'ok' and limits[i] >= 0 then
    local elapsed = math.min(math.max(now - starts[i], 0), w)
    local weighted = prevs[i] * (1 - elapsed / w) + currs[i]
    if weighted + cost > limits[i] + 1e-9 then code, denied = 'rate_limited', names[i] end
  end
end

if code == 'ok' then
  for i = 1, 2 do
    if limits[i] >= 0 then
      currs[i] = currs[i] + cost
      redis.call('HSET', KEYS[i], 's', starts[i], 'p', prevs[i], 'c', currs[i])
      redis.call('PEXPIRE', KEYS[i], 2 * w)
    end
    if mode ~= 'rate_only' then
      used[i] = redis.call('INCRBY', KEYS[i + 2], cost)
      redis.call('PEXPIRE', KEYS[i + 2], quotaTtl)
    end
  end
end
return { code, denied, used[1], used[2], starts[1], prevs[1], currs[1], starts[2], prevs[2], currs[2] }
`;

/** Keys of one group and app: the braces keep them in one cluster slot. */
export function limiterKeys(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>): [string, string, string, string] {
  const tag = `{${request.groupId}}`;
  return [
    `tg:${tag}:win:g`,
    `tg:${tag}:win:a:${request.appId}`,
    `tg:${tag}:quota:g:${request.period.start}`,
    `tg:${tag}:quota:a:${request.appId}:${request.period.start}`,
  ];
}

/** The quota counter of the group or of the app, for the request's period. */
export function quotaKey(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app'): string {
  return limiterKeys(request)[scope === 'group' ? 2 : 3];
}

export type AdmitAnswer =
  | { kind: 'missing'; scope: 'group' | 'app' }
  | { kind: 'decided'; result: MeterResult };

/**
 * Seeds a quota counter with the units durable storage holds for the
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

export async function seedQuota(
  redis: Redis, request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app', used: number, ttlMs: number, snapshot = '',
): Promise<void> {
  const key = quotaKey(request, scope);
  await runScript(redis, SEED_SCRIPT, 2, key, snapshotKey(key), used, ttlMs, snapshot);
}

/** Where the snapshot a counter was seeded in is kept; the same cluster slot as the counter. */
function snapshotKey(counter: string): string {
  return `${counter}:snapshot`;
}

/** Runs the script once for a request and reads its answer. */
export async function admitInRedis(redis: Redis, request: MeterRequest, quotaTtlMs: number): Promise<AdmitAnswer> {
  const { limits } = request;
  const raw = (await runScript(redis, ADMIT_SCRIPT, 4, ...limiterKeys(request),
    request.now, MINUTE_MS, limits.groupRatePerMinute, limits.appRatePerMinute, limits.groupMonthlyQuota, limits.appMonthlyQuota,
    request.cost, request.mode, quotaTtlMs)) as Array<string | number>;
  if (raw[0] === 'missing') return { kind: 'missing', scope: raw[1] as 'group' | 'app' };
  const code = raw[0] as MeterResult['code'];
  const allowed = code === 'ok';
  const num = (i: number) => Number(raw[i]);
  const windows: Array<WindowCounter> = [
    { windowStart: num(4), previous: num(5), current: num(6) },
    { windowStart: num(7), previous: num(8), current: num(9) },
  ];
  const rateLimits = [limits.groupRatePerMinute, limits.appRatePerMinute] as const;
  // The counters already hold this call's cost when it was admitted: the state is read as they are.
  const state = (i: 0 | 1): RateState | null => (rateLimits[i] < 0 ? null : rateState(windows[i]!, request.now, MINUTE_MS, rateLimits[i]));
  const deniedBy = raw[1] === '' ? null : (raw[1] as 'group' | 'app');
  let retryAfterMs: number | null = null;
  if (!allowed) {
    // The retry waits for every limit that refused (nothing was consumed: the windows are as the call found them).
    const waits = ([0, 1] as const)
      .map((i) => (rateLimits[i] < 0 ? null : evaluate(windows[i]!, request.now, MINUTE_MS, rateLimits[i], request.cost)))
      .filter((verdict) => verdict !== null && !verdict.allowed)
      .map((verdict) => verdict!.retryAfterMs);
    retryAfterMs = latestRetry(code === 'quota_exceeded' ? [request.period.end - request.now, ...waits] : waits);
  }
  return {
    kind: 'decided',
    result: {
      allowed, code, deniedBy: allowed ? null : deniedBy,
      groupUsed: num(2), appUsed: num(3),
      groupRate: state(0), appRate: state(1),
      retryAfterMs: allowed ? null : retryAfterMs,
      eventId: null, replayed: false,
    },
  };
}

/**
 * Changes an admitted call's consumption by ARGV[2] units (a reservation
 * settled above or below its estimate, or given back when it could not be
 * recorded), never below zero and never refusing: the call was served.
 * KEYS as for ADMIT_SCRIPT; ARGV: now, delta, mode.
 */
export const ADJUST_SCRIPT = `
local now, delta, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i = 1, 2 do
  local s = tonumber(redis.call('HGET', KEYS[i], 's'))
  if s ~= nil and s <= now then
    local c = tonumber(redis.call('HGET', KEYS[i], 'c')) or 0
    redis.call('HSET', KEYS[i], 'c', math.max(0, c + delta))
  end
  if mode ~= 'rate_only' then
    local v = redis.call('GET', KEYS[i + 2])
    if v then redis.call('SET', KEYS[i + 2], math.max(0, tonumber(v) + delta), 'KEEPTTL') end
  end
end
return 1
`;

export async function adjustInRedis(redis: Redis, request: MeterRequest, delta: number): Promise<void> {
  if (delta === 0) return;
  await runScript(redis, ADJUST_SCRIPT, 4, ...limiterKeys(request), request.now, delta, request.mode);
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

/** Usage to add to a group's and an app's counters of a period; `xid`: the transaction that committed it, when known. */
export interface UsageAddition {
  groupId: string;
  appId: string;
  period: MeterRequest['period'];
  count: number;
  xid?: string | undefined;
}

/** Ingested usage as additions to the counters of the periods it falls in (`periodOf`: the group's period holding `ts`). */
export function additionsOf(accepted: readonly AcceptedUsage[], periodOf: (groupId: string, ts: number) => Promise<Span>): Promise<UsageAddition[]> {
  return Promise.all(accepted.map(async ({ event: e, xid }) => ({ groupId: e.groupId, appId: e.appId, count: e.count, period: await periodOf(e.groupId, e.ts), xid })));
}

/** Adds units to the group's and the app's counters of the period, where those counters exist. */
export async function addUsageInRedis(redis: Redis, additions: readonly UsageAddition[]): Promise<void> {
  // One script per group: a cluster runs a script on the slot of its keys, and one group's keys share a slot.
  const byGroup = new Map<string, { keys: string[]; args: Array<string | number> }>();
  for (const a of additions) {
    const [, , group, app] = limiterKeys(a);
    const entry = byGroup.get(a.groupId) ?? { keys: [], args: [] };
    for (const counter of [group, app]) {
      entry.keys.push(counter, snapshotKey(counter));
      entry.args.push(a.count, a.xid ?? '');
    }
    byGroup.set(a.groupId, entry);
  }
  await Promise.all([...byGroup.values()].map(({ keys, args }) => runScript(redis, ADD_USAGE_SCRIPT, keys.length, ...keys, ...args)));
}

/** The group's or the app's counter for the period; null when it does not exist yet. */
export async function quotaCounter(redis: Redis, request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app'): Promise<number | null> {
  const value = await redis.get(quotaKey(request, scope));
  return value === null ? null : Number(value);
}

/** The group's and the app's counters for the period; null where a counter does not exist yet. */
export async function quotaCounters(redis: Redis, request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>): Promise<[number | null, number | null]> {
  const [, , group, app] = limiterKeys(request);
  const [g, a] = await redis.mget(group, app);
  return [g === null ? null : Number(g), a === null ? null : Number(a)];
}

/**
 * Relaxed mode's sync: adds what one instance counted since its last sync
 * to the shared counters and answers their totals, all of one group's in one
 * script. KEYS: counters; ARGV: a kind and a delta per key, then the window
 * TTL in ms. `w` (a fixed minute window, created on first use) answers its
 * total; `q` (a quota counter) is added to only if it exists, and answers -1
 * when it does not: it is then seeded from PostgreSQL, which already holds
 * the units that delta counted.
 */
export const SYNC_SCRIPT = `
local ttl = tonumber(ARGV[#ARGV])
local totals = {}
for i, key in ipairs(KEYS) do
  local kind, delta = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
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

/** One counter of relaxed mode's sync: a minute window's count or a period's quota counter, and what to add to it. */
export interface SyncedCounter {
  key: string;
  kind: 'window' | 'quota';
  delta: number;
}

/** The key of one fixed minute window's count, in relaxed mode. */
export function windowCountKey(groupId: string, scope: 'group' | 'app', id: string, windowStart: number): string {
  return scope === 'group' ? `tg:{${groupId}}:rw:g:${windowStart}` : `tg:{${groupId}}:rw:a:${id}:${windowStart}`;
}

/**
 * Adds the deltas and reads the totals of many groups' counters: one script
 * per group (a cluster runs a script on its keys' slot), sent together.
 * Answers each counter's total, or null for a quota counter Redis does not hold.
 */
export async function syncCounters(redis: Redis, byGroup: ReadonlyMap<string, readonly SyncedCounter[]>, windowTtlMs: number): Promise<Map<string, number | null>> {
  const totals = new Map<string, number | null>();
  await Promise.all([...byGroup.values()].map(async (counters) => {
    const args = counters.flatMap((c) => [c.kind === 'window' ? 'w' : 'q', c.delta]);
    const answer = (await runScript(redis, SYNC_SCRIPT, counters.length, ...counters.map((c) => c.key), ...args, windowTtlMs)) as number[];
    counters.forEach((c, i) => totals.set(c.key, answer[i]! < 0 ? null : Number(answer[i])));
  }));
  return totals;
}

const SHAS = new Map<string, string>();

/**
 * Runs a script by its SHA-1 (EVALSHA: the script's text is not sent on
 * every call), loading it with EVAL the first time a server has not seen it
 * (after a restart, say).
 */
export async function runScript(redis: Redis, script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown> {
  let sha = SHAS.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    SHAS.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, numKeys, ...args);
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return redis.eval(script, numKeys, ...args);
  }
}
