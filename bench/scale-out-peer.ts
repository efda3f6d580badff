/**
 * The scale-out mode against the peer a user would pick instead: as many
 * Fastify + rate-limiter-flexible (RateLimiterRedis) instances as Tollgate
 * runs, on the same Redis, under the same load, measured in alternating
 * rounds with Tollgate's instances (bench/servers/redis-limiter-peer-server.ts).
 * The peer records nothing durable; Tollgate writes every admitted check to
 * PostgreSQL, so the ratio prices that record and the ledger around it.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuUsPerCheck, type CountedServer, type CpuReport, type RedisReport } from './lib/accounting.js';
import { startServer } from './lib/child.js';
import type { LoadResult } from './lib/load.js';
import { serverScript } from './lib/paths.js';
import { median, met } from './lib/stats.js';

/** The processes whose CPU a side's check costs: Tollgate's instances with PostgreSQL and Redis; the peer's with Redis. */
export const TOLLGATE_PARTS = ['tollgate', 'postgres', 'redis'] as const;
export const PEER_PARTS = ['peer', 'redis'] as const;

export const PEER_DESCRIPTION = 'Fastify + rate-limiter-flexible (RateLimiterRedis), same Redis, nothing recorded';

/** One side of one round: the load over its instances and what it cost. */
export interface SideRound {
  reqPerSec: number;
  /** The worse instance's p99. */
  latencyP99Ms: number;
  answered: number;
  /** CPU per check of the side's parts together (TOLLGATE_PARTS or PEER_PARTS), in microseconds. */
  cpuUs: number | null;
  cpu: CpuReport;
  redis: RedisReport | null;
}

export interface PeerComparison {
  instances: number;
  /** Round by round, Tollgate and the peer; which went first alternates. */
  rounds: Array<{ tollgate: SideRound; peer: SideRound; reqPerSecRatio: number; cpuRatio: number | null }>;
  /** Tollgate / peer in checks/s: the median of the rounds' ratios. */
  medianRatio: number;
  /** Tollgate / peer in CPU per check, the median of the rounds' ratios. */
  medianCpuRatio: number | null;
  /** The floor for this mode (0.7x strict, 1.0x relaxed), and whether the median meets it. */
  target: { min: number; status: string };
}

/** Starts `n` peer instances on `redisUrl`, each counting the Redis commands it sends into a file under `dir`. */
export async function startPeers(n: number, redisUrl: string, dir: string): Promise<CountedServer[]> {
  const counter = pathToFileURL(serverScript('redis-command-counter')).href;
  const peers: CountedServer[] = [];
  try {
    for (let i = 0; i < n; i += 1) {
      const file = join(dir, `peer-redis-commands-${i + 1}.json`);
      const server = await startServer(`peer-${i + 1}`, serverScript('redis-limiter-peer-server'), {
        BENCH_REDIS_URL: redisUrl, BENCH_REDIS_COUNTS_FILE: file,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${counter}"`.trim(),
      });
      peers.push({ server, file });
    }
    return peers;
  } catch (error) {
    for (const peer of peers) await peer.server.stop(10_000);
    throw error;
  }
}

/** A side's round from its loads (one per instance) and their accounting. */
export function sideRound(loads: readonly LoadResult[], cpu: CpuReport, redis: RedisReport | null, parts: readonly string[]): SideRound {
  return {
    reqPerSec: loads.reduce((n, r) => n + r.reqPerSec, 0),
    latencyP99Ms: Math.max(...loads.map((r) => r.latencyP99Ms)),
    answered: loads.reduce((n, r) => n + r.answered, 0),
    cpuUs: cpuUsPerCheck(cpu, parts),
    cpu,
    redis,
  };
}

export function comparison(instances: number, relaxed: boolean, rounds: ReadonlyArray<{ tollgate: SideRound; peer: SideRound }>): PeerComparison {
  const withRatios = rounds.map((r) => ({
    ...r,
    reqPerSecRatio: r.tollgate.reqPerSec / r.peer.reqPerSec,
    cpuRatio: r.tollgate.cpuUs === null || r.peer.cpuUs === null ? null : r.tollgate.cpuUs / r.peer.cpuUs,
  }));
  const cpuRatios = withRatios.map((r) => r.cpuRatio).filter((v): v is number => v !== null);
  const medianRatio = median(withRatios.map((r) => r.reqPerSecRatio));
  const min = relaxed ? 1.0 : 0.7;
  return {
    instances,
    rounds: withRatios,
    medianRatio,
    medianCpuRatio: cpuRatios.length === 0 ? null : median(cpuRatios),
    target: { min, status: met(medianRatio >= min) },
  };
}

/** Median over the rounds of one side's figure, null when no round has it. */
export function sideMedian(c: PeerComparison, side: 'tollgate' | 'peer', figure: (r: SideRound) => number | null | undefined): number | null {
  const values = c.rounds.map((r) => figure(r[side])).filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
  return values.length === 0 ? null : median(values);
}
