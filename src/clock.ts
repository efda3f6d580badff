/**
 * Time is a dependency: everything that needs "now" receives a Clock, so tests
 * can step time across minute windows, month ends and DST changes.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/**
 * A clock that moves only when told to, for tests.
 *
 * @example
 * const clock = new ManualClock(Date.parse('2026-03-08T06:59:00Z'));
 * clock.advance(60_000);
 */
export class ManualClock implements Clock {
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
