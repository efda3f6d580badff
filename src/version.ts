import { readFileSync } from 'node:fs';

/**
 * Tollgate's version, from its package.json: read once, when first imported.
 * The file sits two levels above this module both in the sources and in the
 * build (src/version.ts, dist/src/version.js), and in the installed package.
 */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
