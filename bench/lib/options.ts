/** Parsing the benchmark's command-line numbers (bench/run.ts). */

/** "10", "200k", "10M", "1_000": a whole number of at least `min`; `fallback` when the option is absent. */
export function count(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(raw.replace(/[_,]/g, ''));
  const value = m === null ? Number.NaN : Math.round(Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1e3 : 1e6));
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number of at least ${min}, got "${raw}"`);
  return value;
}

/** "2,4" → [2, 4]: each a number of instances of at least 2 (a scale-out deployment has several), no repeats. */
export function instancesList(raw: string | undefined): number[] {
  const list = (raw ?? '2').split(',').map((part) => count('scale-out-instances', part.trim(), 2, 2));
  if (new Set(list).size !== list.length) throw new Error(`--scale-out-instances lists a number twice: "${raw}"`);
  return list;
}
