/**
 * The scale-out benchmark's summary rows and JSON (bench/scale-out.ts runs
 * it): each configuration against the embedded baseline, and each
 * scale-out configuration against the same number of peer instances.
 */
import { machineBusyNote, perCheck } from './lib/accounting.js';
import { int, met, ms, ratio, round } from './lib/stats.js';
import { isRelaxed, type ConfigurationReport, type ScaleOutReport } from './scale-out.js';
import { PEER_DESCRIPTION, sideMedian, type PeerComparison, type SideRound } from './scale-out-peer.js';

const us = (v: number | null) => (v === null ? '?' : `${v.toFixed(0)} µs`);

/** "Tollgate 250 + postgres 160 + redis 20": the parts of a side's CPU per check, medians over the rounds. */
function parts(c: PeerComparison, side: 'tollgate' | 'peer'): string {
  const names = Object.keys(c.rounds[0]?.[side].cpu.usPerCheck ?? {}).filter((k) => k !== 'load generator' && k !== 'other');
  return names.map((k) => `${k} ${sideMedian(c, side, (r) => r.cpu.usPerCheck[k])?.toFixed(0) ?? '?'}`).join(' + ');
}

/** The rows comparing one scale-out configuration with its peer. */
function peerRows(n: string, c: PeerComparison): string[][] {
  const t = sideMedian(c, 'tollgate', (r) => r.reqPerSec);
  const p = sideMedian(c, 'peer', (r) => r.reqPerSec);
  const tCpu = sideMedian(c, 'tollgate', (r) => r.cpuUs);
  const pCpu = sideMedian(c, 'peer', (r) => r.cpuUs);
  const rt = sideMedian(c, 'peer', (r) => r.redis?.roundTripsPerCheck);
  const cmds = sideMedian(c, 'peer', (r) => r.redis?.serverPerCheck);
  const first = c.rounds[0]?.peer.redis ?? null;
  return [
    [`${n} vs peer checks/s`, t === null ? '?' : int(t), p === null ? '?' : int(p), ratio(c.medianRatio),
      `${c.instances} × ${PEER_DESCRIPTION}; median of ${c.rounds.length} alternating rounds (${c.rounds.map((r) => ratio(r.reqPerSecRatio)).join(', ')}); `
      + `${c.target.status} (>= ${ratio(c.target.min)})`],
    [`${n} vs peer latency p99`, ms(sideMedian(c, 'tollgate', (r) => r.latencyP99Ms) ?? Number.NaN), ms(sideMedian(c, 'peer', (r) => r.latencyP99Ms) ?? Number.NaN), '',
      'worse instance, medians over the rounds'],
    [`${n} vs peer CPU per check`, us(tCpu), us(pCpu), c.medianCpuRatio === null ? '' : ratio(c.medianCpuRatio),
      `${parts(c, 'tollgate')} vs ${parts(c, 'peer')} µs, medians`],
    [`${n} peer Redis per check`, rt === null ? '?' : rt.toFixed(2), cmds === null ? '?' : cmds.toFixed(2), '',
      `round trips sent, then commands as Redis counts them (inside its script too, and the idle Tollgate instances' syncs); sent: ${perCheck(first?.clientByCommand ?? null, first?.checks ?? 0)}, `
      + `INFO: ${perCheck(first?.serverByCommand ?? null, first?.checks ?? 0)} (first round)`],
  ];
}

/** Rows of the summary table: each configuration against the first (the baseline). */
export function scaleOutSummaryRows(r: ScaleOutReport): string[][] {
  const rows: string[][] = [];
  const base = r.configurations[0];
  if (base === undefined) return rows;
  const tollgateUs = (c: ConfigurationReport): number | null => c.cpu.usPerCheck.tollgate ?? null;
  const cpuNote = (c: ConfigurationReport) => {
    const rest = Object.entries(c.cpu.usPerCheck).filter(([k, v]) => k !== 'tollgate' && v !== null && v > 0).map(([k, v]) => `${k} ${v!.toFixed(0)}`);
    const busy = machineBusyNote(c.cpu);
    return `${rest.length === 0 ? '' : `+ ${rest.join(', ')} µs`}${busy === '' ? '' : `; ${busy}`}`;
  };
  rows.push([`${base.configuration.name} checks/s`, int(base.total.reqPerSec), '', '', `baseline: ${base.configuration.description}`]);
  rows.push([`${base.configuration.name} latency p99`, ms(base.total.latencyP99Ms), '', '', `p50 ${ms(base.total.latencyP50Ms)}`]);
  rows.push([`${base.configuration.name} CPU per check`, us(tollgateUs(base)), '', '', cpuNote(base)]);
  const baseBatch = base.meanBatch[0] ?? null;
  if (baseBatch !== null) rows.push([`${base.configuration.name} group commit batch`, baseBatch.toFixed(1), '', '', 'calls per fsync, last 1000 batches']);
  for (const c of r.configurations.slice(1)) {
    const n = c.configuration.name;
    rows.push([`${n} checks/s`, int(c.total.reqPerSec), int(base.total.reqPerSec), ratio(c.vsBaseline.reqPerSec),
      `${c.configuration.description} vs ${base.configuration.name}; ${c.measured.map((m) => int(m.reqPerSec)).join(' + ')}`]);
    rows.push([`${n} latency p99`, ms(c.total.latencyP99Ms), ms(base.total.latencyP99Ms), ratio(c.vsBaseline.p99),
      `worse instance; p50 ${ms(c.total.latencyP50Ms)} vs ${ms(base.total.latencyP50Ms)}`]);
    const t = tollgateUs(c);
    const b = tollgateUs(base);
    rows.push([`${n} CPU per check`, us(t), us(b), t === null || b === null ? '' : ratio(t / b), cpuNote(c)]);
    if (c.redis !== null) {
      const rt = c.redis.roundTripsPerCheck;
      rows.push([`${n} Redis round trips/check`, rt === null ? '?' : rt.toFixed(2), '', '',
        `${rt === null ? 'not counted' : met(rt <= 1)} (1); sent: ${perCheck(c.redis.clientByCommand, c.redis.checks)}`]);
      const w = c.redis.writesPerCheck;
      rows.push([`${n} Redis socket writes/check`, w === null ? '?' : w.toFixed(3), '', '', 'auto-pipelining: the commands of one event-loop turn share a write']);
      rows.push([`${n} Redis commands/check`, c.redis.serverPerCheck.toFixed(2), '', '',
        `INFO, incl. inside scripts: ${perCheck(c.redis.serverByCommand, c.redis.checks)}`]);
    }
    if (c.peer !== null) rows.push(...peerRows(n, c.peer));
    const batches = c.meanBatch.filter((b): b is number => b !== null);
    if (batches.length > 0) rows.push([`${n} group commit batch`, batches.map((b) => b.toFixed(1)).join(' / '), '', '', 'calls per transaction, per instance, last 1000']);
  }
  for (const c of r.configurations) {
    const o = c.overshoot;
    rows.push([`${c.configuration.name} quota overshoot`, int(o.over), '', '',
      `${int(o.admitted)} admitted for a quota of ${int(o.quota)} (${((o.over / o.quota) * 100).toFixed(2)}%), ${c.configuration.instances} instance(s) at once`]);
  }
  for (const c of r.configurations) {
    const d = c.durability;
    rows.push([`${c.configuration.name} durability`, `${int(d.units)} units`, `${int(d.admittedAnswers)} allowed`, '',
      d.equal ? `equal (ok), ${d.store}` : `DIFFERENT (${r.failures.some((f) => f.startsWith(`${c.configuration.name} durability`)) ? 'failure' : 'see warnings'})`]);
  }
  return rows;
}

/** The report as written to bench/results/latest.json. */
export function scaleOutJson(r: ScaleOutReport): Record<string, unknown> {
  const base = r.configurations[0];
  const scaleOut = r.configurations.find((c) => c.configuration.store === 'scale-out' && !isRelaxed(c.configuration));
  return {
    options: r.options,
    ratio: scaleOut === undefined || base === undefined ? null : {
      reqPerSec: round(scaleOut.vsBaseline.reqPerSec, 3), p99: round(scaleOut.vsBaseline.p99, 3),
    },
    configurations: r.configurations.map((c) => ({
      name: c.configuration.name,
      description: c.configuration.description,
      instances: c.configuration.instances,
      connections: c.connections,
      reqPerSec: round(c.total.reqPerSec),
      p50Ms: c.total.latencyP50Ms,
      p99Ms: c.total.latencyP99Ms,
      answered: c.total.answered,
      overshoot: c.overshoot,
      vsBaseline: { reqPerSec: round(c.vsBaseline.reqPerSec, 3), p99: round(c.vsBaseline.p99, 3) },
      cpu: {
        wallMs: round(c.cpu.wallMs), machineBusyMs: c.cpu.machineBusyMs === null ? null : round(c.cpu.machineBusyMs), machineCores: c.cpu.machineCores,
        ms: Object.fromEntries(Object.entries(c.cpu.ms).map(([k, v]) => [k, v === null ? null : round(v)])),
        usPerCheck: Object.fromEntries(Object.entries(c.cpu.usPerCheck).map(([k, v]) => [k, v === null ? null : round(v, 1)])),
      },
      redis: c.redis === null ? null : {
        ...c.redis,
        serverPerCheck: round(c.redis.serverPerCheck, 3),
        roundTripsPerCheck: c.redis.roundTripsPerCheck === null ? null : round(c.redis.roundTripsPerCheck, 3),
        writesPerCheck: c.redis.writesPerCheck === null ? null : round(c.redis.writesPerCheck, 4),
        target: c.redis.roundTripsPerCheck === null ? null : met(c.redis.roundTripsPerCheck <= 1),
      },
      peer: c.peer === null ? null : peerJson(c.peer),
      durability: c.durability,
      meanGroupCommitBatch: c.meanBatch,
      measured: c.measured,
      warmup: c.warmup,
    })),
  };
}

function sideJson(s: SideRound): Record<string, unknown> {
  return {
    reqPerSec: round(s.reqPerSec), p99Ms: s.latencyP99Ms, answered: s.answered, cpuUsPerCheck: s.cpuUs === null ? null : round(s.cpuUs, 1),
    usPerCheckByPart: Object.fromEntries(Object.entries(s.cpu.usPerCheck).map(([k, v]) => [k, v === null ? null : round(v, 1)])),
    redisRoundTripsPerCheck: s.redis?.roundTripsPerCheck ?? null, redisCommandsPerCheck: s.redis === null ? null : round(s.redis.serverPerCheck, 3),
  };
}

function peerJson(c: PeerComparison): Record<string, unknown> {
  return {
    peer: PEER_DESCRIPTION,
    instances: c.instances,
    medianRatio: round(c.medianRatio, 3),
    medianCpuRatio: c.medianCpuRatio === null ? null : round(c.medianCpuRatio, 3),
    target: c.target,
    rounds: c.rounds.map((r) => ({
      reqPerSecRatio: round(r.reqPerSecRatio, 3), cpuRatio: r.cpuRatio === null ? null : round(r.cpuRatio, 3),
      tollgate: sideJson(r.tollgate), peer: sideJson(r.peer),
    })),
  };
}
