import { createServer } from 'node:net';

/** A port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A server a test starts on loopback and owns (PostgreSQL, Redis). */
export interface ThrowawayServer {
  url: string;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
  /** Stops the server (an outage), keeping its port. */
  halt(): Promise<void>;
  /** Starts it again after `halt`, on the same port. */
  resume(): Promise<void>;
  /** The server's own process id, for CPU accounting. */
  pid(): number;
}

/**
 * How long a test waits for a server it starts (PostgreSQL, Redis, `tollgate serve`) to come up.
 * Generous: on a loaded machine (the whole suite on 2 cores) a start can take many seconds, and
 * waiting costs nothing once it is up, since the waits end on the server's answer, not on the bound.
 */
export const SERVER_START_TIMEOUT_MS = 120_000;

/** Resolves once `probe` succeeds, retrying every 50 ms until `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<unknown>, timeoutMs = SERVER_START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not come up in ${timeoutMs} ms: ${String(last)}`);
}

/**
 * What a test does when a server it needs cannot be started: under CI the
 * suite fails (a missing server must never pass as skipped), elsewhere it is
 * skipped with the reason.
 */
export function serverMissing(t: { skip(message: string): void }, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`required server missing under CI: ${reason}`);
  t.skip(reason);
}
