import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import {
  commandConfig, ConfigError, isLoopback, loadConfig, migrationDatabaseUrl, readConfigFile, secretWarnings, serveConfig, weakSecrets, type Config, type StoreConfig,
} from '../../src/config.js';
import { certificatePaths, readCertificatePair } from '../../src/http/tls-certificate.js';
import { describeStore, redactUrl } from '../../src/store/open-store.js';
import { TestCa } from '../helpers/tls.js';
import { runs, toolMissing } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCALE_OUT = { TOLLGATE_DATABASE_URL: 'postgres://tollgate:secret@db:5432/tollgate', TOLLGATE_REDIS_URL: 'redis://cache:6379', TOLLGATE_ADMIN_TOKEN: 'x'.repeat(20), TOLLGATE_WEBHOOK_SECRET: 'w'.repeat(40) };

/** The store settings of a scale-out configuration (failing the test when it is not one). */
function scaleOut(config: Config): Extract<StoreConfig, { kind: 'scale-out' }> {
  assert.equal(config.store.kind, 'scale-out');
  return config.store as Extract<StoreConfig, { kind: 'scale-out' }>;
}

/** How often a relaxed scale-out configuration syncs its counters (failing the test when it is not relaxed). */
function syncMs(config: Config): number {
  const { limits } = scaleOut(config);
  assert.equal(limits.mode, 'relaxed');
  return (limits as { syncMs: number }).syncMs;
}

describe('configuration sources', () => {
  test('defaults, then the config file, then the environment, then flags', () => {
    const file = { port: 9000, keyPrefix: 'file_', logLevel: 'warn' };
    const env = { TOLLGATE_KEY_PREFIX: 'env_', TOLLGATE_LOG_LEVEL: 'error' };
    const config = loadConfig(env, { logLevel: 'silent' }, file);
    assert.equal(config.port, 9000, 'from the file');
    assert.equal(config.keyPrefix, 'env_', 'the environment wins over the file');
    assert.equal(config.logLevel, 'silent', 'flags win over both');
    // A store setting exists in its own mode only: the same sources, in scale-out mode.
    assert.equal(scaleOut(loadConfig({ ...SCALE_OUT, ...env }, { logLevel: 'silent' }, file)).onStoreDown, 'closed', 'default');
  });

  test('a setting the file names that does not exist is refused', () => {
    assert.throws(() => loadConfig({}, {}, { databaseURL: 'postgres://x' }), (e) => e instanceof ConfigError && /"databaseURL" in the config file is not a setting/.test(e.message));
  });

  test('the metrics token comes from TOLLGATE_METRICS_TOKEN or the file, and is as long as the admin token must be', () => {
    assert.equal(loadConfig({ TOLLGATE_METRICS_TOKEN: 'm'.repeat(16) }).metricsToken, 'm'.repeat(16));
    assert.equal(loadConfig({}, {}, { metricsToken: 'f'.repeat(20) }).metricsToken, 'f'.repeat(20));
    assert.equal(loadConfig({}).metricsToken, undefined, 'none by default: only the admin token reads /metrics');
    assert.throws(() => loadConfig({ TOLLGATE_METRICS_TOKEN: 'short' }), (e) => e instanceof ConfigError && /TOLLGATE_METRICS_TOKEN/.test(e.message));
  });

  test('a file value is checked like any other', () => {
    assert.throws(() => loadConfig({}, {}, { onStoreDown: 'sometimes' }), (e) => e instanceof ConfigError && /TOLLGATE_ON_STORE_DOWN/.test(e.message));
  });

  test('YAML and JSON files are read; anything but an object of settings is refused', async () => {
    const yaml = join(dir, 'tollgate.yaml');
    writeFileSync(yaml, 'port: 8181\nonStoreDown: open\n');
    assert.deepEqual(await readConfigFile(yaml), { port: 8181, onStoreDown: 'open' });
    const json = join(dir, 'tollgate.json');
    writeFileSync(json, '{"port": 8282}');
    assert.deepEqual(await readConfigFile(json), { port: 8282 });
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- port\n');
    await assert.rejects(readConfigFile(list), (e) => e instanceof ConfigError && /must hold an object of settings/.test(e.message));
    await assert.rejects(readConfigFile(join(dir, 'missing.yaml')), (e) => e instanceof ConfigError && /cannot read the config file/.test(e.message));
  });
});

describe("the commands' configuration, from the environment they are given", () => {
  test('serve reads the file of --config, or else of TOLLGATE_CONFIG; the environment and flags win over it', async () => {
    const fromEnv = join(dir, 'from-env.yaml');
    const fromFlag = join(dir, 'from-flag.yaml');
    writeFileSync(fromEnv, 'port: 8181\nkeyPrefix: file_\n');
    writeFileSync(fromFlag, 'port: 8282\n');
    assert.deepEqual([(await serveConfig({}, undefined, { TOLLGATE_CONFIG: fromEnv })).port, (await serveConfig({}, undefined, { TOLLGATE_CONFIG: fromEnv })).keyPrefix], [8181, 'file_']);
    assert.equal((await serveConfig({}, fromFlag, { TOLLGATE_CONFIG: fromEnv })).port, 8282, '--config wins');
    assert.equal((await serveConfig({ port: 9393 }, undefined, { TOLLGATE_CONFIG: fromEnv, PORT: '9292' })).port, 9393);
    assert.equal((await serveConfig({}, undefined, { TOLLGATE_CONFIG: '' })).port, 8080, 'an empty TOLLGATE_CONFIG names no file');
    assert.equal(commandConfig({}, { TOLLGATE_CONFIG: fromEnv }).port, 8080, 'other commands read no config file');
  });

  test("migrate's target database: --database-url, or else TOLLGATE_DATABASE_URL, and nothing else a server needs", () => {
    assert.equal(migrationDatabaseUrl('postgres://flag/db', { TOLLGATE_DATABASE_URL: 'postgres://env/db' }), 'postgres://flag/db');
    assert.equal(migrationDatabaseUrl(undefined, { TOLLGATE_DATABASE_URL: 'postgresql://env/db' }), 'postgresql://env/db');
    for (const env of [{}, { TOLLGATE_DATABASE_URL: 'mysql://env/db' }]) {
      assert.throws(() => migrationDatabaseUrl(undefined, env), (e) => e instanceof ConfigError && /^migrate needs the target database: --database-url postgres:\/\/\.\.\. or TOLLGATE_DATABASE_URL$/.test(e.message));
    }
  });
});

describe('scale-out settings', () => {
  test('both URLs and the admin token make a scale-out configuration', () => {
    const config = scaleOut(loadConfig({ ...SCALE_OUT, TOLLGATE_ON_STORE_DOWN: 'open' }));
    assert.equal(config.databaseUrl, SCALE_OUT.TOLLGATE_DATABASE_URL);
    assert.equal(config.redisUrl, SCALE_OUT.TOLLGATE_REDIS_URL);
    assert.equal(config.onStoreDown, 'open');
  });

  test('one URL without the other is refused', () => {
    const { TOLLGATE_REDIS_URL: _, ...withoutRedis } = SCALE_OUT;
    assert.throws(() => loadConfig(withoutRedis), (e) => e instanceof ConfigError && /needs both TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL/.test(e.message));
  });

  test('scale-out without an admin token is refused: a generated one would differ per instance', () => {
    const { TOLLGATE_ADMIN_TOKEN: _, ...withoutToken } = SCALE_OUT;
    assert.throws(() => loadConfig(withoutToken), (e) => e instanceof ConfigError && /needs TOLLGATE_ADMIN_TOKEN/.test(e.message));
  });

  test('limits are strict unless relaxed mode is asked for, and relaxed mode needs the scale-out store', () => {
    // The sync interval is a setting of relaxed mode only: its default is read there.
    assert.deepEqual([scaleOut(loadConfig(SCALE_OUT)).limits.mode, syncMs(loadConfig({ ...SCALE_OUT, TOLLGATE_LIMITS_MODE: 'relaxed' }))], ['strict', 100]);
    const relaxed = loadConfig({ ...SCALE_OUT, TOLLGATE_LIMITS_MODE: 'relaxed', TOLLGATE_LIMITS_SYNC_MS: '500' });
    assert.deepEqual([scaleOut(relaxed).limits.mode, syncMs(relaxed)], ['relaxed', 500]);
    assert.throws(() => loadConfig({ TOLLGATE_LIMITS_MODE: 'relaxed' }), (e) => e instanceof ConfigError && /applies to scale-out mode/.test(e.message));
    assert.throws(() => loadConfig({ ...SCALE_OUT, TOLLGATE_LIMITS_MODE: 'loose' }), (e) => e instanceof ConfigError && /TOLLGATE_LIMITS_MODE/.test(e.message));
    assert.throws(() => loadConfig({ ...SCALE_OUT, TOLLGATE_LIMITS_SYNC_MS: '5' }), (e) => e instanceof ConfigError && /TOLLGATE_LIMITS_SYNC_MS/.test(e.message));
  });

  test('scale-out without a webhook secret is refused: webhook signatures must verify whichever instance sends them', () => {
    const { TOLLGATE_WEBHOOK_SECRET: _, ...withoutSecret } = SCALE_OUT;
    assert.throws(() => loadConfig(withoutSecret), (e) => e instanceof ConfigError && /needs TOLLGATE_WEBHOOK_SECRET/.test(e.message));
    assert.throws(() => loadConfig({ ...SCALE_OUT, TOLLGATE_WEBHOOK_SECRET: 'too-short' }), (e) => e instanceof ConfigError && /TOLLGATE_WEBHOOK_SECRET/.test(e.message));
  });

  test('URLs of the wrong kind are refused', () => {
    assert.throws(() => loadConfig({ ...SCALE_OUT, TOLLGATE_DATABASE_URL: 'mysql://db/tollgate' }), (e) => e instanceof ConfigError && /TOLLGATE_DATABASE_URL/.test(e.message));
  });

  test('the banner names the store and never shows a password', () => {
    const line = describeStore(loadConfig(SCALE_OUT));
    assert.equal(line, 'scale-out (PostgreSQL postgres://tollgate:***@db:5432/tollgate, Redis redis://cache:6379, strict limits)');
    assert.match(describeStore(loadConfig({ ...SCALE_OUT, TOLLGATE_LIMITS_MODE: 'relaxed', TOLLGATE_LIMITS_SYNC_MS: '250' })), /, relaxed limits, synced every 250 ms\)$/);
    assert.equal(redactUrl('redis://:hunter2@cache:6379'), 'redis://:***@cache:6379');
    assert.equal(describeStore(loadConfig({}, { dataDir: '/var/lib/tollgate' })), 'embedded (SQLite in /var/lib/tollgate)');
  });
});

describe('the configuration Tollgate runs with', () => {
  test('holds the settings of its store mode only, whatever else the environment or the file set', () => {
    assert.deepEqual(loadConfig({}).store, { kind: 'embedded', rollupFlushMs: 250 });
    assert.deepEqual(loadConfig({ TOLLGATE_ON_STORE_DOWN: 'open', TOLLGATE_LIMITS_SYNC_MS: '500' }, { rollupFlushMs: 50 }).store, { kind: 'embedded', rollupFlushMs: 50 },
      'the scale-out settings are checked, and mean nothing to the embedded store');
    assert.deepEqual(loadConfig({ ...SCALE_OUT, TOLLGATE_ROLLUP_FLUSH_MS: '50' }).store, {
      kind: 'scale-out', databaseUrl: SCALE_OUT.TOLLGATE_DATABASE_URL, redisUrl: SCALE_OUT.TOLLGATE_REDIS_URL, onStoreDown: 'closed', limits: { mode: 'strict' },
    });
    assert.deepEqual(loadConfig({ ...SCALE_OUT, TOLLGATE_LIMITS_MODE: 'relaxed', TOLLGATE_LIMITS_SYNC_MS: '500' }, {}, { onStoreDown: 'open' }).store, {
      kind: 'scale-out', databaseUrl: SCALE_OUT.TOLLGATE_DATABASE_URL, redisUrl: SCALE_OUT.TOLLGATE_REDIS_URL, onStoreDown: 'open', limits: { mode: 'relaxed', syncMs: 500 },
    });
    const config = loadConfig(SCALE_OUT);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.store) && Object.isFrozen(scaleOut(config).limits), 'frozen through');
    assert.equal(config.dataDir, './data', 'the data directory, in every mode (scale-out: its lock and spool)');
  });

  test('a store of one mode with a setting of the other, or half of one, is not a configuration (checked by the compiler)', () => {
    const stores: StoreConfig[] = [
      // @ts-expect-error the embedded store has no database
      { kind: 'embedded', rollupFlushMs: 250, databaseUrl: 'postgres://db/tollgate' },
      // @ts-expect-error scale-out needs Redis as well as PostgreSQL
      { kind: 'scale-out', databaseUrl: 'postgres://db/tollgate', onStoreDown: 'closed', limits: { mode: 'strict' } },
      // @ts-expect-error strict limits have no sync interval
      { kind: 'scale-out', databaseUrl: 'postgres://db/tollgate', redisUrl: 'redis://cache', onStoreDown: 'closed', limits: { mode: 'strict', syncMs: 100 } },
      // @ts-expect-error relaxed limits need one
      { kind: 'scale-out', databaseUrl: 'postgres://db/tollgate', redisUrl: 'redis://cache', onStoreDown: 'closed', limits: { mode: 'relaxed' } },
    ];
    assert.equal(stores.length, 4);
  });

  test('only src/config.ts reads the environment', () => {
    const src = fileURLToPath(new URL('../../../src/', import.meta.url));
    const readers = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      // Code only: the SDK's documentation shows a caller's own process.env.
      .filter((file) => readFileSync(join(src, file), 'utf8').split('\n').some((line) => !/^\s*(\*|\/\/)/.test(line) && line.includes('process.env')));
    assert.deepEqual(readers, ['config.ts']);
  });
});

describe('the failed-authentication throttle and the trusted proxies', () => {
  test('default to 20 failures a minute, refused for 5 minutes, and no proxy trusted', () => {
    const config = loadConfig({});
    assert.deepEqual([config.authFailureLimit, config.authFailureWindowMs, config.authBlockMs, config.trustProxy], [20, 60_000, 300_000, undefined]);
    assert.equal(loadConfig({ TOLLGATE_AUTH_FAILURE_LIMIT: '0' }).authFailureLimit, 0, '0 turns it off');
  });

  test('TOLLGATE_TRUST_PROXY takes true or false, a number of hops, or addresses and ranges', () => {
    assert.equal(loadConfig({ TOLLGATE_TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ TOLLGATE_TRUST_PROXY: 'FALSE' }).trustProxy, false);
    assert.equal(loadConfig({ TOLLGATE_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.equal(loadConfig({ TOLLGATE_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, '10.0.0.0/8, 127.0.0.1');
    assert.throws(() => loadConfig({ TOLLGATE_TRUST_PROXY: '10.0.0.1; rm' }), /TOLLGATE_TRUST_PROXY/);
    assert.throws(() => loadConfig({ TOLLGATE_AUTH_FAILURE_LIMIT: 'ten' }), /TOLLGATE_AUTH_FAILURE_LIMIT must be a whole number/);
    assert.throws(() => loadConfig({ TOLLGATE_AUTH_BLOCK_MS: '10' }), /TOLLGATE_AUTH_BLOCK_MS/);
  });
});

describe('HTTPS: TOLLGATE_TLS_CERT and TOLLGATE_TLS_KEY', () => {
  test('are set together or not at all', () => {
    const config = loadConfig({ TOLLGATE_TLS_CERT: '/etc/tollgate/fullchain.pem', TOLLGATE_TLS_KEY: '/etc/tollgate/privkey.pem' });
    assert.deepEqual(certificatePaths(config), { cert: '/etc/tollgate/fullchain.pem', key: '/etc/tollgate/privkey.pem' });
    assert.equal(certificatePaths(loadConfig({})), null, 'plain HTTP by default');
    assert.deepEqual(certificatePaths(loadConfig({}, {}, { tlsCert: 'cert.pem', tlsKey: 'key.pem' })), { cert: 'cert.pem', key: 'key.pem' }, 'from the config file');
    for (const env of [{ TOLLGATE_TLS_CERT: '/etc/tollgate/fullchain.pem' }, { TOLLGATE_TLS_KEY: '/etc/tollgate/privkey.pem' }]) {
      assert.throws(() => loadConfig(env), (e) => e instanceof ConfigError && /HTTPS needs both TOLLGATE_TLS_CERT and TOLLGATE_TLS_KEY/.test(e.message));
    }
  });

  test('the files are read and matched at start: unreadable, not PEM, cut short, encrypted, or a key that is not the certificate\'s stops it, naming the file', (t) => {
    if (!runs('openssl', ['version'])) return toolMissing(t, 'openssl is not installed');
    const ca = TestCa.create(mkdtempSync(join(dir, 'ca-')));
    const server = ca.issue('server');
    const other = ca.issue('other');
    const pair = readCertificatePair({ cert: server.certPath, key: server.keyPath });
    assert.equal(pair.serial, server.serial);
    assert.equal(pair.subject, 'CN=server');
    // A chain file (certbot's fullchain.pem: the certificate, then its CA) is read whole.
    const fullchain = join(dir, 'fullchain.pem');
    writeFileSync(fullchain, Buffer.concat([readFileSync(server.certPath), ca.pem]));
    assert.equal(readCertificatePair({ cert: fullchain, key: server.keyPath }).serial, server.serial);

    const refused = (paths: { cert: string; key: string }, message: RegExp) =>
      assert.throws(() => readCertificatePair(paths), (e) => e instanceof ConfigError && /^invalid configuration: /.test(e.message) && message.test(e.message), String(message));
    refused({ cert: join(dir, 'missing.pem'), key: server.keyPath }, /TOLLGATE_TLS_CERT: cannot read the certificate file .*missing\.pem: ENOENT/);
    refused({ cert: server.certPath, key: join(dir, 'missing-key.pem') }, /TOLLGATE_TLS_KEY: cannot read the private key file .*missing-key\.pem: ENOENT/);
    refused({ cert: server.keyPath, key: server.keyPath }, /TOLLGATE_TLS_CERT: .*server-key\.pem holds no PEM certificate/);
    refused({ cert: server.certPath, key: server.certPath }, /TOLLGATE_TLS_KEY: .*server\.pem holds no usable PEM private key/);
    refused({ cert: server.certPath, key: other.keyPath }, /TOLLGATE_TLS_KEY: .*other-key\.pem is not the private key of the certificate in .*server\.pem \(CN=server, serial /);

    const pem = readFileSync(fullchain, 'utf8');
    const halfWritten = join(dir, 'half.pem');
    writeFileSync(halfWritten, pem.slice(0, pem.length - 200));
    refused({ cert: halfWritten, key: server.keyPath }, /TOLLGATE_TLS_CERT: .*half\.pem is cut short \(2 certificates begun, 1 whole\)/);
    const garbled = join(dir, 'garbled.pem');
    writeFileSync(garbled, pem.replace(/(-----BEGIN CERTIFICATE-----\n)MII/, '$1XII'));
    refused({ cert: garbled, key: server.keyPath }, /TOLLGATE_TLS_CERT: certificate 1 in .*garbled\.pem does not parse/);

    const encrypted = join(dir, 'encrypted-key.pem');
    execFileSync('openssl', ['pkey', '-in', server.keyPath, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    refused({ cert: server.certPath, key: encrypted }, /TOLLGATE_TLS_KEY: .*encrypted-key\.pem holds no usable PEM private key \(an encrypted key is not supported\)/);
  });
});

describe('the secrets an operator sets', () => {
  const STRONG = randomBytes(32).toString('base64url');
  const HEX = randomBytes(32).toString('hex');
  const WEAK: Array<[string, RegExp]> = [
    // The placeholders this project's README and deploy/.env.example used to show.
    ['change-me-to-a-long-random-string', /placeholder/],
    ['change-me-to-another-long-random-string', /placeholder/],
    ['CHANGEME_please_0123456789abcdef0123', /placeholder/],
    ['changeme', /placeholder/],
    ['admin', /placeholder/],
    ['secret', /placeholder/],
    ['Password', /placeholder/],
    ['your-token-here-0123456789abcdefghij', /placeholder/],
    [randomBytes(12).toString('hex'), /24 characters long, too short to be secret \(32 or more\)/],
    ['x'.repeat(40), /repeats too few characters/],
    ['abababababababababababababababababab', /repeats too few characters/],
  ];
  const settings = [
    ['TOLLGATE_ADMIN_TOKEN', {}],
    ['TOLLGATE_METRICS_TOKEN', { TOLLGATE_ADMIN_TOKEN: STRONG }],
    ['TOLLGATE_WEBHOOK_SECRET', { TOLLGATE_ADMIN_TOKEN: STRONG }],
  ] as const;

  test('beyond loopback, a placeholder or a token too short or too repetitive to be secret stops the start, saying how to make one and never showing it', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'tollgate.internal']) {
      for (const [variable, others] of settings) {
        for (const [value, why] of WEAK) {
          if (variable === 'TOLLGATE_WEBHOOK_SECRET' && value.length < 32) continue; // the schema's own minimum refuses it first
          if (variable !== 'TOLLGATE_WEBHOOK_SECRET' && value.length < 16) continue;
          assert.throws(() => loadConfig({ HOST: host, ...others, [variable]: value }), (e) => {
            assert.ok(e instanceof ConfigError);
            assert.match(e.message, new RegExp(`${variable} `));
            assert.match(e.message, why);
            assert.match(e.message, new RegExp(`listens on ${host.replace(/\./g, '\\.')}, beyond this machine`));
            assert.match(e.message, /openssl rand -base64 32/);
            assert.match(e.message, /randomBytes\(32\)\.toString\('base64url'\)/);
            assert.ok(!e.message.includes(value), 'the value itself is not repeated');
            return true;
          }, `${variable}=${value} on ${host}`);
        }
      }
      // Long random ones are taken, hex included.
      for (const value of [STRONG, HEX, randomBytes(32).toString('base64')]) {
        const config = loadConfig({ HOST: host, TOLLGATE_ADMIN_TOKEN: value, TOLLGATE_METRICS_TOKEN: value, TOLLGATE_WEBHOOK_SECRET: value });
        assert.deepEqual(weakSecrets(config), []);
      }
    }
    // Every weak secret at once is named in one message.
    assert.throws(() => loadConfig({ HOST: '0.0.0.0', TOLLGATE_ADMIN_TOKEN: 'change-me-to-a-long-random-string', TOLLGATE_METRICS_TOKEN: 'metrics-token-12345' }),
      /TOLLGATE_ADMIN_TOKEN is a placeholder, not a secret; TOLLGATE_METRICS_TOKEN is 19 characters long/);
    // A secret from the config file is named by its variable too.
    assert.throws(() => loadConfig({ HOST: '0.0.0.0' }, {}, { adminToken: 'admin-admin-admin' }), /TOLLGATE_ADMIN_TOKEN is 17 characters long/);
  });

  test('on loopback the same secrets are taken, with a warning that says they would be refused elsewhere', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      assert.ok(isLoopback(host), host);
      const config = loadConfig({ HOST: host, TOLLGATE_ADMIN_TOKEN: 'change-me-to-a-long-random-string', TOLLGATE_METRICS_TOKEN: 'short-metrics-token' });
      const warnings = secretWarnings(config);
      assert.equal(warnings.length, 2);
      assert.match(warnings[0]!, new RegExp(`^Warning: TOLLGATE_ADMIN_TOKEN is a placeholder, not a secret\\. Accepted only because Tollgate listens on ${host.replace(/\./g, '\\.')} \\(loopback\\); it refuses to start with it on any other address: .*openssl rand -base64 32`));
      assert.match(warnings[1]!, /^Warning: TOLLGATE_METRICS_TOKEN is 19 characters long/);
      assert.ok(!warnings.join().includes('short-metrics-token'));
    }
    for (const host of ['0.0.0.0', '::', '127.0.0.1.example', '10.127.0.1']) assert.ok(!isLoopback(host), host);
    assert.deepEqual(secretWarnings(loadConfig({ TOLLGATE_ADMIN_TOKEN: STRONG })), []);
    assert.deepEqual(secretWarnings(loadConfig({})), [], 'no token set: the generated one is random');
  });
});
