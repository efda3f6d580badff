import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { ManualScheduler, systemScheduler } from '../../src/scheduler.js';

describe('ManualScheduler', () => {
  test('runs repeating and one-off tasks at their due times, in order, as the clock is advanced', async () => {
    const clock = new ManualClock(1_000);
    const scheduler = new ManualScheduler(clock);
    const runs: Array<[string, number]> = [];
    scheduler.every(100, () => runs.push(['every', clock.now()]));
    scheduler.after(150, () => runs.push(['after', clock.now()]));
    await scheduler.advance(99);
    assert.deepEqual(runs, [], 'nothing is due before its time');
    await scheduler.advance(251);
    assert.deepEqual(runs, [['every', 1_100], ['after', 1_150], ['every', 1_200], ['every', 1_300]]);
    assert.equal(clock.now(), 1_350);
    assert.equal(scheduler.pending, 1, 'the one-off is gone, the repeating task stays');
  });

  test('a cancelled task never runs again, and a failing task is reported and runs again', async () => {
    const clock = new ManualClock(0);
    const scheduler = new ManualScheduler(clock);
    let runs = 0;
    const cancel = scheduler.every(10, () => {
      runs += 1;
      throw new Error(`run ${runs}`);
    });
    await scheduler.advance(25);
    assert.equal(runs, 2);
    assert.deepEqual(scheduler.errors.map((e) => (e as Error).message), ['run 1', 'run 2']);
    cancel();
    cancel();
    await scheduler.advance(100);
    assert.equal(runs, 2);
    assert.equal(scheduler.pending, 0);
  });

  test('delay resolves once the clock passes it; an async task is awaited before the next one runs', async () => {
    const clock = new ManualClock(0);
    const scheduler = new ManualScheduler(clock);
    const order: string[] = [];
    scheduler.after(5, async () => {
      await Promise.resolve();
      order.push('slow task done');
    });
    const waited = scheduler.delay(10).then(() => order.push('delay'));
    await scheduler.advance(9);
    assert.deepEqual(order, ['slow task done']);
    await scheduler.advance(1);
    await waited;
    assert.deepEqual(order, ['slow task done', 'delay']);
  });

  test('refuses an interval that would never let time move', () => {
    const scheduler = new ManualScheduler(new ManualClock(0));
    assert.throws(() => scheduler.every(0, () => undefined), RangeError);
  });
});

describe('systemScheduler', () => {
  test('runs a repeating task on real timers, not again while a run is under way, and reports failures', async (t) => {
    // The scheduler's timers are unref'd: this one keeps the test's event loop alive meanwhile.
    const keepAlive = setInterval(() => undefined, 1_000);
    t.after(() => clearInterval(keepAlive));
    const errors: unknown[] = [];
    const scheduler = systemScheduler((error) => errors.push(error));
    let started = 0;
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstStarted!: () => void;
    const first = new Promise<void>((resolve) => {
      firstStarted = resolve;
    });
    const cancel = scheduler.every(1, async () => {
      started += 1;
      firstStarted();
      await blocked;
      throw new Error('failed once');
    });
    await first;
    // Several intervals pass while the first run is blocked: none starts beside it.
    await scheduler.delay(20);
    assert.equal(started, 1);
    release();
    await new Promise<void>((resolve) => {
      const poll = scheduler.every(1, () => {
        if (errors.length > 0) {
          poll();
          resolve();
        }
      });
    });
    cancel();
    assert.equal((errors[0] as Error).message, 'failed once');
    let ran = false;
    scheduler.after(1, () => {
      ran = true;
    })();
    await scheduler.delay(10);
    assert.equal(ran, false, 'a cancelled one-off never runs');
  });

  test('a task keeps the process alive until it runs only when asked to (keepAlive): the SDK batcher holding events', () => {
    const scheduler = new URL('../../src/scheduler.js', import.meta.url).href;
    const run = (options: string) => execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { systemScheduler } from ${JSON.stringify(scheduler)}; systemScheduler(undefined, ${options}).after(20, () => console.log('ran'));`], { encoding: 'utf8' });
    assert.equal(run('{ keepAlive: true }'), 'ran\n');
    assert.equal(run('{}'), '', 'by default the process, with nothing else to do, exits first');
  });
});
