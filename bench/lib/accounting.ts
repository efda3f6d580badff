/**
 * Where a benchmark run's work went: the CPU of each process involved (from
 * /proc), the machine's busy time, and the Redis commands, both as Redis
 * counts them (INFO commandstats) and as the clients sent them
 * (bench/servers/redis-command-counter.ts preloaded into a server). All
 * figures are differences over the measured period, per answered check.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { treeCpuMs, type ChildServer } from './child.js';

/** CPU time over the measured period, per part of the set-up. */
export interface CpuReport {
  wallMs: number;
  /** Busy time of the whole machine (all cores), from /proc/stat. */
  machineBusyMs: number | null;
  machineCores: number;
  /** CPU milliseconds of each part (e.g. tollgate, postgres, redis, all of a part's processes), and the load generator (this process). */
  ms: Record<string, number | null>;
  /** The same per answered check, in microseconds. */
  usPerCheck: Record<string, number | null>;
}

export interface RedisReport {
  /** Checks answered in the measured period, the divisor. */
  checks: number;
  /** INFO commandstats difference over the measured period, without the benchmark's own INFO calls; Redis 7 counts the commands a script runs, too. */
  serverCommands: number;
  serverPerCheck: number;
  serverByCommand: Record<string, number>;
  /** Commands the instances wrote to their Redis connections, counted in the instances: a check's round trips to Redis. */
  clientCommands: number | null;
  roundTripsPerCheck: number | null;
  clientByCommand: Record<string, number> | null;
  /** Socket writes that carried those commands: fewer than the commands when auto-pipelining batches them. */
  writesPerCheck: number | null;
}

/** A server whose Redis commands the command counter counts, and the file it writes them to. */
export interface CountedServer {
  server: ChildServer;
  file: string;
}

/**
 * Runs `run` (one load over the servers) between two readings of every
 * part's CPU, Redis's INFO commandstats (when `redis` is given) and the
 * counted servers' own command counts, and reports them per answered check.
 */
export async function accountedRun<T>(
  parts: Record<string, readonly number[]>, redis: Redis | null, counted: readonly CountedServer[], run: () => Promise<T>, answered: (result: T) => number,
): Promise<{ result: T; cpu: CpuReport; redis: RedisReport | null }> {
  const clientBefore = counted.length === 0 ? null : await Promise.all(counted.map((c) => clientCommands(c.server, c.file)));
  const serverBefore = redis === null ? null : await commandStats(redis);
  const cpuBefore = cpuSnapshot(parts);
  const result = await run();
  const cpuAfter = cpuSnapshot(parts);
  const serverAfter = redis === null ? null : await commandStats(redis);
  const clientAfter = counted.length === 0 ? null : await Promise.all(counted.map((c) => clientCommands(c.server, c.file)));
  const checks = answered(result);
  return {
    result,
    cpu: cpuReport(cpuBefore, cpuAfter, checks),
    redis: serverBefore === null || serverAfter === null ? null : redisFigures(serverBefore, serverAfter, clientBefore, clientAfter, checks),
  };
}

/** Sum of the parts' CPU per check, in microseconds; null when one of them could not be read. */
export function cpuUsPerCheck(cpu: CpuReport, parts: readonly string[]): number | null {
  let total = 0;
  for (const part of parts) {
    const v = cpu.usPerCheck[part];
    if (v === null || v === undefined) return null;
    total += v;
  }
  return total;
}

/** "73% busy": how busy the whole machine was over the period. */
export function machineBusyNote(cpu: CpuReport): string {
  return cpu.machineBusyMs === null ? '' : `machine ${((cpu.machineBusyMs / cpu.wallMs / cpu.machineCores) * 100).toFixed(0)}% busy`;
}

// ------------------------------------------------------------ Redis commands

/** Calls per command from INFO commandstats (script-run commands included, as Redis 7 counts them). */
async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

/**
 * The instance's own count of the commands it wrote to Redis
 * (bench/servers/redis-command-counter.ts): SIGUSR2, then wait for the
 * counter to write a newer snapshot.
 */
async function clientCommands(instance: ChildServer, file: string): Promise<Record<string, number> | null> {
  const read = (): { snapshot: number; counts: Record<string, number> } | null => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { snapshot: number; counts: Record<string, number> };
    } catch {
      return null;
    }
  };
  if (!existsSync(file)) return null;
  const before = read()?.snapshot ?? -1;
  process.kill(instance.pid, 'SIGUSR2');
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const now = read();
    if (now !== null && now.snapshot > before) return now.counts;
    await new Promise((r) => setTimeout(r, 10));
  }
  return null;
}

function diff(before: Record<string, number>, after: Record<string, number>, skip: readonly string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0 && !skip.includes(k)) out[k] = d;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}

/** The counter's entry for socket writes (bench/servers/redis-command-counter.ts), not a command. */
const WRITES = '(writes)';

function redisFigures(
  serverBefore: Record<string, number>, serverAfter: Record<string, number>,
  clientBefore: Array<Record<string, number> | null> | null, clientAfter: Array<Record<string, number> | null> | null, checks: number,
): RedisReport {
  // The benchmark's own INFO calls are not the instances' doing.
  const serverByCommand = diff(serverBefore, serverAfter, ['info']);
  let clientByCommand: Record<string, number> | null = null;
  if (clientBefore !== null && clientAfter !== null && [...clientBefore, ...clientAfter].every((c) => c !== null)) {
    const merged: Record<string, number> = {};
    clientAfter.forEach((after, i) => {
      for (const [k, v] of Object.entries(diff(clientBefore[i]!, after!))) merged[k] = (merged[k] ?? 0) + v;
    });
    clientByCommand = Object.fromEntries(Object.entries(merged).sort((a, b) => b[1] - a[1]));
  }
  const serverCommands = sum(serverByCommand);
  const writes = clientByCommand?.[WRITES] ?? null;
  if (clientByCommand !== null) delete clientByCommand[WRITES];
  const clientCommandsTotal = clientByCommand === null ? null : sum(clientByCommand);
  return {
    checks,
    serverCommands,
    serverPerCheck: checks === 0 ? Number.NaN : serverCommands / checks,
    serverByCommand,
    clientCommands: clientCommandsTotal,
    roundTripsPerCheck: clientCommandsTotal === null || checks === 0 ? null : clientCommandsTotal / checks,
    clientByCommand,
    writesPerCheck: writes === null || checks === 0 ? null : writes / checks,
  };
}

/** "evalsha 1.00, hmget 2.00" */
export function perCheck(calls: Record<string, number> | null, checks: number): string {
  if (calls === null) return 'not counted';
  const entries = Object.entries(calls);
  if (entries.length === 0) return 'none';
  return entries.map(([k, v]) => `${k} ${(v / checks).toFixed(2)}`).join(', ');
}

// ------------------------------------------------------------ CPU

interface CpuSnapshot {
  at: number;
  parts: Record<string, number | null>;
  loadGeneratorMs: number;
  machine: { busyMs: number; cores: number } | null;
}

function machineBusy(): { busyMs: number; cores: number } | null {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const cpu = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
    return { busyMs: (busy * 1000) / 100, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
  } catch {
    return null;
  }
}

function cpuSnapshot(parts: Record<string, readonly number[]>): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    parts: Object.fromEntries(Object.entries(parts).map(([k, pids]) => [k, treeCpuMs(pids)])),
    loadGeneratorMs: (usage.user + usage.system) / 1000,
    machine: machineBusy(),
  };
}

function cpuReport(before: CpuSnapshot, after: CpuSnapshot, checks: number): CpuReport {
  const msUsed: Record<string, number | null> = {};
  for (const k of Object.keys(after.parts)) {
    const a = after.parts[k];
    const b = before.parts[k];
    msUsed[k] = a === null || a === undefined || b === null || b === undefined ? null : a - b;
  }
  msUsed['load generator'] = after.loadGeneratorMs - before.loadGeneratorMs;
  const machineBusyMs = before.machine === null || after.machine === null ? null : after.machine.busyMs - before.machine.busyMs;
  if (machineBusyMs !== null) {
    const known = Object.values(msUsed).reduce<number>((a, b) => a + (b ?? 0), 0);
    msUsed.other = Math.max(0, machineBusyMs - known);
  }
  return {
    wallMs: after.at - before.at,
    machineBusyMs,
    machineCores: after.machine?.cores ?? 0,
    ms: msUsed,
    usPerCheck: Object.fromEntries(Object.entries(msUsed).map(([k, v]) => [k, v === null || checks === 0 ? null : (v * 1000) / checks])),
  };
}

