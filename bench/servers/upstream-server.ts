/**
 * The upstream of the gateway benchmark: a bare node:http server that reads
 * the request body and answers a small JSON body, the same for every call.
 * Both proxies under test forward to it, so its cost is the same for both.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { reportStartFailure, send, stopOnSigterm } from './ipc.js';

const ANSWER = JSON.stringify({ ok: true, text: 'The quick brown fox jumps over the lazy dog.', confidence: 0.99, pages: 1 });

try {
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ANSWER) });
      res.end(ANSWER);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  await send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });

  stopOnSigterm('upstream-server', () => ({ calls }), () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
} catch (error) {
  await reportStartFailure(error);
}
