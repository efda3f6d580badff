/**
 * HTTPS without a proxy in front: Tollgate serves TOLLGATE_TLS_CERT and
 * TOLLGATE_TLS_KEY itself, to clients that trust a throwaway CA made with the
 * openssl CLI, over real TLS connections; and it takes a renewed certificate
 * (files renamed over the old, symlinks swapped, or SIGHUP) without a
 * restart or a dropped connection, keeping the old one when the new pair
 * does not load.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import type { CertificatePair } from '../../src/http/tls-certificate.js';
import { sendRaw } from '../helpers/fuzz.js';
import { CLI, spawnServer } from '../helpers/process.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';
import { replaceFile, servedSerial, TestCa, trustingAgent, type TestCertificate } from '../helpers/tls.js';
import { runs, toolMissing } from '../helpers/tools.js';

const scratch = mkdtempSync(join(tmpdir(), 'tollgate-https-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The CA and the certificates it issued, made on first use (the openssl CLI is needed). */
let made: { ca: TestCa; first: TestCertificate; second: TestCertificate } | null = null;
function certificates(t: TestContext): { ca: TestCa; first: TestCertificate; second: TestCertificate } | null {
  if (!runs('openssl', ['version'])) {
    toolMissing(t, 'openssl is not installed');
    return null;
  }
  if (made === null) {
    const ca = TestCa.create(mkdtempSync(join(scratch, 'ca-')));
    made = { ca, first: ca.issue('first'), second: ca.issue('second') };
  }
  return made;
}

/** A fresh directory holding the pair's files as `cert.pem` and `key.pem`, as an operator would lay them out. */
function liveDirectory(pair: TestCertificate): { cert: string; key: string } {
  const dir = mkdtempSync(join(scratch, 'live-'));
  const paths = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  copyFileSync(pair.certPath, paths.cert);
  copyFileSync(pair.keyPath, paths.key);
  return paths;
}

/** A Tollgate over HTTPS with these files, its log lines kept. */
async function startHttps(paths: { cert: string; key: string }): Promise<TestServer & { logs: Array<Record<string, unknown>> }> {
  const logs: Array<Record<string, unknown>> = [];
  const server = await startTestServer({ config: { tlsCert: paths.cert, tlsKey: paths.key, logLevel: 'info' }, logStream: { write: (line) => logs.push(JSON.parse(line)) } });
  return Object.assign(server, { logs });
}

type Made = NonNullable<ReturnType<typeof certificates>>;

/**
 * The certificates, and a Tollgate serving the first over HTTPS from the
 * files `install` lays out (a fresh live directory unless told), stopped
 * after the test; null when openssl is missing.
 */
async function servingFirst(t: TestContext, install: (first: TestCertificate) => { cert: string; key: string } = liveDirectory) {
  const made = certificates(t);
  if (made === null) return null;
  const paths = install(made.first);
  const server = await startHttps(paths);
  t.after(() => server.close());
  return { made, server, paths };
}

/** A client agent that trusts the test CA and keeps one connection alive across requests, destroyed after the test. */
function keepAliveAgent(t: TestContext, made: Made): HttpsAgent {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: made.ca.pem });
  t.after(() => agent.destroy());
  return agent;
}

/** Resolves once the server serves the certificate with this serial to new connections (the reload's own event, no sleeping). */
function reloadedTo(server: TestServer, serial: string): Promise<CertificatePair> {
  const reloader = server.tollgate.certificates!;
  return new Promise((resolve) => {
    const heard = (pair: CertificatePair) => {
      if (pair.serial !== serial) return;
      reloader.off('reloaded', heard);
      resolve(pair);
    };
    reloader.on('reloaded', heard);
  });
}

/** A GET through a keep-alive agent, with the connection it went over. */
function get(url: string, agent: HttpsAgent): Promise<{ status: number; body: unknown; socket: TLSSocket; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { agent }, (res) => {
      const socket = res.socket as TLSSocket;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), socket, reused: req.reusedSocket }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('serving HTTPS', () => {
  test('the URL is https://, a client that trusts the CA is served, one that does not is refused', { timeout: 60_000 }, async (t) => {
    const setup = await servingFirst(t);
    if (setup === null) return;
    const { made, server } = setup;
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const dispatcher = trustingAgent(made.ca.pem);
    t.after(() => dispatcher.close());
    assert.deepEqual((await request(`${server.url}/healthz`, { dispatcher })).body, { status: 'ok' });
    assert.equal(await servedSerial(server.url, made.ca.pem), made.first.serial);

    // The whole way through: a customer set up, a call checked and its usage read, over TLS.
    const admin = adminClient(server.url, ADMIN_TOKEN, dispatcher);
    const customer = await setupCustomer(admin, { monthlyQuota: 10 });
    assert.equal((await admin.post('/v1/check', { key: customer.key, usage_type: 'image' })).body.allowed, true);
    const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': customer.key }, dispatcher });
    assert.equal(usage.status, 200);
    assert.equal(usage.body.monthly_used, 1);

    // Node's own CAs do not include the test CA: the certificate is really checked.
    await assert.rejects(fetch(`${server.url}/healthz`), (e: Error & { cause?: { code?: string } }) => e.cause?.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('the dashboard session cookie is Secure over HTTPS', { timeout: 60_000 }, async (t) => {
    const setup = await servingFirst(t);
    if (setup === null) return;
    const { made, server } = setup;
    const dispatcher = trustingAgent(made.ca.pem);
    t.after(() => dispatcher.close());
    const res = await request(`${server.url}/dashboard/session`, { method: 'POST', body: { token: ADMIN_TOKEN }, dispatcher });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const attributes = res.headers.get('set-cookie')!.split('; ');
    assert.ok(attributes[0]!.startsWith('tollgate_dashboard='));
    for (const attribute of ['Secure', 'HttpOnly', 'SameSite=Strict']) assert.ok(attributes.includes(attribute), `${attribute} in ${attributes.join('; ')}`);
  });

  test('HTTP/1.1 without Host: the same 400 in the error shape as over plain HTTP', { timeout: 60_000 }, async (t) => {
    const setup = await servingFirst(t);
    if (setup === null) return;
    const { made, server } = setup;
    const res = await sendRaw(server.url, Buffer.from('GET /healthz HTTP/1.1\r\n\r\n', 'latin1'), false, 15_000, made.ca.pem);
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', message: 'The Host header is required.' });
  });
});

describe('a renewed certificate', () => {
  test('renamed over the old files: new connections get it; a connection opened before keeps serving', { timeout: 60_000 }, async (t) => {
    const setup = await servingFirst(t);
    if (setup === null) return;
    const { made, server, paths: live } = setup;
    const agent = keepAliveAgent(t, made);
    const before = await get(`${server.url}/healthz`, agent);
    assert.equal(before.status, 200);
    assert.equal(before.socket.getPeerCertificate().serialNumber, made.first.serial);

    // The renewal, as certbot or a deploy script does it: each new file written beside the old and renamed over it.
    const reloaded = reloadedTo(server, made.second.serial);
    replaceFile(live.key, readFileSync(made.second.keyPath));
    replaceFile(live.cert, readFileSync(made.second.certPath));
    assert.equal((await reloaded).subject, 'CN=second');

    // (a) The connection opened before the renewal is the same one, still on the old certificate, and still serving.
    const kept = await get(`${server.url}/healthz`, agent);
    assert.equal(kept.status, 200);
    assert.deepEqual(kept.body, { status: 'ok' });
    assert.equal(kept.reused, true, 'the kept-alive connection was reused');
    assert.equal(kept.socket, before.socket);
    assert.equal(kept.socket.getPeerCertificate().serialNumber, made.first.serial);
    // (b) A new connection gets the new certificate, and a client trusting the CA is served over it.
    assert.equal(await servedSerial(server.url, made.ca.pem), made.second.serial);
    const fresh = new HttpsAgent({ keepAlive: false, ca: made.ca.pem });
    t.after(() => fresh.destroy());
    const after = await get(`${server.url}/healthz`, fresh);
    assert.equal(after.status, 200);
    assert.equal(after.socket.getPeerCertificate().serialNumber, made.second.serial);

    const line = server.logs.find((l) => l.msg === 'TLS certificate reloaded');
    assert.ok(line, JSON.stringify(server.logs));
    assert.deepEqual([line.reason, line.serial, line.subject], ['file change', made.second.serial, 'CN=second']);
    assert.ok(!server.logs.some((l) => (l.level as number) >= 50), 'no error logged');
  });

  // Renewals that change no file in place: a symlink is swapped in the watched directory.
  const layouts: Array<{ name: string; install(dir: string, pair: TestCertificate): { cert: string; key: string }; renew(dir: string, pair: TestCertificate): void }> = [
    {
      // certbot: live/<name>/fullchain.pem and privkey.pem link to numbered files in archive/<name>/, re-linked one by one.
      name: "certbot's live/ symlinks, re-pointed one after the other",
      install(dir, pair) {
        mkdirSync(join(dir, 'archive'));
        mkdirSync(join(dir, 'live'));
        copyFileSync(pair.certPath, join(dir, 'archive', 'fullchain1.pem'));
        copyFileSync(pair.keyPath, join(dir, 'archive', 'privkey1.pem'));
        symlinkSync('../archive/fullchain1.pem', join(dir, 'live', 'fullchain.pem'));
        symlinkSync('../archive/privkey1.pem', join(dir, 'live', 'privkey.pem'));
        return { cert: join(dir, 'live', 'fullchain.pem'), key: join(dir, 'live', 'privkey.pem') };
      },
      renew(dir, pair) {
        copyFileSync(pair.certPath, join(dir, 'archive', 'fullchain2.pem'));
        copyFileSync(pair.keyPath, join(dir, 'archive', 'privkey2.pem'));
        for (const [link, target] of [['privkey.pem', 'privkey2.pem'], ['fullchain.pem', 'fullchain2.pem']] as const) {
          unlinkSync(join(dir, 'live', link));
          symlinkSync(`../archive/${target}`, join(dir, 'live', link));
        }
      },
    },
    {
      // A Kubernetes secret volume (cert-manager): tls.crt -> ..data/tls.crt, and ..data swapped to a new directory in one rename.
      name: "a Kubernetes secret volume's ..data symlink, swapped in one rename",
      install(dir, pair) {
        mkdirSync(join(dir, '..v1'));
        copyFileSync(pair.certPath, join(dir, '..v1', 'tls.crt'));
        copyFileSync(pair.keyPath, join(dir, '..v1', 'tls.key'));
        symlinkSync('..v1', join(dir, '..data'));
        symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
        symlinkSync('..data/tls.key', join(dir, 'tls.key'));
        return { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
      },
      renew(dir, pair) {
        mkdirSync(join(dir, '..v2'));
        copyFileSync(pair.certPath, join(dir, '..v2', 'tls.crt'));
        copyFileSync(pair.keyPath, join(dir, '..v2', 'tls.key'));
        symlinkSync('..v2', join(dir, '..data_tmp'));
        renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
        rmSync(join(dir, '..v1'), { recursive: true });
      },
    },
  ];
  for (const layout of layouts) {
    test(`by ${layout.name}: new connections get it`, { timeout: 60_000 }, async (t) => {
      const dir = mkdtempSync(join(scratch, 'layout-'));
      const setup = await servingFirst(t, (first) => layout.install(dir, first));
      if (setup === null) return;
      const { made, server } = setup;
      assert.equal(await servedSerial(server.url, made.ca.pem), made.first.serial);
      const reloaded = reloadedTo(server, made.second.serial);
      layout.renew(dir, made.second);
      await reloaded;
      assert.equal(await servedSerial(server.url, made.ca.pem), made.second.serial);
    });
  }

  test('that does not load (a key that is not the certificate\'s, a certificate cut short) is logged, and the old one kept', { timeout: 60_000 }, async (t) => {
    const setup = await servingFirst(t);
    if (setup === null) return;
    const { made, server, paths: live } = setup;
    const reloader = server.tollgate.certificates!;
    const agent = keepAliveAgent(t, made);
    assert.equal((await get(`${server.url}/healthz`, agent)).status, 200);

    const stillFirst = async () => {
      assert.equal(await servedSerial(server.url, made.ca.pem), made.first.serial, 'new connections still get the old certificate');
      const res = await get(`${server.url}/healthz`, agent);
      assert.deepEqual([res.status, res.reused], [200, true], 'the open connection still serves');
    };
    const refusal = async (change: () => void, problem: RegExp) => {
      const rejected = once(reloader, 'rejected');
      change();
      const [error, reason] = await rejected as [Error, string];
      assert.match(error.message, problem);
      assert.equal(reason, 'file change');
      const line = server.logs.findLast((l) => l.msg === 'TLS certificate reload failed; still serving the previous certificate');
      assert.ok(line, JSON.stringify(server.logs));
      assert.equal(line.level, 50, 'logged as an error');
      assert.match(line.problem as string, problem);
      assert.equal(line.serial, made.first.serial);
      await stillFirst();
    };

    // The new certificate, but the key left as it was.
    await refusal(() => replaceFile(live.cert, readFileSync(made.second.certPath)), /is not the private key of the certificate in .*cert\.pem \(CN=second/);
    // The new key, and the new certificate chain half written.
    const chain = Buffer.concat([readFileSync(made.second.certPath), made.ca.pem]);
    await refusal(() => {
      replaceFile(live.key, readFileSync(made.second.keyPath));
      replaceFile(live.cert, chain.subarray(0, chain.length - 100));
    }, /cert\.pem is cut short/);
    // Written in full: served.
    const reloaded = reloadedTo(server, made.second.serial);
    replaceFile(live.cert, chain);
    await reloaded;
    assert.equal(await servedSerial(server.url, made.ca.pem), made.second.serial);
  });
});

describe('tollgate serve over HTTPS', () => {
  const run = promisify(execFile);

  test('prints the https URL and the certificate; SIGHUP reads again files the directory watch cannot see', { timeout: 60_000 }, async (t) => {
    const made = certificates(t);
    if (made === null) return;
    // The configured paths are symlinks in live/ to files in store/: a file renamed over in store/ changes nothing in live/.
    const dir = mkdtempSync(join(scratch, 'sighup-'));
    mkdirSync(join(dir, 'live'));
    mkdirSync(join(dir, 'store'));
    copyFileSync(made.first.certPath, join(dir, 'store', 'cert.pem'));
    copyFileSync(made.first.keyPath, join(dir, 'store', 'key.pem'));
    symlinkSync('../store/cert.pem', join(dir, 'live', 'cert.pem'));
    symlinkSync('../store/key.pem', join(dir, 'live', 'key.pem'));
    const server = await spawnServer(mkdtempSync(join(scratch, 'data-')), {
      env: { TOLLGATE_TLS_CERT: join(dir, 'live', 'cert.pem'), TOLLGATE_TLS_KEY: join(dir, 'live', 'key.pem'), TOLLGATE_LOG_LEVEL: 'info', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.output().includes(`TLS: CN=first (serial ${made.first.serial}, valid until `), server.output());
    assert.equal(await servedSerial(server.url, made.ca.pem), made.first.serial);

    replaceFile(join(dir, 'store', 'key.pem'), readFileSync(made.second.keyPath));
    replaceFile(join(dir, 'store', 'cert.pem'), readFileSync(made.second.certPath));
    const reloadLine = new Promise<Record<string, unknown>>((resolve) => {
      const seen = () => {
        const line = server.output().split('\n').find((l) => l.includes('"TLS certificate reloaded"'));
        if (line === undefined) return;
        server.child.stdout!.off('data', seen);
        resolve(JSON.parse(line));
      };
      server.child.stdout!.on('data', seen);
      seen();
    });
    server.child.kill('SIGHUP');
    const line = await reloadLine;
    assert.deepEqual([line.reason, line.serial], ['SIGHUP', made.second.serial]);
    assert.equal(await servedSerial(server.url, made.ca.pem), made.second.serial);

    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  test('a key that is not the certificate\'s stops the start (exit 2), naming the files', { timeout: 60_000 }, async (t) => {
    const made = certificates(t);
    if (made === null) return;
    const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', TOLLGATE_DATA_DIR: mkdtempSync(join(scratch, 'data-')), TOLLGATE_TLS_CERT: made.first.certPath, TOLLGATE_TLS_KEY: made.second.keyPath };
    await assert.rejects(run(process.execPath, [CLI, 'serve'], { env }), (e: Error & { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.equal(e.stderr, `tollgate: invalid configuration: TOLLGATE_TLS_KEY: ${made.second.keyPath} is not the private key of the certificate in ${made.first.certPath} (CN=first, serial ${made.first.serial})\n`);
      return true;
    });
  });
});
