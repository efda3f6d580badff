import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.js';
import { hashSecret, newSecret } from './domain/secrets.js';

export const ADMIN_TOKEN_FILE = 'admin-token.sha256';

export interface AdminToken {
  hash: string;
  /** Set only when the token was generated just now: the one time it can be shown. */
  generated: string | null;
  source: 'environment' | 'data directory' | 'generated';
}

/**
 * The admin token's hash: from TOLLGATE_ADMIN_TOKEN, or from the data
 * directory, or newly generated. A generated token is held in memory only:
 * its hash is written down by keepAdminToken once the token has been shown.
 */
export function resolveAdminToken(config: Config): AdminToken {
  if (config.adminToken !== undefined) return { hash: hashSecret(config.adminToken), generated: null, source: 'environment' };
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return { hash: readFileSync(file, 'utf8').trim(), generated: null, source: 'data directory' };
  return newAdminToken();
}

function newAdminToken(): AdminToken {
  const token = newSecret('tga_');
  return { hash: hashSecret(token), generated: token, source: 'generated' };
}

/**
 * Writes a generated token's hash into the data directory, whole or not at
 * all (written aside, flushed, then renamed over the old one). Called after
 * the token was shown, never before: a crash in between leaves a token that
 * was shown and not kept (the next start generates and shows another), never
 * a kept one that nobody saw.
 */
export function keepAdminToken(dataDir: string, token: AdminToken): void {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    mkdirSync(dataDir, { recursive: true });
    const aside = `${file}.tmp`;
    const fd = openSync(aside, 'w', 0o600);
    try {
      writeSync(fd, `${token.hash}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(aside, file);
  } catch (error) {
    throw new Error(`could not keep the admin token's hash in ${file} (${error instanceof Error ? error.message : String(error)}); the token shown is not in effect.`);
  }
}

/** Issues a new admin token: shows it (`show`), then keeps only its hash in the data directory. */
export function rotateAdminToken(dataDir: string, show: (token: string) => void = () => undefined): AdminToken {
  const token = newAdminToken();
  show(token.generated!);
  keepAdminToken(dataDir, token);
  return token;
}
