import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runToEnd, spawnServer, type ServerProcess } from '../helpers/process.js';
import { ADMIN_TOKEN } from '../helpers/server.js';

/**
 * The README's "Five minutes with curl", run as a reader pastes it: its shell
 * blocks, in order, with bash against `tollgate serve` in its own process. Only
 * the block that starts the server is left out (the test has started one on a
 * free port, with the admin token the reader would have exported), and `B=` is
 * pointed at that server. Each command's output is checked against what the
 * README shows under it: the same fields, and the values the walkthrough implies.
 */
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const README_URL = 'http://127.0.0.1:8080';

let server: ServerProcess;
let dataDir: string;
let workDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-readme-'));
  workDir = mkdtempSync(join(tmpdir(), 'tollgate-readme-shell-'));
  server = await spawnServer(dataDir, { env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } });
});

after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

interface Command {
  /** The command as the README writes it, continuation lines included. */
  text: string;
  /** The README's comment lines right under it: the output it shows. */
  shown: string[];
}

/** The shell blocks of a README section, the one that starts the server left out. */
function walkthroughBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README section "${heading}"`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  // The reader starts the server (npm start) with an admin token of their own; here the test has done both.
  return blocks.filter((block) => !/\bnpm (start|ci)\b/.test(block));
}

/** The commands of a block, each with the comment lines under it. */
function commands(block: string): Command[] {
  const result: Command[] = [];
  let continued = false;
  for (const line of block.split('\n')) {
    if (continued) {
      result[result.length - 1]!.text += `\n${line}`;
    } else if (/^#( |$)/.test(line)) {
      result[result.length - 1]?.shown.push(line.replace(/^# ?/, ''));
    } else if (line.trim() !== '') {
      result.push({ text: line, shown: [] });
    }
    continued = line.endsWith('\\');
  }
  return result;
}

/** The bash script: each command after a marker, so that each one's output can be told apart. */
function script(all: Command[], baseUrl: string): string {
  const lines = ['set -eu'];
  all.forEach((command, i) => lines.push(`printf '\\n@@@ %d\\n' ${i}`, command.text.replace(`B=${README_URL}`, `B=${baseUrl}`)));
  return `${lines.join('\n')}\n`;
}

function installed(command: string): Promise<boolean> {
  return new Promise((resolve) => execFile(command, ['--version'], (error) => resolve(error === null)));
}

/** A value's shape: the same keys, each with the type of its value (arrays by their first item). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return value === null ? 'null' : typeof value;
}

/** The JSON the README shows under a command (after any status line and headers), or null when it elides part of it ("..."). */
function shownJson(shown: string[]): unknown {
  const from = shown.findIndex((line) => line.startsWith('{'));
  if (from < 0) return null;
  try {
    return JSON.parse(shown.slice(from).join('\n'));
  } catch {
    return null;
  }
}

test('"Five minutes with curl" runs as pasted, against a real server, and answers what the README shows', { timeout: 120_000 }, async (t: TestContext) => {
  for (const tool of ['bash', 'curl']) {
    if (!(await installed(tool))) {
      if (process.env.CI === 'true') assert.fail(`${tool} is not installed (required when CI=true)`);
      return void t.skip(`${tool} is not installed`);
    }
  }
  const markdown = readFileSync(README, 'utf8');
  const all = walkthroughBlocks(markdown, 'Five minutes with curl').flatMap(commands);
  assert.ok(all.some((c) => c.text === `B=${README_URL}`), `the walkthrough sets B=${README_URL}`);

  // The reader's shell: the admin token they exported, and the node they run Tollgate with.
  const env = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, HOME: workDir, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };
  const result = await runToEnd('bash', ['-c', script(all, server.url)], { env, cwd: workDir });
  assert.equal(result.code, 0, `the walkthrough failed:\n${result.stdout}\n${result.stderr}`);
  assert.equal(result.stderr, '', 'nothing on stderr');

  const outputs = new Map<number, string>();
  const parts = result.stdout.split(/\n@@@ (\d+)\n/);
  for (let i = 1; i < parts.length; i += 2) outputs.set(Number(parts[i]), parts[i + 1]!);
  assert.equal(outputs.size, all.length, 'every command ran');
  /** The output of the command that matches (the `nth` of `count` that do), with the README's sample under it. */
  const outputOf = (pattern: RegExp, nth = 0, count = 1): { output: string; command: Command } => {
    const found = all.map((command, i) => ({ command, i })).filter(({ command }) => pattern.test(command.text));
    assert.equal(found.length, count, `${count} command(s) match ${pattern}`);
    return { output: outputs.get(found[nth]!.i)!.trim(), command: found[nth]!.command };
  };
  const json = (pattern: RegExp, nth = 0, count = 1): any => {
    const { output, command } = outputOf(pattern, nth, count);
    const answer = JSON.parse(output.slice(output.indexOf('{')));
    const sample = shownJson(command.shown);
    if (sample !== null) assert.deepEqual(shape(answer), shape(sample), `the answer to ${command.text.split('\n')[0]} has the fields the README shows`);
    return answer;
  };

  assert.deepEqual(
    [json(/"id": "starter"/).id, json(/"id": "starter"/).time_zone, json(/\/admin\/groups /).id, json(/\/admin\/groups\/acme\/apps/).app_id],
    ['starter', 'America/New_York', 'acme', 'acme-ocr'],
  );
  // The key is captured from the answer, not copied from the README: the README's own key is no one's.
  const created = json(/^echo "\$NEW_KEY"/);
  assert.match(created.key, /^tg_[1-9A-HJ-NP-Za-km-z]+$/);
  assert.notEqual(created.key, 'tg_F5CaRruWhC4ia3MhGuT1M1fYcTNos8esK');
  assert.equal(outputOf(/^K=/).output, '', 'capturing the key prints nothing');

  const check = outputOf(/curl -s -i -X POST \$B\/v1\/check/).output;
  assert.match(check, /^HTTP\/1\.1 200 OK\r?$/m);
  assert.match(check, /^ratelimit-policy: "minute";q=30;w=60, "month";q=1000;w=\d+\r?$/m);
  assert.match(check, /^ratelimit: "minute";r=29;t=\d+, "month";r=999;t=\d+\r?$/m);
  const first = json(/curl -s -i -X POST \$B\/v1\/check/);
  assert.deepEqual([first.allowed, first.code, first.group_id, first.app_id, first.key_id, first.monthly_used, first.monthly_quota],
    [true, 'ok', 'acme', 'acme-ocr', created.key_id, 1, 1000]);
  assert.equal(first.request_args_hash, 'fb700309b1b80f7b7091ba88d082bb671c783e70', 'the hash the README shows');
  const second = json(/job-7f3a/);
  assert.deepEqual([second.allowed, second.monthly_used, second.replayed], [true, 6, false]);

  // The customer reads their usage twice: after the first calls, and again once the plan sells credits.
  const usage = json(/\/v1\/usage/, 0, 2);
  assert.deepEqual([usage.monthly_used, usage.monthly_quota, usage.rate_limit_per_minute], [6, 1000, 30]);
  assert.deepEqual(usage.current_charges, { period: usage.current_charges.period, currency: 'USD', amount: 6, amount_decimal: '0.06' });
  // The current billing month is a New York month: it starts at 04:00 or 05:00 UTC.
  assert.match(usage.period_start, /^\d{4}-\d{2}-01T0[45]:00:00\.000Z$/);

  // Whatever the day it runs, the computed range holds this month's usage.
  assert.equal(outputOf(/^FROM=/).output, '');
  assert.equal(outputOf(/^TO=/).output, '');
  const ocr = json(/\/v3\/ocr-usage/);
  assert.deepEqual(ocr.ocr_usage, [
    { from_date: usage.period_start, app_id: 'acme-ocr', group_id: 'acme', usage_type: 'image', request_args_hash: 'fb700309b1b80f7b7091ba88d082bb671c783e70', count: 1 },
    { from_date: usage.period_start, app_id: 'acme-ocr', group_id: 'acme', usage_type: 'image-async', request_args_hash: '', count: 5 },
  ]);

  // A plan that sells several features: named limits, a customer's own deal, and credits.
  assert.equal(json(/\[\$PAGES, \$BURST\]/).limits.length, 2);
  assert.deepEqual(json(/limit_overrides/).limit_overrides, { 'pages-day': 5000 });
  assert.equal(json(/\/grants/).remaining, 500);
  const pdf = json(/"usage_type\\": \\"pdf\\"/);
  assert.deepEqual([pdf.allowed, pdf.denied_by, pdf.credits], [true, null, { charged: 15, balance: 485 }]);
  // The minute window weighs the last minute's calls by the clock; the others count exactly.
  assert.deepEqual(pdf.limits.map((l: { name: string; units: number; used: number }) => [l.name, l.units, l.name === 'minute' ? null : l.used]),
    [['minute', 600, null], ['month', 100000, 9], ['pages-day', 5000, 3], ['burst', 20, 3]]);
  const later = json(/\/v1\/usage/, 1, 2);
  assert.equal(later.monthly_used, 9);
  assert.deepEqual([later.credits.balance, later.credits.granted_this_period, later.credits.used_this_period], [485, 500, 16]);
});
