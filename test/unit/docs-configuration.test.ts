import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, ENVIRONMENT, SettingsSchema } from '../../src/config.js';

const page = readFileSync(fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url)), 'utf8');

/** The rows of the settings table: variable → [default, meaning]. */
function tableRows(): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const line of page.split('\n')) {
    const m = /^\| `([A-Z_]+)` \| (.*?) \| (.*) \|$/.exec(line);
    if (m !== null) rows.set(m[1]!, [m[2]!, m[3]!]);
  }
  return rows;
}

test('docs/configuration.md documents every setting Tollgate reads, and nothing it does not', () => {
  const rows = tableRows();
  const read = Object.keys(ENVIRONMENT);
  assert.deepEqual(read.filter((variable) => !rows.has(variable)), [], 'variables read but not in the table');
  // TOLLGATE_CONFIG names the file itself, read by the CLI before the settings.
  assert.deepEqual([...rows.keys()].filter((variable) => !read.includes(variable) && variable !== 'TOLLGATE_CONFIG'), [], 'rows for variables nothing reads');
});

test("each row's default is the one the configuration applies", () => {
  const rows = tableRows();
  for (const [variable, setting] of Object.entries(ENVIRONMENT)) {
    const fallback = (DEFAULTS as Record<string, unknown>)[setting];
    const documented = rows.get(variable)![0];
    if (fallback === undefined) {
      assert.ok(!/^`/.test(documented), `${variable}: no default applies, the table says ${documented}`);
      continue;
    }
    // Numbers are written with thousands separators (`1,048,576`); anything else as it is.
    const value = typeof fallback === 'number' ? documented.replace(/[`,_ ]/g, '') : documented.replace(/^`|`$/g, '');
    assert.equal(value, String(fallback), `${variable}: the table says ${documented}, the default is ${String(fallback)}`);
  }
});

test('the config file keys listed are exactly the settings', () => {
  const listed = /reads a YAML or JSON object whose keys are the settings' names\s*\(([^)]*)\)/.exec(page);
  assert.ok(listed !== null, 'the paragraph listing the config file keys');
  const keys = [...listed[1]!.matchAll(/`([a-zA-Z]+)`/g)].map((m) => m[1]!).sort();
  assert.deepEqual(keys, Object.keys(SettingsSchema.properties).sort());
});
