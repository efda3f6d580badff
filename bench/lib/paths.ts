import { fileURLToPath } from 'node:url';

/**
 * Where things live. The compiled benchmarks run from dist/bench/, but their
 * cached data and results belong to the source tree's bench/ directory.
 */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BENCH_DIR = fileURLToPath(new URL('../../../bench/', import.meta.url));
export const DATA_CACHE_DIR = fileURLToPath(new URL('../../../bench/.data/', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

/** A compiled server script next to this file's directory: dist/bench/servers/<name>.js. */
export function serverScript(name: string): string {
  return fileURLToPath(new URL(`../servers/${name}.js`, import.meta.url));
}

/** The admin token every benchmark server is started with (TOLLGATE_ADMIN_TOKEN). */
export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
