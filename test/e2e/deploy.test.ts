import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, weakSecrets } from '../../src/config.js';

// The deployment files and the steps of the README and docs/operations.md,
// as an operator would use them: the secrets they make are accepted by a
// server listening beyond loopback, and the compose file trusts its own nginx,
// and only it, to name the client.

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const readme = read('README.md');
const operations = read('docs/operations.md');
const dir = mkdtempSync(join(tmpdir(), 'tollgate-deploy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCALE_OUT = { TOLLGATE_DATABASE_URL: 'postgres://tollgate:pw@postgres:5432/tollgate', TOLLGATE_REDIS_URL: 'redis://redis:6379' };

/** Runs shell lines with bash and answers what they print. */
async function shell(script: string, cwd = dir): Promise<string> {
  return (await run('bash', ['-c', script], { cwd })).stdout;
}

describe('secrets made as the docs say', () => {
  test("the README quick start's token line, and its node alternative, make a token accepted beyond loopback", async () => {
    const line = /^export TOLLGATE_ADMIN_TOKEN=\$\(openssl rand -hex 32\)\s+# or: (.+)$/m.exec(readme);
    assert.ok(line, 'the quick start generates the token in the shell');
    for (const assignment of ['$(openssl rand -hex 32)', line[1]!]) {
      const token = await shell(`export TOLLGATE_ADMIN_TOKEN=${assignment}\nprintf %s "$TOLLGATE_ADMIN_TOKEN"`);
      assert.match(token, /^[0-9a-f]{64}$/, assignment);
      assert.deepEqual(weakSecrets(loadConfig({ HOST: '0.0.0.0', TOLLGATE_ADMIN_TOKEN: token })), []);
    }
  });

  test("the operations guide's and the compose file's deploy/.env command make secrets a scale-out instance on 0.0.0.0 accepts", async () => {
    const fromDocs = /^(printf 'TOLLGATE_ADMIN_TOKEN=[^\n]*\\\n[^\n]*> deploy\/\.env)$/m.exec(operations)?.[1];
    assert.ok(fromDocs, 'docs/operations.md makes deploy/.env with random values');
    const compose = read('deploy/docker-compose.yml');
    const fromCompose = compose.split('\n').filter((l) => /^#\s{3}(printf|\s+"\$\(openssl)/.test(l)).map((l) => l.replace(/^#\s{3}/, '')).join('\n');
    assert.equal(fromCompose, fromDocs, "the compose file's comment shows the same command");
    mkdirSync(join(dir, 'deploy'), { recursive: true });
    await shell(fromDocs);
    const env = Object.fromEntries(readFileSync(join(dir, 'deploy/.env'), 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
    assert.deepEqual(Object.keys(env).sort(), ['POSTGRES_PASSWORD', 'TOLLGATE_ADMIN_TOKEN', 'TOLLGATE_WEBHOOK_SECRET']);
    assert.match(env.POSTGRES_PASSWORD!, /^[A-Za-z0-9._~-]{32,}$/, 'safe in a URL as it is');
    const config = loadConfig({ HOST: '0.0.0.0', ...SCALE_OUT, TOLLGATE_ADMIN_TOKEN: env.TOLLGATE_ADMIN_TOKEN, TOLLGATE_WEBHOOK_SECRET: env.TOLLGATE_WEBHOOK_SECRET });
    assert.deepEqual(weakSecrets(config), []);
  });

  test('deploy/.env.example holds no value to run with, and no doc shows a placeholder to paste', () => {
    const example = read('deploy/.env.example');
    for (const variable of ['TOLLGATE_ADMIN_TOKEN', 'TOLLGATE_WEBHOOK_SECRET', 'POSTGRES_PASSWORD']) {
      // Compose's ${VAR:?…} refuses an empty value: a copy left unchanged does not start.
      assert.match(example, new RegExp(`^${variable}=$`, 'm'), variable);
    }
    assert.match(example, /openssl rand -hex 32/);
    const docs = readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
    for (const file of ['README.md', 'SECURITY.md', ...docs, 'deploy/.env.example', 'deploy/docker-compose.yml']) {
      assert.doesNotMatch(read(file), /change-me-to|=change-?me/i, file);
    }
    // The placeholders they showed before are refused beyond loopback.
    for (const placeholder of ['change-me-to-a-long-random-string', 'change-me-to-another-long-random-string']) {
      assert.throws(() => loadConfig({ HOST: '0.0.0.0', ...SCALE_OUT, TOLLGATE_ADMIN_TOKEN: placeholder, TOLLGATE_WEBHOOK_SECRET: placeholder }), /placeholder/);
    }
  });
});

describe('the compose file behind nginx', () => {
  const compose = parse(read('deploy/docker-compose.yml')) as {
    'x-tollgate': { environment: Record<string, string> };
    services: Record<string, { networks?: { default?: { ipv4_address?: string } }; environment?: Record<string, string> }>;
    networks: { default: { ipam: { config: Array<{ subnet: string; ip_range: string }> } } };
  };
  /** The value a `${VAR:-default}` takes when deploy/.env does not set VAR. */
  const byDefault = (value: string) => /^\$\{\w+:-([^}]+)\}$/.exec(value)?.[1] ?? value;
  const ipv4 = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const inRange = (address: string, cidr: string) => {
    const [base, bits] = cidr.split('/') as [string, string];
    const size = 2 ** (32 - Number(bits));
    return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base) / size);
  };

  test("every instance trusts nginx's fixed address, and only it, to name the client in X-Forwarded-For", () => {
    const trusted = byDefault(compose['x-tollgate'].environment.TOLLGATE_TRUST_PROXY!);
    const nginx = byDefault(compose.services.nginx!.networks!.default!.ipv4_address!);
    assert.equal(trusted, nginx);
    assert.equal(loadConfig({ TOLLGATE_TRUST_PROXY: trusted }).trustProxy, nginx, 'one address: no range, no hop count, not true');
    const [{ subnet, ip_range: dynamic }] = compose.networks.default.ipam.config as [{ subnet: string; ip_range: string }];
    assert.ok(inRange(nginx, byDefault(subnet)), 'on the compose network');
    assert.ok(!inRange(nginx, byDefault(dynamic)), 'outside the range other containers get their addresses from');
    for (const name of ['tollgate-1', 'tollgate-2', 'tollgate-3']) assert.ok(compose.services[name], name);
    // nginx passes the address it saw, appended to whatever the client sent.
    assert.match(read('deploy/nginx.conf'), /^\s*proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;$/m);
  });
});
