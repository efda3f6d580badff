import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../errors.js';
import { MAX_COST, type CostRule, type StatusRule } from './config.js';

/**
 * What a gateway call costs. The units are held (reserved) before the call
 * is forwarded, so that the limits apply before the upstream does any work,
 * and settled once the upstream has answered: the reservation when the cost
 * was known up front, the upstream's own figure when it reports one, and
 * nothing when its status does not count.
 */

/** Header values as undici returns them (repeated headers as arrays). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * Units to reserve for a call: the fixed cost, the request header's value
 * (its default when absent), or the reservation of a response-header cost.
 * A request header that is not a whole number from 1 up is the caller's
 * mistake: 400, before anything is counted or forwarded.
 */
export function reservedCost(rule: CostRule, headers: IncomingHttpHeaders): number {
  switch (rule.kind) {
    case 'fixed':
      return rule.units;
    case 'response_header':
      return rule.reserve;
    case 'request_header': {
      const raw = headers[rule.header];
      if (raw === undefined || raw === '') return rule.default;
      const units = wholeNumber(raw);
      if (units === null || units < 1) {
        throw new ApiError('invalid_request', `header "${rule.header}" must be a whole number from 1 to ${MAX_COST}, got ${JSON.stringify(raw)}.`);
      }
      return units;
    }
  }
}

export interface SettledCost {
  /** Units the call really cost: 0 when the upstream's status does not count. */
  units: number;
  /** Why the reservation was kept instead of the upstream's figure, for the log; null when all went as configured. */
  problem: string | null;
}

/**
 * The cost of a call the upstream answered. A response-header cost that is
 * missing or not a whole number settles at the reservation (the call was
 * served; the reservation is the best estimate there is) with a problem to log.
 */
export function settledCost(rule: CostRule, reserved: number, counts: StatusRule, status: number, headers: ResponseHeaders): SettledCost {
  if (!statusCounts(counts, status)) return { units: 0, problem: null };
  if (rule.kind !== 'response_header') return { units: reserved, problem: null };
  const raw = headers[rule.header];
  if (raw === undefined) return { units: reserved, problem: `the upstream's answer has no "${rule.header}" header` };
  const units = wholeNumber(raw);
  if (units === null) return { units: reserved, problem: `the upstream's "${rule.header}" header is not a whole number from 0 to ${MAX_COST}: ${JSON.stringify(raw)}` };
  return { units, problem: null };
}

/** Whether an upstream status counts as a served call. */
export function statusCounts(rule: StatusRule, status: number): boolean {
  return rule.classes.includes(Math.floor(status / 100)) || rule.codes.includes(status);
}

/** 0 to MAX_COST from a header's text; null for anything else (a repeated header included). */
function wholeNumber(raw: string | string[]): number | null {
  if (typeof raw !== 'string') return null;
  const text = raw.trim();
  if (!/^\d{1,10}$/.test(text)) return null;
  const value = Number(text);
  return value <= MAX_COST ? value : null;
}
