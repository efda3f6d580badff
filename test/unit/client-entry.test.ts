import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

/** A module loader hook that writes down every module the process resolves. */
const RECORDER = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`;

/** The modules a fresh process loads to import `entry`. */
async function moduleGraph(entry: URL): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-graph-'));
  try {
    const hooks = join(dir, 'hooks.mjs');
    const out = join(dir, 'modules.txt');
    writeFileSync(hooks, RECORDER);
    writeFileSync(out, '');
    const script = `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { out: ${JSON.stringify(out)} } });
await import(${JSON.stringify(entry.href)});`;
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    return readFileSync(out, 'utf8').split('\n').filter((line) => line !== '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("loading tollgate/client loads no TypeBox: the SDK's types come from the schemas at compile time only", async () => {
  const modules = await moduleGraph(new URL('../../src/client/index.js', import.meta.url));
  assert.ok(modules.some((url) => url.endsWith('/src/client/wire.js')), 'the recorder saw the SDK load');
  assert.deepEqual(modules.filter((url) => /\/node_modules\/(typebox|@sinclair\/typebox)\//.test(url)), []);
  assert.deepEqual(modules.filter((url) => url.includes('/src/contract/')), [], 'the schemas are imported as types only');
  // Nor anything of the server's.
  assert.deepEqual(modules.filter((url) => /\/node_modules\/(fastify|better-sqlite3|pg|ioredis)\//.test(url)), []);
});
