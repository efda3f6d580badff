import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Tollgate's whole configuration: read once at start from the environment
 * (and command-line flags, which win), checked against one schema, frozen,
 * and handed to whatever needs it. Nothing else reads `process.env`.
 */
export const ConfigSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  dataDir: Type.String({ minLength: 1 }),
  /** Admin token given by the operator; when absent one is generated on first start. */
  adminToken: Type.Optional(Type.String({ minLength: 16 })),
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
  /** How often buffered rollup deltas are written to the rollup tables, in milliseconds. */
  rollupFlushMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
});

export type Config = Readonly<Static<typeof ConfigSchema>>;

export const DEFAULTS: Config = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  keyPrefix: 'tg_',
  logLevel: 'info',
  idempotencyWindowDays: 35,
  bodyLimitBytes: 1024 * 1024,
  rollupFlushMs: 250,
});

/** The environment variables Tollgate reads, and the setting each one fills. */
export const ENVIRONMENT = {
  PORT: 'port',
  HOST: 'host',
  TOLLGATE_DATA_DIR: 'dataDir',
  TOLLGATE_ADMIN_TOKEN: 'adminToken',
  TOLLGATE_KEY_PREFIX: 'keyPrefix',
  TOLLGATE_LOG_LEVEL: 'logLevel',
  TOLLGATE_IDEMPOTENCY_WINDOW_DAYS: 'idempotencyWindowDays',
  TOLLGATE_BODY_LIMIT_BYTES: 'bodyLimitBytes',
  TOLLGATE_ROLLUP_FLUSH_MS: 'rollupFlushMs',
} as const satisfies Record<string, keyof Config>;

const INTEGER_SETTINGS = new Set<keyof Config>(['port', 'idempotencyWindowDays', 'bodyLimitBytes', 'rollupFlushMs']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Builds the configuration from the environment and overrides.
 *
 * @example
 * const config = loadConfig(process.env, { port: 0 });
 */
export function loadConfig(env: NodeJS.ProcessEnv, overrides: Partial<Config> = {}): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const [variable, setting] of Object.entries(ENVIRONMENT)) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    fromEnv[setting] = INTEGER_SETTINGS.has(setting) ? parseInteger(variable, raw) : raw;
  }
  const merged: Record<string, unknown> = { ...DEFAULTS, ...fromEnv };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;

  if (!Value.Check(ConfigSchema, merged)) {
    const problems = [...Value.Errors(ConfigSchema, merged)].map((e) => {
      const setting = e.instancePath.replace(/^\//, '');
      const variable = Object.entries(ENVIRONMENT).find(([, s]) => s === setting)?.[0];
      return `${variable ?? setting}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(merged as Config);
}

function parseInteger(variable: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`invalid configuration: ${variable} must be a whole number, got "${raw}"`);
  return Number(raw.trim());
}
