import type { Redis } from 'ioredis';
import type { CreditMovement, CreditState } from '../../domain/credits.js';
import { runScript } from './redis-script.js';

/**
 * A group's credits in Redis, shared by every instance: one hash per group
 * (in the group's cluster slot) with the period it was loaded for (`p`),
 * its debt (`d`) and a field per grant (`g:<id>`: used, amount, priority,
 * expiry or -1, creation time). Charges are spread by ALLOCATE_LUA, the
 * rules of `allocate` in src/domain/credits.ts written for Redis; the
 * property tests hold the two equal.
 */
export function creditsKey(groupId: string): string {
  return `tg:{${groupId}}:credits`;
}

/**
 * `allocate(hash, charge, now, overdraw)`: spreads a charge over the live
 * grants in burn-down order (priority desc, expiry asc with none last,
 * creation asc, id asc), the debt repaid first; refuses (changing nothing)
 * when the grants cannot cover it and it may not overdraw. Answers
 * allowed (1/0), the balance after, the debt's change, and the grants'
 * ids and amounts taken.
 */
export const ALLOCATE_LUA = `
local function allocate(hash, charge, now, overdraw)
  local raw = redis.call('HGETALL', hash)
  local grants, debt = {}, 0
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    if f == 'd' then debt = tonumber(v)
    elseif string.sub(f, 1, 2) == 'g:' then
      local used, amount, prio, exp, created = string.match(v, '^(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)$')
      used, amount, prio, exp, created = tonumber(used), tonumber(amount), tonumber(prio), tonumber(exp), tonumber(created)
      if exp < 0 or exp > now then
        grants[#grants + 1] = { id = string.sub(f, 3), used = used, amount = amount, prio = prio, exp = exp, created = created }
      end
    end
  end
  local available = 0
  for _, g in ipairs(grants) do available = available + math.max(0, g.amount - g.used) end
  if charge <= 0 then return { 1, available - debt, 0 } end
  local need = debt + charge
  if need > available and not overdraw then return { 0, available - debt, 0 } end
  table.sort(grants, function(a, b)
    if a.prio ~= b.prio then return a.prio > b.prio end
    if a.exp ~= b.exp then
      if a.exp < 0 then return false end
      if b.exp < 0 then return true end
      return a.exp < b.exp
    end
    if a.created ~= b.created then return a.created < b.created end
    return a.id < b.id
  end)
  local out = { 1, available - need, 0 }
  local left = need
  for _, g in ipairs(grants) do
    if left <= 0 then break end
    local take = math.min(math.max(0, g.amount - g.used), left)
    if take > 0 then
      g.used = g.used + take
      redis.call('HSET', hash, 'g:' .. g.id, g.used .. '|' .. g.amount .. '|' .. g.prio .. '|' .. g.exp .. '|' .. g.created)
      out[#out + 1] = g.id
      out[#out + 1] = take
    end
    left = left - take
  end
  local debtAfter = math.max(0, left)
  if debtAfter ~= debt then
    redis.call('HSET', hash, 'd', debtAfter)
    out[3] = debtAfter - debt
  end
  return out
end
`;

/** Whether a group's credits are loaded in Redis for the period starting at `periodStart` (a Lua expression over `hash` and `periodStart`). */
export const LOADED_LUA = `
local function loaded(hash, periodStart)
  return tonumber(redis.call('HGET', hash, 'p')) == periodStart
end
`;

/** The movements of an allocation's answer from index `from` (1-based: balance, debt change, then ids and amounts). */
export function movementsOf(groupId: string, answer: ReadonlyArray<string | number>, from: number): { allowed: boolean; balance: number; movements: CreditMovement[] } {
  const movements: CreditMovement[] = [];
  for (let i = from + 3; i + 1 < answer.length; i += 2) movements.push({ kind: 'grant', grantId: String(answer[i]), amount: Number(answer[i + 1]) });
  const debtChange = Number(answer[from + 2]);
  if (debtChange !== 0) movements.push({ kind: 'debt', groupId, amount: debtChange });
  return { allowed: Number(answer[from]) === 1, balance: Number(answer[from + 1]), movements };
}

/**
 * Charges credits outside a decision (never refused when ARGV[3] is 1).
 * KEYS: the group's hash; ARGV: charge, now, overdraw, period start.
 * Answers `missing` when the credits are not loaded for the period.
 */
const CHARGE_SCRIPT = `${ALLOCATE_LUA}${LOADED_LUA}
if not loaded(KEYS[1], tonumber(ARGV[4])) then return { 'missing' } end
return allocate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1')
`;

/** Charges a group's credits in Redis; null when they are not loaded for the period. `mayOverdraw`: never refused, the rest becomes debt. */
export async function chargeInRedis(
  redis: Redis, groupId: string, amount: number, now: number, periodStart: number, mayOverdraw: boolean,
): Promise<{ allowed: boolean; balance: number; movements: CreditMovement[] } | null> {
  const answer = (await runScript(redis, CHARGE_SCRIPT, 1, creditsKey(groupId), amount, now, mayOverdraw ? 1 : 0, periodStart)) as Array<string | number>;
  if (answer[0] === 'missing') return null;
  return movementsOf(groupId, answer, 0);
}

/**
 * Gives back what movements took, never below zero. KEYS: the group's
 * hash; ARGV: pairs of a grant id ('' for the debt) and an amount.
 */
const GIVE_BACK_SCRIPT = `
for i = 1, #ARGV, 2 do
  local id, amount = ARGV[i], tonumber(ARGV[i + 1])
  if id == '' then
    local d = tonumber(redis.call('HGET', KEYS[1], 'd'))
    if d then redis.call('HSET', KEYS[1], 'd', math.max(0, d - amount)) end
  else
    local v = redis.call('HGET', KEYS[1], 'g:' .. id)
    if v then
      local used, rest = string.match(v, '^(%-?%d+)(|.*)$')
      redis.call('HSET', KEYS[1], 'g:' .. id, math.max(0, tonumber(used) - amount) .. rest)
    end
  end
end
return 1
`;

export async function giveBackInRedis(redis: Redis, groupId: string, movements: readonly CreditMovement[]): Promise<void> {
  if (movements.length === 0) return;
  const args = movements.flatMap((m) => (m.kind === 'grant' ? [m.grantId, m.amount] : ['', m.amount]));
  await runScript(redis, GIVE_BACK_SCRIPT, 1, creditsKey(groupId), ...args);
}

/**
 * Takes in the store's view of a group's grants. ARGV: mode (`load`, with
 * the period start in ARGV[2]: loads the group for that period unless it
 * is; `merge`: only a group loaded already), the debt, then per grant its
 * id, used, amount, priority, expiry (-1: none) and creation time. A grant
 * held already keeps the larger of the two uses (Redis's includes what is
 * not written yet); one not in the state (voided) is dropped; the debt is
 * taken only when the group is first loaded.
 */
const MERGE_SCRIPT = `
local mode, periodStart, debt = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if mode == 'merge' and not exists then return 0 end
if mode == 'load' and exists and tonumber(redis.call('HGET', KEYS[1], 'p')) == periodStart then return 0 end
local keep = {}
for i = 4, #ARGV, 6 do
  local field = 'g:' .. ARGV[i]
  keep[field] = true
  local used = tonumber(ARGV[i + 1])
  local held = redis.call('HGET', KEYS[1], field)
  if held then used = math.max(used, tonumber(string.match(held, '^(%-?%d+)|'))) end
  redis.call('HSET', KEYS[1], field, used .. '|' .. ARGV[i + 2] .. '|' .. ARGV[i + 3] .. '|' .. ARGV[i + 4] .. '|' .. ARGV[i + 5])
end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'g:' and not keep[f] then redis.call('HDEL', KEYS[1], f) end
end
if redis.call('HEXISTS', KEYS[1], 'd') == 0 then redis.call('HSET', KEYS[1], 'd', debt) end
if mode == 'load' then redis.call('HSET', KEYS[1], 'p', periodStart) end
return 1
`;

export async function mergeInRedis(redis: Redis, groupId: string, state: CreditState, load: { periodStart: number } | null): Promise<void> {
  const args: Array<string | number> = [load === null ? 'merge' : 'load', load?.periodStart ?? 0, state.debt];
  for (const g of state.grants) {
    if (g.voidedAt !== null) continue;
    args.push(g.id, g.used, g.amount, g.priority, g.expiresAt ?? -1, g.createdAt);
  }
  await runScript(redis, MERGE_SCRIPT, 1, creditsKey(groupId), ...args);
}
