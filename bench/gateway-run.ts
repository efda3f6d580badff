/**
 * The gateway benchmark on its own: `npx tsc -p tsconfig.json && node dist/bench/gateway-run.js`.
 *
 *   --duration S       seconds measured per server and round (default 10)
 *   --warmup S         warm-up seconds before each measured run (default 2)
 *   --connections N    concurrent connections (default 64)
 *   --keys N --groups N   customer keys, spread over groups (default 100 over 10)
 *   --rounds N         measured runs per server, alternating (default 1)
 *   --json FILE        also write the report as JSON
 *
 * Prints a summary table and the command that reproduces it. Exits non-zero
 * when the counting check fails; a missed performance target is reported,
 * not fatal. Everything stays on 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { gatewaySummaryRows, runGatewayBench, type GatewayBenchOptions } from './gateway.js';
import { log, table } from './lib/stats.js';

function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of at least 1, got "${raw}"`);
  return value;
}

function parse(): { options: GatewayBenchOptions; json: string | undefined } {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' },
      keys: { type: 'string' }, groups: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' },
    },
    strict: true,
  });
  return {
    options: {
      durationS: count('duration', values.duration, 10),
      warmupS: count('warmup', values.warmup, 2),
      connections: count('connections', values.connections, 64),
      keys: count('keys', values.keys, 100),
      groups: count('groups', values.groups, 10),
      rounds: count('rounds', values.rounds, 1),
    },
    json: values.json,
  };
}

/** The flags that reproduce a run of this benchmark, every setting spelled out. */
function gatewayArgs(o: GatewayBenchOptions): string[] {
  return ['--duration', String(o.durationS), '--warmup', String(o.warmupS), '--connections', String(o.connections),
    '--keys', String(o.keys), '--groups', String(o.groups), '--rounds', String(o.rounds)];
}

async function main(): Promise<number> {
  const { options, json } = parse();
  const command = `npx tsc -p tsconfig.json && node dist/bench/gateway-run.js ${gatewayArgs(options).join(' ')}`;
  log(`node ${process.version}, ${cpus().length} cpus; ${command}`);
  const report = await runGatewayBench(options);
  process.stdout.write(`\n${table([['', 'Tollgate', 'peer', 'ours/peer', 'note'], ...gatewaySummaryRows(report)])}\n\n`);
  process.stdout.write(`reproduce: ${command}\n`);
  for (const w of report.warnings) process.stdout.write(`warning: ${w}\n`);
  for (const f of report.failures) process.stdout.write(`FAILED: ${f}\n`);
  if (json !== undefined) writeFileSync(json, `${JSON.stringify({ finishedAt: new Date().toISOString(), command, ...report }, null, 2)}\n`);
  return report.failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
