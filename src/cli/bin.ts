#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, loadConfig, readConfigFile } from '../config.js';
import { registerAdminCommands } from './commands/index.js';

const program = new Command()
  .name('tollgate')
  .description('Usage metering, quotas and rate limits for APIs.')
  .showHelpAfterError();

program
  .command('serve')
  .description('Start Tollgate: on its embedded store, or on PostgreSQL and Redis when TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL are set')
  .option('--port <port>', 'port to listen on (PORT, default 8080)')
  .option('--host <host>', 'address to listen on (HOST, default 127.0.0.1)')
  .option('--data-dir <dir>', 'where data is kept (TOLLGATE_DATA_DIR, default ./data)')
  .option('--demo', 'create a demo plan, group, app and key, and print curl commands to try')
  .option('--gateway <file>', 'gateway mode: meter and forward the routes of this YAML or JSON file to their upstreams')
  .option('--config <file>', 'settings from a YAML or JSON file (TOLLGATE_CONFIG); the environment and flags win')
  .action(async (opts: { port?: string; host?: string; dataDir?: string; demo?: boolean; gateway?: string; config?: string }) => {
    const file = opts.config ?? process.env.TOLLGATE_CONFIG;
    const config = loadConfig(process.env, {
      ...(opts.port !== undefined ? { port: Number(opts.port) } : {}),
      ...(opts.host !== undefined ? { host: opts.host } : {}),
      ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    }, file === undefined || file === '' ? {} : await readConfigFile(file));
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
    const { rotateAdminToken } = await import('../runtime.js');
    const config = loadConfig(process.env, opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {});
    const token = rotateAdminToken(config.dataDir);
    process.stdout.write(`New admin token (shown this once): ${token.generated}\n`);
  });

registerAdminCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`tollgate: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tollgate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
