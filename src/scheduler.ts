import type { ManualClock } from './clock.js';

/** Stops a scheduled task; calling it again does nothing. */
export type Cancel = () => void;

/**
 * Background work is a dependency, like time: whatever runs later or
 * repeatedly (flushes, syncs, retries, pruning) is registered through a
 * Scheduler it is given, never with a timer of its own, so that a test drives
 * it as it drives the clock, and closing a component cancels what it started.
 */
export interface Scheduler {
  /**
   * Runs `task` every `intervalMs`, the first time one interval from now,
   * until cancelled. A run does not start while the previous one is still
   * under way (a slow task is not piled up); a task that throws or rejects
   * is reported to the scheduler's error handler and runs again next time.
   */
  every(intervalMs: number, task: () => unknown): Cancel;
  /** Runs `task` once, `delayMs` from now, unless cancelled first. */
  after(delayMs: number, task: () => unknown): Cancel;
  /** Resolves `delayMs` from now (a retry loop's pause). */
  delay(delayMs: number): Promise<void>;
}

/** What a task's failure is reported to; the default ignores it (a task logs what it must itself). */
export type TaskErrorHandler = (error: unknown) => void;

export interface SystemSchedulerOptions {
  /**
   * Whether a scheduled task keeps the process alive until it has run.
   * Default false: a server's background work never holds a process that has
   * nothing else to do. True for work that must not be lost when the rest of
   * the process is done (the SDK's batcher sending the events it holds).
   */
  keepAlive?: boolean;
}

/**
 * The real scheduler: Node's timers, unref'd (unless `keepAlive`) so that a
 * scheduled task never keeps a process alive that has nothing else to do.
 */
export function systemScheduler(onError: TaskErrorHandler = () => undefined, options: SystemSchedulerOptions = {}): Scheduler {
  const applyKeepAlive = <T extends NodeJS.Timeout>(timer: T): T => (options.keepAlive === true ? timer : timer.unref());
  const run = async (task: () => unknown) => {
    try {
      await task();
    } catch (error) {
      onError(error);
    }
  };
  return {
    every(intervalMs, task) {
      let running = false;
      const timer = applyKeepAlive(setInterval(() => {
        if (running) return;
        running = true;
        void run(task).finally(() => {
          running = false;
        });
      }, intervalMs));
      return () => clearInterval(timer);
    },
    after(delayMs, task) {
      const timer = applyKeepAlive(setTimeout(() => void run(task), delayMs));
      return () => clearTimeout(timer);
    },
    delay(delayMs) {
      return new Promise((resolve) => void applyKeepAlive(setTimeout(resolve, delayMs)));
    },
  };
}

interface Entry {
  id: number;
  due: number;
  /** Milliseconds between runs; null for a one-off. */
  interval: number | null;
  task: () => unknown;
  cancelled: boolean;
}

/**
 * A scheduler for tests, on a ManualClock: nothing runs until `advance`
 * moves the clock, and then every task due by the new time runs, in order of
 * due time, each awaited before the next (a repeating task that falls due
 * several times runs that many times, as it would have in real time).
 *
 * @example
 * const clock = new ManualClock(0);
 * const scheduler = new ManualScheduler(clock);
 * scheduler.every(100, () => flushes += 1);
 * await scheduler.advance(250); // flushes === 2, clock.now() === 250
 */
export class ManualScheduler implements Scheduler {
  private readonly entries: Entry[] = [];
  private nextId = 0;
  readonly errors: unknown[] = [];

  constructor(private readonly clock: ManualClock) {}

  every(intervalMs: number, task: () => unknown): Cancel {
    return this.add(intervalMs, intervalMs, task);
  }

  after(delayMs: number, task: () => unknown): Cancel {
    return this.add(delayMs, null, task);
  }

  delay(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.add(delayMs, null, resolve));
  }

  /** Tasks waiting to run (cancelled ones not counted). */
  get pending(): number {
    return this.entries.filter((e) => !e.cancelled).length;
  }

  /** Moves the clock by `ms`, running every task that falls due on the way, at its due time. */
  async advance(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    for (;;) {
      const next = this.nextDue(until);
      if (next === null) break;
      this.clock.set(Math.max(this.clock.now(), next.due));
      if (next.interval === null) {
        this.entries.splice(this.entries.indexOf(next), 1);
      } else {
        next.due += next.interval;
      }
      try {
        await next.task();
      } catch (error) {
        this.errors.push(error);
      }
    }
    this.clock.set(until);
  }

  /** Runs what is due now, without moving the clock. */
  runDue(): Promise<void> {
    return this.advance(0);
  }

  private nextDue(until: number): Entry | null {
    let best: Entry | null = null;
    for (const entry of this.entries) {
      if (entry.cancelled || entry.due > until) continue;
      if (best === null || entry.due < best.due || (entry.due === best.due && entry.id < best.id)) best = entry;
    }
    return best;
  }

  private add(delayMs: number, interval: number | null, task: () => unknown): Cancel {
    if (interval !== null && !(interval > 0)) throw new RangeError(`an interval must be positive, got ${interval}`);
    const entry: Entry = { id: this.nextId++, due: this.clock.now() + delayMs, interval, task, cancelled: false };
    this.entries.push(entry);
    return () => {
      entry.cancelled = true;
      const at = this.entries.indexOf(entry);
      if (at >= 0) this.entries.splice(at, 1);
    };
  }
}
