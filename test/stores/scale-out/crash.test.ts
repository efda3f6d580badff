import { test } from 'node:test';
import { crashUnderLoad } from '../../helpers/crash-load.js';
import { scaleOutCluster } from '../../helpers/scale-out.js';

// The embedded store's crash test (test/stores/crash.test.ts), on the scale-out
// store: the instance is killed, PostgreSQL and Redis live on. Its data
// directory (the spool of fail-open mode) is kept across the restarts. The
// records are exact; the quota counter in Redis may be off by the calls in
// flight at the kills (see docs/operations.md, "Strict and relaxed mode, and store outages").
const cluster = scaleOutCluster('scale-crash');

for (const onStoreDown of ['closed', 'open'] as const) {
  test(`scale-out store (${onStoreDown} on store down): kill -9 at ten random moments loses nothing acknowledged, and counts nothing twice`, { timeout: 240_000 }, async (t) => {
    const dataDir = cluster.tempDir();
    const result = await crashUnderLoad({ start: () => cluster.spawn({ dataDir, env: { TOLLGATE_ON_STORE_DOWN: onStoreDown } }), rounds: 10, counterExactAfterKill: false });
    t.diagnostic(`${result.acknowledged} units acknowledged, ${result.unanswered} calls in flight at the kills, ${result.units} recorded after retries, quota counter ${result.counter}`);
  });
}
