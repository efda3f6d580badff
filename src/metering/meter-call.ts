import type { UsageObservation, UsageObserver } from '../alerts/alert-watch.js';
import type { Clock } from '../clock.js';
import { requestArgsHash } from '../domain/canonical-json.js';
import { billingPeriod, type Span } from '../domain/periods.js';
import type { KeyContext } from '../domain/types.js';
import { stateOf, type MeterCode, type MeterRequest, type MeterResult } from '../domain/metering.js';
import type { Store } from '../store/store.js';
import { authenticate, type Credentials } from './credentials.js';
import { callCredits, callLimits } from './limits.js';
import { SHORTHAND } from '../domain/limits.js';

export interface MeteringDeps {
  store: Store;
  clock: Clock;
  /** Told of every decision (usage alerts); synchronous and cheap, never awaited. */
  alerts?: UsageObserver;
  /** Told of every decision and its outcome (the dashboard's recent denials and top consumers); synchronous and cheap. */
  activity?: { record(observation: UsageObservation, code: MeterCode): void };
}

export interface CheckInput {
  credentials: Credentials;
  usageType: string;
  cost: number;
  requestArgs?: Record<string, unknown>;
  idempotencyKey?: string;
}

export type CheckOutcome =
  | { kind: 'unauthorized'; message: string }
  /** `now`: when the call was decided, the moment its answer's limits and waits are counted from. */
  | { kind: 'metered'; context: KeyContext; result: MeterResult; period: Span; requestArgsHash: string; now: number };

/**
 * The check API's whole decision: authenticate the key, apply its limits
 * all-or-nothing, and record the call durably when it is admitted.
 */
export async function checkCall(deps: MeteringDeps, input: CheckInput): Promise<CheckOutcome> {
  const now = deps.clock.now();
  const auth = await authenticate(deps.store, input.credentials, now);
  if (!auth.ok) return { kind: 'unauthorized', message: auth.message };
  const { context } = auth;
  const period = billingPeriod(now, context.plan.timeZone);
  const argsHash = requestArgsHash(input.requestArgs);
  const result = await deps.store.meter(meterRequest(context, now, period, {
    mode: 'record',
    usageType: input.usageType,
    requestArgsHash: argsHash,
    cost: input.cost,
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
  }));
  observe(deps, context, now, period, result, true);
  return { kind: 'metered', context, result, period, requestArgsHash: argsHash, now };
}

/**
 * Counts a call to a usage endpoint against the caller's per-minute limits
 * (not against the monthly quota, and nothing is recorded).
 */
export async function touchRateLimits(deps: MeteringDeps, context: KeyContext): Promise<{ result: MeterResult; period: Span; now: number }> {
  const now = deps.clock.now();
  const period = billingPeriod(now, context.plan.timeZone);
  const result = await deps.store.meter(meterRequest(context, now, period, { mode: 'rate_only', usageType: '', requestArgsHash: '', cost: 1 }));
  observe(deps, context, now, period, result, false);
  return { result, period, now };
}

/** A call whose units are held until the upstream has answered (the gateway). */
export interface Reservation {
  /** What was asked of the store: pass it to `store.settle` with the call's real cost. */
  request: MeterRequest;
  result: MeterResult;
  period: Span;
}

/**
 * Holds a gateway call's units against every limit of this key, as the
 * check API would count them, but records nothing: `store.settle(request,
 * cost)` does, once the call's real cost is known (0 gives it all back).
 */
export async function reserveCall(
  deps: MeteringDeps, context: KeyContext, call: { usageType: string; requestArgsHash: string; cost: number },
): Promise<Reservation> {
  const now = deps.clock.now();
  const period = billingPeriod(now, context.plan.timeZone);
  const request = meterRequest(context, now, period, { mode: 'reserve', ...call });
  const result = await deps.store.meter(request);
  observe(deps, context, now, period, result, true);
  return { request, result, period };
}

/**
 * Tells the alerts what a decision left: the usage against the quotas and
 * the named limits, and the credits (when the decision counted toward them),
 * and whether a per-minute limit refused.
 * A replayed answer is old news and tells nothing.
 */
function observe(deps: MeteringDeps, context: KeyContext, now: number, period: Span, result: MeterResult, countsQuota: boolean): void {
  if ((deps.alerts === undefined && deps.activity === undefined) || result.replayed) return;
  const denied = result.code === 'rate_limited' && result.deniedBy !== null ? stateOf(result, result.deniedBy) : undefined;
  const rateLimited = denied === undefined ? null : { scope: denied.scope === 'app' ? 'app' as const : 'group' as const, limit: denied.units };
  const month = stateOf(result, SHORTHAND.groupMonth);
  const appMonth = stateOf(result, SHORTHAND.appMonth);
  const observation: UsageObservation = {
    now, groupId: context.group.id, appId: context.app.id, keyId: context.key.id, period,
    groupUsed: countsQuota ? month?.used ?? null : null, appUsed: countsQuota ? appMonth?.used ?? null : null,
    groupQuota: month?.units ?? -1, appQuota: appMonth?.units ?? -1, rateLimited,
    limits: countsQuota ? result.limits : null,
    credits: countsQuota && result.credits !== null ? { balance: result.credits.balance, refused: result.code === 'insufficient_credits' } : null,
  };
  deps.alerts?.observe(observation);
  deps.activity?.record(observation, result.code);
}

/** The store's request for a call by this key: who, which limits, which period, and what the call is. */
function meterRequest(
  context: KeyContext, now: number, period: Span,
  call: Pick<MeterRequest, 'mode' | 'usageType' | 'requestArgsHash' | 'cost' | 'idempotencyKey'>,
): MeterRequest {
  return {
    now, period, groupId: context.group.id, appId: context.app.id, keyId: context.key.id,
    limits: callLimits(context, call.usageType, call.mode), ...call,
    ...credits(context, call.usageType),
  };
}

function credits(context: KeyContext, usageType: string): Pick<MeterRequest, 'credits'> {
  const credits = callCredits(context.plan, usageType);
  return credits === undefined ? {} : { credits };
}
