import { weightedCount, windowStartAt } from '../../src/domain/sliding-window.js';

export interface WindowCounts {
  /** Admissions in each fixed window (clock second) from the first one's to the last one's, empty ones included. */
  perWindow: number[];
  seconds: number;
  /** The most admissions in one fixed window. */
  maxPerWindow: number;
  /**
   * The highest count of the sliding window as the limiter weighs it
   * (src/domain/sliding-window.ts), at the time of each admission,
   * counting it: the previous fixed window's admissions weighted by how
   * much of it the one-second window ending then still covers, plus the
   * current window's admissions up to and at that time.
   */
  maxSliding: number;
}

/**
 * How admissions at the times `ts` (the recorded events' times: the server
 * clock each call was decided at) fill windows of `windowMs`: "at most N in
 * any second" read two ways, per fixed clock second and per sliding window
 * as the limiter defines it.
 */
export function secondWindows(ts: readonly number[], windowMs: number): WindowCounts {
  if (ts.length === 0) return { perWindow: [], seconds: 0, maxPerWindow: 0, maxSliding: 0 };
  const sorted = [...ts].sort((a, b) => a - b);
  const first = windowStartAt(sorted[0]!, windowMs);
  const perWindow = new Array<number>((windowStartAt(sorted.at(-1)!, windowMs) - first) / windowMs + 1).fill(0);
  for (const t of sorted) perWindow[(windowStartAt(t, windowMs) - first) / windowMs]! += 1;
  let maxSliding = 0;
  let windowFirst = 0;
  for (let i = 0; i < sorted.length; i += 1) {
    const t = sorted[i]!;
    // Every admission at the same millisecond counts: the last of them to be decided saw the others.
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === t) j += 1;
    const windowStart = windowStartAt(t, windowMs);
    const index = (windowStart - first) / windowMs;
    if (sorted[windowFirst]! < windowStart) windowFirst = i;
    const counter = { windowStart, previous: index === 0 ? 0 : perWindow[index - 1]!, current: j + 1 - windowFirst };
    maxSliding = Math.max(maxSliding, weightedCount(counter, t, windowMs));
  }
  return { perWindow, seconds: perWindow.length, maxPerWindow: Math.max(...perWindow), maxSliding };
}
