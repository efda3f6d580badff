/**
 * What the examples share to run on their own (`node dist/examples/<name>.js`)
 * as well as under the tests: where Tollgate is, and how to listen.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Whether this module is the program node was asked to run (and not imported by a test). */
export function isMain(meta: ImportMeta): boolean {
  return process.argv[1] === fileURLToPath(meta.url);
}

/** TOLLGATE_URL (default http://127.0.0.1:8080) and TOLLGATE_TOKEN (a service token, or the admin token). */
export function tollgateFromEnv(): { tollgateUrl: string; token: string } {
  return { tollgateUrl: process.env.TOLLGATE_URL ?? 'http://127.0.0.1:8080', token: process.env.TOLLGATE_TOKEN ?? '' };
}

/** A running example server. */
export interface Running {
  url: string;
  close(): Promise<void>;
}

/** Starts a Node HTTP server (an Express app's too) on loopback; port 0 picks a free one. */
export async function listen(server: Server, port = 0): Promise<Running> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeIdleConnections();
    }),
  };
}
