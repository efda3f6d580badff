import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Tollgate's whole configuration: read once at start from the environment
 * (and a config file, and command-line flags), checked, frozen, and handed
 * to whatever needs it. Nothing else reads `process.env`.
 *
 * Two shapes: the settings as an operator writes them (flat, one per
 * environment variable or config-file key, checked against one schema), and
 * the `Config` built from them, where the store's settings are one of the
 * store modes (`Config['store']`), so that code switches on the mode and a
 * setting of the other mode cannot be read by mistake.
 */
export const SettingsSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  /**
   * The data directory, in every mode: the admin token's hash and the
   * generated webhook secret; embedded, the SQLite database; scale-out, the
   * lock that keeps a second instance off it and the spool of usage kept
   * while the store is down.
   */
  dataDir: Type.String({ minLength: 1 }),
  /** Admin token given by the operator; when absent one is generated on first start. */
  adminToken: Type.Optional(Type.String({ minLength: 16 })),
  /** A token that may read `/metrics` and nothing else, so that a Prometheus server need not hold the admin token. */
  metricsToken: Type.Optional(Type.String({ minLength: 16 })),
  /** Readable prefix of customer keys, like `pg_api_` in Paperguide's documentation. */
  keyPrefix: Type.String({ pattern: '^[A-Za-z0-9_]{1,16}$' }),
  logLevel: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent'),
  ]),
  /** How long an idempotency key is remembered, in days. */
  idempotencyWindowDays: Type.Integer({ minimum: 1, maximum: 400 }),
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: Type.Integer({ minimum: 1024 }),
  /** Most client connections open at once; further ones are closed as they arrive. */
  maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  /** How often buffered rollup deltas are written to the rollup tables, in milliseconds. */
  rollupFlushMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
  /**
   * Scale-out mode: PostgreSQL for durable state (postgres://…) and Redis for
   * counters (redis://…), shared by any number of instances. Both or neither.
   */
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /**
   * Scale-out mode, when PostgreSQL or Redis cannot be reached: `closed`
   * refuses calls with a 503; `open` decides limits locally and spools usage
   * to the data directory until the store is back.
   */
  onStoreDown: Type.Union([Type.Literal('closed'), Type.Literal('open')]),
  /**
   * Scale-out mode: `strict` decides every call in Redis (exact across
   * instances); `relaxed` decides in each instance against counters synced
   * with Redis every `limitsSyncMs` (faster, may admit a little over a limit).
   */
  limitsMode: Type.Union([Type.Literal('strict'), Type.Literal('relaxed')]),
  /** Relaxed mode: how often an instance syncs its counters with Redis, in milliseconds. */
  limitsSyncMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
  /**
   * How long after its end a billing period closes, in milliseconds: its
   * statement is then final, and later usage is billed as an adjustment.
   */
  statementGraceMs: Type.Integer({ minimum: 0, maximum: 31 * 86_400_000 }),
  /**
   * The server secret every webhook endpoint's signing secret is derived
   * from; when absent one is generated into the data directory. Required in
   * scale-out mode, the same on every instance.
   */
  webhookSecret: Type.Optional(Type.String({ minLength: 32 })),
  /** How long before a key expires its `key_expiring` alert fires, in days. */
  keyExpiryNoticeDays: Type.Integer({ minimum: 1, maximum: 365 }),
  /** How often keys are scanned for those about to expire, in milliseconds. */
  alertScanMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
  /** How long one webhook attempt may take, in milliseconds, before it counts as failed. */
  webhookTimeoutMs: Type.Integer({ minimum: 100, maximum: 300_000 }),
  /** The wait after a delivery's first failed attempt; each further failure doubles it (up to an hour), with jitter. */
  webhookRetryBaseMs: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
  /**
   * Failed authentications (admin, metrics or service token, customer key)
   * from one client address within `authFailureWindowMs` after which the
   * address's failing requests get 429 instead of 401 for `authBlockMs` (a
   * valid credential always passes); 0 turns the throttle off.
   */
  authFailureLimit: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  authFailureWindowMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
  authBlockMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
  /**
   * Behind a reverse proxy: which proxies' `X-Forwarded-For` to believe for
   * the client's address (Fastify's `trustProxy`): `true` for any (only when
   * nothing reaches Tollgate but through the proxy), a number of hops, or the
   * proxies' addresses and CIDR ranges, comma-separated. Unset: the socket's peer.
   */
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Integer({ minimum: 1, maximum: 100 }), Type.String({ minLength: 1, pattern: '^[0-9A-Za-z.:/, ]+$' })])),
  /**
   * HTTPS without a proxy in front: the PEM files of the certificate (its
   * chain after it, as certbot's fullchain.pem) and of its private key. Both
   * or neither; read and matched at start, reloaded when they are replaced.
   */
  tlsCert: Type.Optional(Type.String({ minLength: 1 })),
  tlsKey: Type.Optional(Type.String({ minLength: 1 })),
});

/** The settings as given: one per environment variable or config-file key. */
export type Settings = Readonly<Static<typeof SettingsSchema>>;

/** How the scale-out store decides limits: in Redis for every call, or in each instance against counters synced every `syncMs`. */
export type LimitsConfig = { readonly mode: 'strict' } | { readonly mode: 'relaxed'; readonly syncMs: number };

/**
 * The store mode and its own settings: the embedded SQLite store in the
 * data directory, or the scale-out store on PostgreSQL and Redis (which
 * uses the data directory for its lock and spool only).
 */
export type StoreConfig =
  | { readonly kind: 'embedded'; readonly rollupFlushMs: number }
  | {
    readonly kind: 'scale-out'; readonly databaseUrl: string; readonly redisUrl: string;
    readonly onStoreDown: 'closed' | 'open'; readonly limits: LimitsConfig;
  };

/** The settings that make up `Config['store']`. */
type StoreSetting = 'rollupFlushMs' | 'databaseUrl' | 'redisUrl' | 'onStoreDown' | 'limitsMode' | 'limitsSyncMs';

/** The configuration Tollgate runs with: the settings, the store's gathered into its mode. */
export type Config = Readonly<Omit<Settings, StoreSetting>> & { readonly store: StoreConfig };

export const DEFAULTS: Settings = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  keyPrefix: 'tg_',
  logLevel: 'info',
  idempotencyWindowDays: 35,
  bodyLimitBytes: 1024 * 1024,
  maxConnections: 10_000,
  rollupFlushMs: 250,
  onStoreDown: 'closed',
  limitsMode: 'strict',
  limitsSyncMs: 100,
  statementGraceMs: 3_600_000,
  keyExpiryNoticeDays: 7,
  alertScanMs: 60_000,
  webhookTimeoutMs: 10_000,
  webhookRetryBaseMs: 30_000,
  authFailureLimit: 20,
  authFailureWindowMs: 60_000,
  authBlockMs: 300_000,
});

/** The environment variables Tollgate reads, and the setting each one fills. */
export const ENVIRONMENT = {
  PORT: 'port',
  HOST: 'host',
  TOLLGATE_DATA_DIR: 'dataDir',
  TOLLGATE_ADMIN_TOKEN: 'adminToken',
  TOLLGATE_METRICS_TOKEN: 'metricsToken',
  TOLLGATE_KEY_PREFIX: 'keyPrefix',
  TOLLGATE_LOG_LEVEL: 'logLevel',
  TOLLGATE_IDEMPOTENCY_WINDOW_DAYS: 'idempotencyWindowDays',
  TOLLGATE_BODY_LIMIT_BYTES: 'bodyLimitBytes',
  TOLLGATE_MAX_CONNECTIONS: 'maxConnections',
  TOLLGATE_ROLLUP_FLUSH_MS: 'rollupFlushMs',
  TOLLGATE_DATABASE_URL: 'databaseUrl',
  TOLLGATE_REDIS_URL: 'redisUrl',
  TOLLGATE_ON_STORE_DOWN: 'onStoreDown',
  TOLLGATE_LIMITS_MODE: 'limitsMode',
  TOLLGATE_LIMITS_SYNC_MS: 'limitsSyncMs',
  TOLLGATE_STATEMENT_GRACE_MS: 'statementGraceMs',
  TOLLGATE_WEBHOOK_SECRET: 'webhookSecret',
  TOLLGATE_KEY_EXPIRY_NOTICE_DAYS: 'keyExpiryNoticeDays',
  TOLLGATE_ALERT_SCAN_MS: 'alertScanMs',
  TOLLGATE_WEBHOOK_TIMEOUT_MS: 'webhookTimeoutMs',
  TOLLGATE_WEBHOOK_RETRY_BASE_MS: 'webhookRetryBaseMs',
  TOLLGATE_AUTH_FAILURE_LIMIT: 'authFailureLimit',
  TOLLGATE_AUTH_FAILURE_WINDOW_MS: 'authFailureWindowMs',
  TOLLGATE_AUTH_BLOCK_MS: 'authBlockMs',
  TOLLGATE_TRUST_PROXY: 'trustProxy',
  TOLLGATE_TLS_CERT: 'tlsCert',
  TOLLGATE_TLS_KEY: 'tlsKey',
} as const satisfies Record<string, keyof Settings>;

/** The environment variable naming a config file for `tollgate serve` (`--config` wins). */
export const CONFIG_FILE_VARIABLE = 'TOLLGATE_CONFIG';

const INTEGER_SETTINGS = new Set<keyof Settings>([
  'port', 'idempotencyWindowDays', 'bodyLimitBytes', 'maxConnections', 'rollupFlushMs', 'limitsSyncMs', 'statementGraceMs',
  'keyExpiryNoticeDays', 'alertScanMs', 'webhookTimeoutMs', 'webhookRetryBaseMs',
  'authFailureLimit', 'authFailureWindowMs', 'authBlockMs',
]);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Builds the configuration: defaults, then the config file's settings (when
 * given), then the environment, then overrides (command-line flags).
 *
 * @example
 * const config = loadConfig(process.env, { port: 0 });
 */
export function loadConfig(env: NodeJS.ProcessEnv, overrides: Partial<Settings> = {}, file: Record<string, unknown> = {}): Config {
  const unknownSetting = Object.keys(file).find((k) => !(k in SettingsSchema.properties));
  if (unknownSetting !== undefined) throw new ConfigError(`invalid configuration: "${unknownSetting}" in the config file is not a setting`);
  const fromEnv: Record<string, unknown> = {};
  for (const [variable, setting] of Object.entries(ENVIRONMENT)) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    fromEnv[setting] = INTEGER_SETTINGS.has(setting) ? parseInteger(variable, raw) : setting === 'trustProxy' ? parseTrustProxy(raw) : raw;
  }
  const merged: Record<string, unknown> = { ...DEFAULTS, ...file, ...fromEnv };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;

  if ((merged.databaseUrl === undefined) !== (merged.redisUrl === undefined)) {
    throw new ConfigError('invalid configuration: scale-out mode needs both TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL');
  }
  if ((merged.tlsCert === undefined) !== (merged.tlsKey === undefined)) {
    throw new ConfigError('invalid configuration: HTTPS needs both TOLLGATE_TLS_CERT and TOLLGATE_TLS_KEY (the certificate and its private key, PEM files)');
  }
  if (merged.databaseUrl !== undefined && merged.adminToken === undefined) {
    // Every instance must accept the same admin token; a generated one would differ per instance.
    throw new ConfigError('invalid configuration: scale-out mode needs TOLLGATE_ADMIN_TOKEN, the same on every instance');
  }
  if (merged.limitsMode === 'relaxed' && merged.databaseUrl === undefined) {
    // One embedded instance is exact at no cost: there is nothing to relax.
    throw new ConfigError('invalid configuration: TOLLGATE_LIMITS_MODE=relaxed applies to scale-out mode (TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL)');
  }
  if (merged.databaseUrl !== undefined && merged.webhookSecret === undefined) {
    // Webhook signatures must verify whichever instance sends them; a generated secret would differ per instance.
    throw new ConfigError('invalid configuration: scale-out mode needs TOLLGATE_WEBHOOK_SECRET, the same on every instance');
  }
  if (!Value.Check(SettingsSchema, merged)) {
    const problems = [...Value.Errors(SettingsSchema, merged)].map((e) => `${settingName(e.instancePath.replace(/^\//, ''))}: ${e.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = toConfig(merged as Settings);
  const weak = weakSecrets(config);
  if (weak.length > 0 && !isLoopback(config.host)) {
    throw new ConfigError(`invalid configuration: ${weak.join('; ')}. Tollgate listens on ${config.host}, beyond this machine: ${MAKE_A_SECRET}`);
  }
  return config;
}

/** Checked settings as the configuration Tollgate runs with: the store's settings gathered into its mode, the other mode's dropped. */
function toConfig(settings: Settings): Config {
  const { rollupFlushMs, databaseUrl, redisUrl, onStoreDown, limitsMode, limitsSyncMs, ...rest } = settings;
  // loadConfig has refused one URL without the other.
  const store: StoreConfig = databaseUrl === undefined || redisUrl === undefined
    ? { kind: 'embedded', rollupFlushMs }
    : {
      kind: 'scale-out', databaseUrl, redisUrl, onStoreDown,
      limits: limitsMode === 'relaxed' ? { mode: 'relaxed', syncMs: limitsSyncMs } : { mode: 'strict' },
    };
  return deepFreeze({ ...rest, store });
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) if (inner !== null && typeof inner === 'object') deepFreeze(inner);
  return Object.freeze(value);
}

/**
 * `tollgate serve`'s configuration: the config file named by `--config`
 * (`configFile`) or else by TOLLGATE_CONFIG, then the environment, then the
 * flags.
 */
export async function serveConfig(flags: Partial<Settings>, configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = configFile ?? env[CONFIG_FILE_VARIABLE];
  return loadConfig(env, flags, file === undefined || file === '' ? {} : await readConfigFile(file));
}

/** A command's configuration from the environment and its flags (no config file): `admin-token rotate`. */
export function commandConfig(flags: Partial<Settings>, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(env, flags);
}

/**
 * `tollgate migrate`'s target: `--database-url`, or else
 * TOLLGATE_DATABASE_URL. Only this setting: loadConfig would also demand the
 * Redis URL and the admin token of a server.
 */
export function migrationDatabaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const databaseUrl = flag ?? env[settingName('databaseUrl')] ?? '';
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('migrate needs the target database: --database-url postgres://... or TOLLGATE_DATABASE_URL');
  }
  return databaseUrl;
}

/** The environment variable that fills a setting (or the setting's own name, for one no variable fills). */
function settingName(setting: string): string {
  return Object.entries(ENVIRONMENT).find(([, s]) => s === setting)?.[0] ?? setting;
}

// ---------------------------------------------------------------- secrets

/** Shorter than this, a secret an operator chose is too short to be one (the generated ones carry 192 bits). */
export const MIN_SECRET_LENGTH = 32;

const MAKE_A_SECRET = 'make each secret a long random string, e.g. `openssl rand -base64 32` or '
  + '`node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64url\'))"`';

/**
 * Values people paste without changing them, compared lower case without
 * punctuation: the placeholders of this project's own documentation start
 * with "change-me", and these are the usual others.
 */
const PLACEHOLDER_PREFIXES = ['changeme', 'changeit', 'replaceme', 'yourtoken', 'yoursecret', 'placeholder', 'example'];
const PLACEHOLDERS = new Set([
  'admin', 'administrator', 'root', 'secret', 'password', 'passw0rd', 'token', 'admintoken', 'test', 'testing', 'default',
  'tollgate', 'letmein', 'qwerty', 'abc123', '123456', '12345678', '1234567890', 'none', 'null', 'xxx', 'todo', 'fixme',
]);

/** The secrets an operator sets (a generated one is random already), by setting. */
const OPERATOR_SECRETS = ['adminToken', 'metricsToken', 'webhookSecret'] as const;

/**
 * What is wrong with the secrets the operator set, one line per secret,
 * naming its variable and never showing its value: a known placeholder, or
 * too short or too repetitive to be secret. Refused by `loadConfig` when
 * the server listens beyond loopback; for a server on loopback only, a
 * warning (`secretWarnings`), so that local tries and tests keep working.
 */
export function weakSecrets(config: Config): string[] {
  const problems: string[] = [];
  for (const setting of OPERATOR_SECRETS) {
    const value = config[setting];
    if (value === undefined) continue;
    const why = weakness(value);
    if (why !== null) problems.push(`${settingName(setting)} ${why}`);
  }
  return problems;
}

function weakness(secret: string): string | null {
  const plain = secret.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (PLACEHOLDERS.has(plain) || PLACEHOLDER_PREFIXES.some((p) => plain.startsWith(p))) return 'is a placeholder, not a secret';
  if (secret.length < MIN_SECRET_LENGTH) return `is ${secret.length} characters long, too short to be secret (${MIN_SECRET_LENGTH} or more)`;
  // A random string of 32 characters or more uses far more than 8 different ones, hex included.
  if (new Set(secret).size < 8) return 'repeats too few characters to be secret';
  return null;
}

/** Loopback only: nothing but this machine can reach the server. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The lines to print at start for weak secrets that are allowed only because the server listens on loopback. */
export function secretWarnings(config: Config): string[] {
  return weakSecrets(config).map((problem) => `Warning: ${problem}. Accepted only because Tollgate listens on ${config.host} `
    + `(loopback); it refuses to start with it on any other address: ${MAKE_A_SECRET}`);
}

/** TOLLGATE_TRUST_PROXY: `true` / `false`, a number of hops, or a list of addresses as it is. */
function parseTrustProxy(raw: string): boolean | number | string {
  const value = raw.trim();
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

function parseInteger(variable: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`invalid configuration: ${variable} must be a whole number, got "${raw}"`);
  return Number(raw.trim());
}

/**
 * Reads a YAML or JSON config file (`tollgate serve --config file`): an
 * object whose keys are the settings' names, e.g. `databaseUrl`, `port`.
 */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  let parsed: unknown;
  try {
    parsed = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`the config file ${path} must hold an object of settings`);
  }
  return parsed as Record<string, unknown>;
}
