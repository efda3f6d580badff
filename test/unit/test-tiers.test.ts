import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// Every test file sits in one of the tiers `npm run test:<tier>` runs: a test file anywhere else
// would still run under `npm test` but in no tier, and a developer running the tiers would miss it.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TIERS = ['unit', 'api', 'stores', 'e2e'];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [relative(join(ROOT, 'test'), path)] : [];
  });
}

test('every *.test.ts file is in test/unit, test/api, test/stores or test/e2e', () => {
  const strays = testFiles(join(ROOT, 'test')).filter((file) => !TIERS.includes(file.split(sep)[0]!));
  assert.deepEqual(strays, [], 'move these into a tier (harnesses go in test/helpers or test/conformance, without .test.ts)');
});

test('package.json runs each tier with npm run test:<tier>, and npm test runs them all', () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const tier of TIERS) assert.match(scripts[`test:${tier}`] ?? '', new RegExp(`find dist/test/${tier} -name '\\*\\.test\\.js'`), `test:${tier}`);
  assert.match(scripts.test!, /find dist\/test -name '\*\.test\.js'/);
});
