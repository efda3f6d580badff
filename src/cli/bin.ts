#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { UsageError } from './commands/common.js';
import { buildProgram } from './program.js';

/**
 * Exit codes: 0 done (and --help, --version); 1 the work failed (the API
 * refused, the server cannot be reached, the data directory is in use);
 * 2 the command line or the configuration is wrong, found before any work.
 */
buildProgram().parseAsync(process.argv).catch((error: unknown) => {
  // Commander has printed its own message (unknown option, bad value, help) already.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  process.stderr.write(`tollgate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError || error instanceof UsageError ? 2 : 1);
});
