import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CpuReport } from '../../bench/lib/accounting.js';
import { count, instancesList } from '../../bench/lib/options.js';
import { scaleOutConfigurations } from '../../bench/scale-out.js';
import { comparison, TOLLGATE_PARTS, PEER_PARTS, sideRound } from '../../bench/scale-out-peer.js';
import type { LoadResult } from '../../bench/lib/load.js';

// The scale-out bench's options (--scale-out-instances) and its comparison with the Redis-limiter peer: what the
// bench runs and how its ratios are taken, without starting a server.

test('--scale-out-instances: 2 by default, a list runs each number, fewer than 2 or a repeat is refused', () => {
  assert.deepEqual(instancesList(undefined), [2]);
  assert.deepEqual(instancesList('2,4'), [2, 4]);
  assert.deepEqual(instancesList(' 3 '), [3]);
  assert.throws(() => instancesList('1'), /--scale-out-instances must be a number of at least 2, got "1"/);
  assert.throws(() => instancesList('2,x'), /--scale-out-instances must be a number/);
  assert.throws(() => instancesList('2,2'), /lists a number twice/);
  assert.equal(count('scale-out-rounds', undefined, 3), 3);
  assert.equal(count('events', '200k', 1), 200_000);
});

test('each number of instances runs strict and relaxed, after the embedded baseline', () => {
  const configurations = scaleOutConfigurations([2, 4]);
  assert.deepEqual(configurations.map((c) => [c.name, c.instances, c.store, c.env?.TOLLGATE_LIMITS_MODE ?? 'strict']), [
    ['embedded', 1, 'embedded', 'strict'],
    ['strict-2', 2, 'scale-out', 'strict'],
    ['relaxed-2', 2, 'scale-out', 'relaxed'],
    ['strict-4', 4, 'scale-out', 'strict'],
    ['relaxed-4', 4, 'scale-out', 'relaxed'],
  ]);
});

const load = (reqPerSec: number, answered: number, p99: number): LoadResult => ({
  reqPerSec, latencyP50Ms: p99 / 2, latencyP99Ms: p99, latencyAvgMs: p99 / 2, samples: 1, durationS: 1, status2xx: answered, non2xx: 0, errors: 0,
  timeouts: 0, sent: answered, answered, admitted: answered, notAdmitted: 0, inFlightAtEnd: 0, drained: true,
});
const cpu = (usPerCheck: Record<string, number | null>): CpuReport => ({ wallMs: 1000, machineBusyMs: null, machineCores: 2, ms: {}, usPerCheck });

test('the comparison with the peer: instances summed, the worse p99, each round its ratio, the median against the mode\'s target', () => {
  const side = (rates: [number, number], us: Record<string, number | null>, parts: readonly string[]) =>
    sideRound([load(rates[0], rates[0], 10), load(rates[1], rates[1], 30)], cpu(us), null, parts);
  const round = (tollgate: [number, number], peer: [number, number], pgUs: number | null) => ({
    tollgate: side(tollgate, { tollgate: 200, postgres: pgUs, redis: 20, 'load generator': 90 }, TOLLGATE_PARTS),
    peer: side(peer, { peer: 80, redis: 20, 'load generator': 90 }, PEER_PARTS),
  });
  const rounds = [round([400, 400], [1000, 1000], 180), round([500, 500], [1000, 1000], null), round([300, 300], [1000, 1000], 80)];
  assert.equal(rounds[0]!.tollgate.reqPerSec, 800);
  assert.equal(rounds[0]!.tollgate.latencyP99Ms, 30);
  // The load generator is not a side's cost; a part that could not be read leaves the round without a CPU figure.
  assert.equal(rounds[0]!.tollgate.cpuUs, 400);
  assert.equal(rounds[0]!.peer.cpuUs, 100);
  assert.equal(rounds[1]!.tollgate.cpuUs, null);

  const strict = comparison(2, false, rounds);
  assert.deepEqual(strict.rounds.map((r) => r.reqPerSecRatio), [0.4, 0.5, 0.3]);
  assert.equal(strict.medianRatio, 0.4);
  assert.deepEqual(strict.rounds.map((r) => r.cpuRatio), [4, null, 3]);
  assert.equal(strict.medianCpuRatio, 3.5);
  assert.deepEqual(strict.target, { min: 0.7, status: 'target missed' });

  const fast = [round([800, 800], [1000, 1000], 10)];
  assert.deepEqual(comparison(2, false, fast).target, { min: 0.7, status: 'target met' });
  assert.deepEqual(comparison(2, true, fast).target, { min: 1, status: 'target missed' });
});
