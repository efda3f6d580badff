import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runToEnd } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// scale-out: the document is the same whatever the store.

/**
 * The served /openapi.json through Redocly's linter with its `recommended`
 * rules, as an integrator's pipeline would check it: no error, and no warning
 * but the ones listed here with the reason each one stays.
 */
const REDOCLY = fileURLToPath(new URL('../../../node_modules/@redocly/cli/bin/cli.js', import.meta.url));

/** Warnings that stay, by rule and place, each with its reason. */
const ACCEPTED_WARNINGS = [
  {
    ruleId: 'operation-4xx-response',
    pointer: '#/paths/~1healthz/get/responses',
    // GET /healthz takes no parameters, no body and no credentials: it has no 4xx answer of its own
    // (only those any request can get, such as 431 for oversized headers, which no operation lists).
  },
];

let server: TestServer;
let dir: string;

before(async () => {
  server = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-openapi-lint-'));
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>;
}

async function lint(file: string): Promise<{ code: number | null; report: LintReport; stderr: string }> {
  // In the temporary directory, with `recommended` named: no configuration file of the repository can change the rules.
  const { code, stdout, stderr } = await runToEnd(process.execPath, [REDOCLY, 'lint', file, '--extends', 'recommended', '--format', 'json', '--max-problems', '1000'], {
    cwd: dir,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  try {
    return { code, report: JSON.parse(stdout) as LintReport, stderr };
  } catch {
    throw new Error(`redocly printed no report (exit ${code}):\n${stdout}\n${stderr}`);
  }
}

test('redocly lint, recommended rules, on the served /openapi.json: no error, and only the warnings accepted here', { timeout: 120_000 }, async () => {
  const res = await fetch(`${server.url}/openapi.json`);
  assert.equal(res.status, 200);
  const file = join(dir, 'openapi.json');
  writeFileSync(file, await res.text());

  const { code, report, stderr } = await lint(file);
  const problems = report.problems.map((p) => ({ ruleId: p.ruleId, severity: p.severity, pointer: p.location[0]?.pointer, message: p.message }));
  assert.deepEqual(problems.filter((p) => p.severity === 'error'), [], 'errors');
  assert.equal(code, 0, stderr);
  assert.deepEqual(
    problems.filter((p) => p.severity !== 'error').map(({ ruleId, pointer }) => ({ ruleId, pointer })),
    ACCEPTED_WARNINGS,
    'warnings beyond the accepted ones',
  );
  assert.deepEqual(report.totals.errors, 0);
});
