import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The layout is part of the design: no import cycle in src/, the layers as
// .dependency-cruiser.cjs pins them (the domain imports nothing above it, the
// engine only the domain, the stores neither HTTP nor its error catalogue),
// and no file under src/ grows past 400 lines, with no exceptions.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAX_LINES = 400;

test('src/ has no import cycle and keeps its layers', { timeout: 120_000 }, async () => {
  const depcruise = join(ROOT, 'node_modules', '.bin', 'depcruise');
  try {
    await promisify(execFile)(depcruise, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    assert.fail(`dependency-cruiser found violations:\n${stdout ?? ''}${stderr ?? ''}`);
  }
});

test(`no file under src/ passes ${MAX_LINES} lines`, () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
  const long = files(join(ROOT, 'src'))
    .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > MAX_LINES);
  assert.deepEqual(long, [], 'split these by concern');
});
