import { Command } from 'commander';
import { commandConfig, migrationDatabaseUrl, serveConfig } from '../config.js';
import { VERSION } from '../version.js';
import { registerAdminCommands } from './commands/index.js';

/**
 * The `tollgate` command and all its subcommands. Usage errors (an unknown
 * option, a bad value, a missing argument) throw a CommanderError after
 * commander printed them, rather than exiting: bin.ts decides the exit code.
 * Set on the root before any subcommand is added, so that every one inherits
 * it; none allows unknown options or excess arguments (commander's default).
 */
export function buildProgram(): Command {
  const program = new Command()
    .name('tollgate')
    .description('Usage metering, quotas and rate limits for APIs.')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError();
  registerServerCommands(program);
  registerAdminCommands(program);
  return program;
}

/** `serve`, `admin-token rotate` and `migrate`: the commands that work on a data directory, not through the API. */
function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('Start Tollgate: on its embedded store, or on PostgreSQL and Redis when TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL are set')
    .option('--port <port>', 'port to listen on (PORT, default 8080)')
    .option('--host <host>', 'address to listen on (HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'where data is kept (TOLLGATE_DATA_DIR, default ./data)')
    .option('--demo', 'create (or reuse) a demo plan, group and app, replace the demo key, and print curl commands to try and the dashboard')
    .option('--gateway <file>', 'gateway mode: meter and forward the routes of this YAML or JSON file to their upstreams')
    .option('--config <file>', 'settings from a YAML or JSON file (TOLLGATE_CONFIG); the environment and flags win')
    .action(async (opts: { port?: string; host?: string; dataDir?: string; demo?: boolean; gateway?: string; config?: string }) => {
      const config = await serveConfig({
        ...(opts.port !== undefined ? { port: Number(opts.port) } : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
      }, opts.config);
      // Checked before anything starts: a bad file stops the start with the line at fault (exit 2).
      const gateway = opts.gateway === undefined ? undefined : (await import('../gateway/config.js')).loadGatewayConfig(opts.gateway);
      // Loaded on demand: the admin client commands need neither Fastify nor SQLite.
      const { serve } = await import('./serve.js');
      await serve(config, {
        demo: opts.demo === true,
        print: (line) => process.stdout.write(`${line}\n`),
        ...(gateway === undefined ? {} : { gateway }),
      });
    });

  program
    .command('admin-token')
    .description('Manage the admin token')
    .command('rotate')
    .description('Issue a new admin token (restart the server to use it); prints it once')
    .option('--data-dir <dir>', 'data directory (TOLLGATE_DATA_DIR, default ./data)')
    .action(async (opts: { dataDir?: string }) => {
      const { rotateAdminToken } = await import('../admin-token.js');
      const config = commandConfig(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {});
      rotateAdminToken(config.dataDir, (token) => process.stdout.write(`New admin token (shown this once): ${token}\n`));
    });

  program
    .command('migrate')
    .description('Copy an embedded store into PostgreSQL for scale-out mode (a fresh database: no plans, no events); stop its server first')
    .requiredOption('--from <dir>', "the embedded store's data directory")
    .option('--database-url <url>', 'the PostgreSQL database, postgres://... (TOLLGATE_DATABASE_URL)')
    .action(async (opts: { from: string; databaseUrl?: string }) => {
      const databaseUrl = migrationDatabaseUrl(opts.databaseUrl);
      const [{ default: pg }, { PG_TYPES }, { redactUrl }, { migrateEmbedded, migrationSummary }] = await Promise.all([
        import('pg'), import('../store/postgres/pg-catalog.js'), import('../store/open-store.js'), import('../store/migrate-embedded.js'),
      ]);
      const print = (line: string) => process.stdout.write(`${line}\n`);
      print(`Migrating the embedded store in ${opts.from} into PostgreSQL ${redactUrl(databaseUrl)}`);
      const pool = new pg.Pool({ connectionString: databaseUrl, types: PG_TYPES, max: 2, connectionTimeoutMillis: 5_000 });
      pool.on('error', () => undefined); // an idle connection that breaks; the query using it reports the failure
      try {
        const counts = await migrateEmbedded(opts.from, pool, print);
        for (const line of migrationSummary(counts, opts.from)) print(line);
      } finally {
        await pool.end();
      }
    });
}
