import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { isOwnPath, OWN_PATHS, OWN_PREFIXES } from '../../src/http/own-paths.js';
import { startTollgate } from '../../src/runtime.js';
import { ADMIN_TOKEN } from '../helpers/server.js';

test("every route the server registers is one of Tollgate's own paths, which the gateway refuses to take", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-own-paths-'));
  const routes: RouteOptions[] = [];
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN_TOKEN, logLevel: 'silent' });
  const tollgate = await startTollgate(config, { logger: false, onRoute: (route) => void routes.push(route) });
  try {
    const urls = [...new Set(routes.map((route) => route.url))];
    assert.deepEqual(urls.filter((url) => !isOwnPath(url)), [], 'a route outside src/http/own-paths.ts: add its path there, so that no gateway route can take it');
    for (const own of [...OWN_PATHS, ...OWN_PREFIXES]) {
      assert.ok(urls.some((url) => url === own || url.startsWith(`${own}/`)), `${own} is listed, and served`);
    }
    // The dashboard's page and API among them: a gateway route cannot take them either.
    assert.ok(urls.includes('/dashboard') && urls.includes('/dashboard/session'));
    for (const path of [...urls.filter((url) => !url.includes('*')), '/dashboard/*']) {
      assert.throws(() => parseGatewayConfig(`routes:\n  - method: GET\n    path: ${path}\n    upstream: http://127.0.0.1:9\n    usage_type: image\n`, 'gateway.yaml'), /would take requests for Tollgate's own/, path);
    }
  } finally {
    await tollgate.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
