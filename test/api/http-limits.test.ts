import assert from 'node:assert/strict';
import { maxHeaderSize } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sendRaw } from '../helpers/fuzz.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';

// scale-out: what Node's HTTP layer refuses before a route runs: no store is asked.

/**
 * What Node's HTTP layer refuses before a route sees the request (oversized
 * headers, malformed requests, no Host, CONNECT, an unknown Expect): each
 * answered with the `{"error", "message"}` shape, and the server keeps serving.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const raw = (text: string, halfClose = false) => sendRaw(server.url, Buffer.from(text, 'latin1'), halfClose);

describe('requests Node refuses before routing', () => {
  test(`headers over maxHeaderSize (${maxHeaderSize} bytes): 431 headers_too_large, then the next request is served`, async () => {
    const big = await raw(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(maxHeaderSize + 1)}\r\n\r\n`);
    assert.equal(big.status, 431);
    assert.match(big.contentType, /^application\/json/);
    assert.deepEqual(JSON.parse(big.body), { error: 'headers_too_large', message: `The request line and headers are larger than ${maxHeaderSize / 1024} KiB.` });
    // Through an ordinary client too, which sees the same answer, and the server is still there.
    const viaFetch = await request(`${server.url}/healthz`, { headers: { 'x-big': 'b'.repeat(maxHeaderSize + 1) } });
    assert.equal(viaFetch.status, 431);
    assert.equal(viaFetch.body.error, 'headers_too_large');
    assert.equal((await request(`${server.url}/healthz`)).status, 200);
  });

  test('431 reaches a client still sending its body, instead of a reset connection', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(`${server.url}/v1/events?${'x'.repeat(maxHeaderSize + 1)}`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: `[${'{"id":"e"},'.repeat(1_000_000)}{}]`,
      });
      assert.equal(res.status, 431);
      assert.equal(res.body.error, 'headers_too_large');
    }
  });

  test('a URL longer than the header limit: 431 as well', async () => {
    const res = await request(`${server.url}/v3/ocr-usage?from_date=${'9'.repeat(maxHeaderSize + 1)}`);
    assert.equal(res.status, 431);
    assert.equal(res.body.error, 'headers_too_large');
  });

  test('malformed HTTP: 400 invalid_request in the error shape', async () => {
    for (const text of [
      'GET /healthz HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n',
      'POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}',
      'POST /v1/check HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    ]) {
      const res = await raw(text);
      assert.equal(res.status, 400, text);
      assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', message: 'The request is not valid HTTP/1.1.' }, text);
    }
    // A body cut short by the end of the connection.
    const cut = await raw(`POST /v1/check HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{}`, true);
    assert.equal(cut.status, 400);
    assert.equal(JSON.parse(cut.body).error, 'invalid_request');
  });

  test('HTTP/1.1 without Host: 400 invalid_request that says so; HTTP/1.0 needs none', async () => {
    const res = await raw('GET /healthz HTTP/1.1\r\n\r\n');
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', message: 'The Host header is required.' });
    const old = await raw('GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(old.status, 200);
    assert.deepEqual(JSON.parse(old.body), { status: 'ok' });
  });

  test('an Expect other than 100-continue is ignored and the request served', async () => {
    const res = await raw(`GET /admin/plans HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\nexpect: 200-ok\r\n\r\n`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body).items, []);
  });

  test('CONNECT: 405 method_not_allowed, not a silently closed connection', async () => {
    const res = await raw('CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n');
    assert.equal(res.status, 405);
    assert.deepEqual(JSON.parse(res.body), { error: 'method_not_allowed', message: 'CONNECT example.com:443 is not allowed: Tollgate is not a proxy.' });
  });
});

describe('bodies', () => {
  test('request_args nested 100,000 deep are hashed like any others (not a 500)', async () => {
    const c = await setupCustomer(adminClient(server.url));
    const depth = 100_000;
    const body = `{"key":"${c.key}","usage_type":"image","request_args":{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const res = await request(`${server.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.allowed, true);
    assert.match(res.body.request_args_hash, /^[0-9a-f]{40}$/);
  });

  test('a body over the limit: 413 payload_too_large as JSON, and the connection is kept', async () => {
    const res = await request(`${server.url}/admin/plans`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: `{"id":"${'x'.repeat(1024 * 1024)}"}`,
    });
    assert.equal(res.status, 413);
    assert.deepEqual(res.body, { error: 'payload_too_large', message: 'The request body is too large.' });
    // Its declared length is read and dropped rather than the connection closed under a client still sending.
    assert.notEqual(res.headers.get('connection'), 'close');
    assert.equal((await request(`${server.url}/healthz`)).status, 200);
  });
});

describe('connections', () => {
  test('past TOLLGATE_MAX_CONNECTIONS a new connection is closed at once; the open ones are served, and room comes back as they close', async () => {
    const small = await startTestServer({ config: { maxConnections: 2 } });
    const { port, hostname } = new URL(small.url);
    const open = () => new Promise<Socket>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(socket));
      socket.once('error', reject);
    });
    /** Whether the server closes the socket before it answers a request sent on it. */
    const answered = (socket: Socket) => new Promise<boolean>((resolve) => {
      let data = '';
      socket.on('data', (chunk) => { data += chunk.toString(); if (data.includes('\r\n\r\n')) resolve(data.startsWith('HTTP/1.1 200')); });
      socket.once('close', () => resolve(data.startsWith('HTTP/1.1 200')));
      socket.once('error', () => resolve(false));
      socket.write(`GET /healthz HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
    });
    try {
      const [a, b] = [await open(), await open()];
      const c = await open();
      assert.equal(await answered(c), false, 'the third connection is closed unanswered');
      assert.equal(await answered(a), true, 'the first two are served');
      assert.equal(await answered(b), true);
      a.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const d = await open();
      assert.equal(await answered(d), true, 'a closed connection makes room');
      for (const s of [b, c, d]) s.destroy();
    } finally {
      await small.close();
    }
  });
});
