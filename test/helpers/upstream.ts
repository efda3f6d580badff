import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import type { TestStore } from './stores.js';
import { startTestServer, type TestServer } from './server.js';
import type { Clock } from '../../src/clock.js';

/**
 * A Tollgate in gateway mode in front of an upstream on 127.0.0.1 that
 * answers every call `200 {"ok":true}`. `routes` is the gateway file's
 * `routes:` list, given the upstream's origin.
 */
export async function startGatewayTestServer(routes: (origin: string) => string, options: { clock?: Clock; store?: TestStore } = {}): Promise<TestServer> {
  const upstream = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const server = await startTestServer({ ...options, gateway: parseGatewayConfig(`routes:\n${routes(origin)}`, 'gateway.yaml') });
  return {
    ...server,
    async close(closeOptions) {
      await server.close(closeOptions);
      upstream.closeAllConnections();
      upstream.close();
      await once(upstream, 'close');
    },
  };
}
