import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const SHAS = new Map<string, string>();

/**
 * Runs a script by its SHA-1 (EVALSHA: the script's text is not sent on
 * every call), loading it with EVAL the first time a server has not seen it
 * (after a restart, say).
 */
export async function runScript(redis: Redis, script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown> {
  let sha = SHAS.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    SHAS.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, numKeys, ...args);
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return redis.eval(script, numKeys, ...args);
  }
}
