/**
 * Sliding-window counter: the count of the current fixed window plus the
 * previous window's count weighted by how much of it still overlaps the
 * sliding window that ends now.
 *
 * A plain fixed window lets twice the limit through around an edge (the limit
 * at 12:00:59, the limit again at 12:01:00). Here the calls of 12:00:59 still
 * weigh almost fully at 12:01:00, so the second burst is refused; capacity
 * comes back gradually as the old window slides out. State is two integers
 * per key, and a cost above 1 consumes that many units.
 */
export interface WindowCounter {
  /** Start of the current fixed window, a multiple of the window length. */
  windowStart: number;
  /** Units counted in the window before `windowStart`. */
  previous: number;
  /** Units counted since `windowStart`. */
  current: number;
}

export const MINUTE_MS = 60_000;

/** What a window holds for a caller at one moment. */
export interface WindowState {
  /** Whole units that could still be spent now. */
  remaining: number;
  /** Milliseconds until the window holds nothing counted (full capacity again). */
  resetMs: number;
  /**
   * Milliseconds until at least one unit more than `remaining` can be spent:
   * when the next unit comes back, which is what the RateLimit header's `t`
   * announces. Null when the whole limit remains (no unit to come back).
   */
  nextUnitMs: number | null;
}

export interface WindowVerdict extends WindowState {
  allowed: boolean;
  /** Milliseconds until a call of this cost would be allowed; null when it never can (cost above the limit). */
  retryAfterMs: number | null;
}

/** Start of the fixed window that contains `now` (a multiple of the window length). */
export function windowStartAt(now: number, windowMs: number): number {
  return now - (((now % windowMs) + windowMs) % windowMs);
}

/** The counter moved forward to the window that contains `now`. */
export function advance(counter: WindowCounter | undefined, now: number, windowMs: number): WindowCounter {
  const windowStart = windowStartAt(now, windowMs);
  if (counter === undefined || windowStart - counter.windowStart >= 2 * windowMs) {
    return { windowStart, previous: 0, current: 0 };
  }
  if (windowStart > counter.windowStart) {
    return { windowStart, previous: counter.current, current: 0 };
  }
  // A clock that stepped back stays in the newer window: never a negative span.
  return counter;
}

/**
 * The counter with `count` units that were used at `ts` (usage that
 * bypassed the decision: ingested events, stamped when they happened): in
 * the current or the previous fixed window, in a later one the counter
 * moves forward to (as `advance` does), and nowhere when it is older than
 * both. The Redis script that adds ingested usage mirrors this
 * (src/store/redis/redis-limiter.ts, ADD_USAGE_SCRIPT).
 */
export function addAt(counter: WindowCounter, ts: number, count: number, windowMs: number): WindowCounter {
  const start = windowStartAt(ts, windowMs);
  if (start === counter.windowStart) return { ...counter, current: counter.current + count };
  if (start === counter.windowStart - windowMs) return { ...counter, previous: counter.previous + count };
  if (start < counter.windowStart) return counter;
  return { ...advance(counter, ts, windowMs), current: count };
}

/** The weighted number of units in the sliding window ending at `now`. */
export function weightedCount(counter: WindowCounter, now: number, windowMs: number): number {
  const elapsed = clamp(now - counter.windowStart, 0, windowMs);
  return counter.previous * (1 - elapsed / windowMs) + counter.current;
}

/**
 * Whether `cost` more units fit under `limit` at `now`. `counter` must already
 * be advanced to `now`; nothing is changed.
 */
export function evaluate(counter: WindowCounter, now: number, windowMs: number, limit: number, cost: number): WindowVerdict {
  // A hair of tolerance so that float rounding of the weight never refuses an exact fit.
  const allowed = weightedCount(counter, now, windowMs) + cost <= limit + 1e-9;
  return {
    allowed,
    ...windowState(allowed ? { ...counter, current: counter.current + cost } : counter, now, windowMs, limit),
    retryAfterMs: allowed ? 0 : retryAfter(counter, now, windowMs, limit, cost),
  };
}

/** The window's state at `now` (`counter` advanced to `now`), for a caller with `limit` units. */
export function windowState(counter: WindowCounter, now: number, windowMs: number, limit: number): WindowState {
  const remaining = Math.max(0, Math.floor(limit - weightedCount(counter, now, windowMs) + 1e-9));
  return {
    remaining,
    resetMs: resetAfter(counter, now, windowMs),
    // One unit more than remains fits exactly when a call costing that much would: the same equation as a retry's.
    nextUnitMs: remaining >= limit ? null : retryAfter(counter, now, windowMs, limit, remaining + 1),
  };
}

/** A caller's per-minute window as an answer reports it: its limit, its state, and the counts it was worked out from. */
export interface RateState extends WindowState {
  limit: number;
  /** The counts at the decision, from which the state can be worked out again after a change (a gateway call settled). */
  window: WindowCounter;
}

/** `state`: the counter's state when it is known already (a verdict's, worked out on the counts after the call). */
export function rateState(counter: WindowCounter, now: number, windowMs: number, limit: number, state: WindowState = windowState(counter, now, windowMs, limit)): RateState {
  return { limit, remaining: state.remaining, resetMs: state.resetMs, nextUnitMs: state.nextUnitMs, window: { ...counter } };
}

/**
 * When a refused call can be retried, from what each limit that refused it
 * says: the latest of them (the call must fit them all), or null when any
 * says never.
 */
export function latestRetry(waits: ReadonlyArray<number | null>): number | null {
  let latest = 0;
  for (const wait of waits) {
    if (wait === null) return null;
    latest = Math.max(latest, wait);
  }
  return latest;
}

function resetAfter(counter: WindowCounter, now: number, windowMs: number): number {
  if (counter.current > 0) return counter.windowStart + 2 * windowMs - now;
  if (counter.previous > 0) return counter.windowStart + windowMs - now;
  return 0;
}

/** Solves weightedCount(t) + cost <= limit for the earliest t >= now. */
function retryAfter(counter: WindowCounter, now: number, windowMs: number, limit: number, cost: number): number | null {
  if (cost > limit) return null;
  const room = limit - cost - counter.current;
  if (room >= 0) {
    // Fits within the current window once enough of the previous one has slid out.
    const elapsedNeeded = counter.previous > 0 ? windowMs * (1 - room / counter.previous) : 0;
    return Math.max(0, Math.ceil(counter.windowStart + elapsedNeeded - now));
  }
  // Only once the current window has become the previous one and partly slid out.
  const elapsedNeeded = windowMs * (1 - (limit - cost) / counter.current);
  return Math.max(0, Math.ceil(counter.windowStart + windowMs + elapsedNeeded - now));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
