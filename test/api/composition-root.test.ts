import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { createTollgate } from '../../src/compose.js';
import { loadConfig } from '../../src/config.js';
import { ManualScheduler } from '../../src/scheduler.js';
import { ADMIN_TOKEN } from '../helpers/server.js';

// scale-out: about assembling the services in-process; the store's wiring is the stores tier's.

const dir = mkdtempSync(join(tmpdir(), 'tollgate-compose-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('createTollgate assembles Tollgate not listening, on the clock and scheduler it is given: its background jobs start with start() and are all gone after close()', async () => {
  const clock = new ManualClock(Date.parse('2026-03-15T12:00:00Z'));
  const scheduler = new ManualScheduler(clock);
  const config = loadConfig({}, { dataDir: dir, adminToken: ADMIN_TOKEN, logLevel: 'silent' });
  const core = await createTollgate(config, { clock, scheduler, processMetrics: false, logger: false });
  assert.equal(core.app.server.listening, false, 'not listening: the server listens, the embedded SDK injects');
  assert.equal(core.services.clock, clock);
  assert.equal(core.scheduler, scheduler);
  assert.deepEqual([core.adminToken.source, core.webhookSecretSource], ['environment', 'generated']);

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  assert.equal((await core.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const plan = await core.app.inject({ method: 'POST', url: '/admin/plans', headers: admin, payload: { id: 'p', monthly_quota: 10, rate_limit_per_minute: -1 } });
  assert.equal(plan.statusCode, 201);
  assert.equal(plan.json().created_at, new Date(clock.now()).toISOString(), 'the injected clock');
  const metrics = (await core.app.inject({ method: 'GET', url: '/metrics', headers: admin })).body;
  assert.doesNotMatch(metrics, /^process_cpu_user_seconds_total/m, 'no process metrics when asked for none');

  const storeJobs = scheduler.pending;
  core.start();
  core.start();
  assert.equal(scheduler.pending, storeJobs + 2, "the expiring-key scan and the webhook outbox's poll, once");
  await scheduler.advance(config.alertScanMs);
  assert.deepEqual(scheduler.errors, [], 'the jobs run when the scheduler is advanced, without failing');
  await Promise.all([core.close(), core.close()]);
  assert.equal(scheduler.pending, 0, 'closing cancels every job it started, the store\'s included');
});
