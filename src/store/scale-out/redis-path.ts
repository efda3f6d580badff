import type { Redis } from 'ioredis';
import type { Cancel, Scheduler } from '../../scheduler.js';
import { isOutage } from '../outage.js';

/**
 * How work that needs Redis meets an outage: `shared` runs against Redis,
 * and `local` stands in for it when the mode allows. Fail-closed
 * (`redisRequired`): never; every failure is the caller's. Fail-open
 * (`FailOpenRedis`): while Redis cannot be reached.
 */
export interface RedisPath {
  run<T>(shared: () => Promise<T>, local: () => T | Promise<T>): Promise<T>;
  /** Whether a failure to read PostgreSQL is ridden out (fail-open) rather than the caller's. */
  ridesOut(error: unknown): boolean;
  close(): void;
}

/** Fail-closed: Redis is needed for every call. */
export const redisRequired: RedisPath = {
  run: (shared) => shared(),
  ridesOut: () => false,
  close: () => undefined,
};

/**
 * Fail-open: once a call finds Redis away, every call runs `local` until
 * Redis answers again (checked every half second on the scheduler); then
 * the `catchUp` hooks hand back to Redis what was decided here meanwhile,
 * and only then does Redis decide again.
 */
export class FailOpenRedis implements RedisPath {
  private down = false;
  private recovering: Cancel | null = null;
  private readonly downHooks: Array<() => void> = [];
  private readonly catchUps: Array<() => Promise<void>> = [];

  constructor(private readonly redis: Redis, private readonly scheduler: Scheduler) {}

  /** `onDown` runs when Redis goes away; `catchUp` before it decides again (a failure keeps it away). */
  watch(onDown: () => void, catchUp: () => Promise<void>): void {
    this.downHooks.push(onDown);
    this.catchUps.push(catchUp);
  }

  async run<T>(shared: () => Promise<T>, local: () => T | Promise<T>): Promise<T> {
    if (!this.down) {
      try {
        return await shared();
      } catch (error) {
        if (!isOutage(error)) throw error;
        this.wentDown();
      }
    }
    return local();
  }

  ridesOut(error: unknown): boolean {
    return isOutage(error);
  }

  close(): void {
    this.recovering?.();
    this.recovering = null;
  }

  private wentDown(): void {
    if (this.down) return;
    this.down = true;
    for (const hook of this.downHooks) hook();
    this.recovering = this.scheduler.every(500, () => this.tryAgain());
  }

  private async tryAgain(): Promise<void> {
    try {
      await this.redis.ping();
      for (const catchUp of this.catchUps) await catchUp();
    } catch {
      return; // still away; try again at the next tick
    }
    // Nothing awaited since the last catch-up: no call can have been decided here in between.
    this.down = false;
    this.close();
  }
}
