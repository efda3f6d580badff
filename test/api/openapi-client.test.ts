import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { runToEnd } from '../helpers/process.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server.js';

// scale-out: the document and the typed client are the same whatever the store.

/**
 * An integrator's typed client, made from the served /openapi.json with
 * openapi-typescript (the types) and openapi-fetch (the calls): the README's
 * walkthrough written with it (test/openapi-client/walkthrough.ts) is
 * typechecked, strictly, against types generated afresh from a running
 * server's document, then run against that server.
 */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const WALKTHROUGH = join(REPO, 'test', 'openapi-client', 'walkthrough.ts');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

let server: TestServer;
let dir: string;

before(async () => {
  server = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-openapi-client-'));
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a client generated from /openapi.json typechecks the README walkthrough and runs it against the server', { timeout: 180_000 }, async () => {
  const document = await (await fetch(`${server.url}/openapi.json`)).json() as OpenAPI3;
  writeFileSync(join(dir, 'tollgate-api.d.ts'), astToString(await openapiTS(document)));
  copyFileSync(WALKTHROUGH, join(dir, 'walkthrough.ts'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  // openapi-fetch and the Node types, for the compiler and then for the run.
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM'], types: ['node'],
      strict: true, noUnusedLocals: true, exactOptionalPropertyTypes: true, outDir: 'out',
      // The declarations themselves (the generated ones, openapi-fetch's, Node's) are not checked, only their use.
      skipLibCheck: true,
    },
    files: ['walkthrough.ts', 'tollgate-api.d.ts'],
  }));

  const typecheck = await runToEnd(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir });
  assert.equal(typecheck.code, 0, `tsc found errors:\n${typecheck.stdout}${typecheck.stderr}`);

  // Typed where it was compiled; here only read.
  const { walkthrough } = await import(pathToFileURL(join(dir, 'out', 'walkthrough.js')).href) as { walkthrough(baseUrl: string, adminToken: string): Promise<any> };
  const answers = await walkthrough(server.url, ADMIN_TOKEN);
  assert.deepEqual([answers.planTimeZone, answers.groupPlan, answers.appGroup], ['America/New_York', 'starter', 'acme']);
  assert.match(answers.key.secret, /^tg_/);
  assert.deepEqual([answers.check.allowed, answers.check.code, answers.check.monthlyUsed], [true, 'ok', 1]);
  assert.match(answers.check.rateLimitPolicy ?? '', /^"minute";q=30;w=60, "month";q=1000;w=\d+$/);
  assert.ok((answers.check.requestId ?? '') !== '', 'X-Request-Id, as the document says');
  assert.deepEqual(answers.appCheck, { allowed: true, monthlyUsed: 6 });
  assert.deepEqual([answers.usage.monthly_used, answers.usage.monthly_quota, answers.usage.rate_limit_per_minute], [6, 1000, 30]);
  assert.deepEqual(answers.usage.current_charges, { period: answers.usage.current_charges?.period, currency: 'USD', amount: 6, amount_decimal: '0.06' });
  assert.match(answers.usage.rateLimit ?? '', /^"minute";r=\d+;t=\d+, "month";r=994;t=\d+$/);
  assert.deepEqual(answers.ocrUsage.ocr_usage.map((r: Record<string, unknown>) => [r.from_date, r.usage_type, r.app_id, r.count]), [
    [answers.usage.period_start, 'image', 'acme-ocr', 1],
    [answers.usage.period_start, 'image-async', 'acme-ocr', 5],
  ]);
});
