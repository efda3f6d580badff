import type { Command } from 'commander';
import { registerAppCommands } from './apps.js';
import { registerDemoCommand } from './demo.js';
import { registerGrantCommands } from './grants.js';
import { registerGroupCommands } from './groups.js';
import { registerKeyCommands } from './keys.js';
import { registerLimitsCommand } from './limits.js';
import { registerPlanCommands } from './plans.js';
import { registerServiceTokenCommands } from './service-tokens.js';
import { registerStatementsCommand } from './statements.js';
import { registerUsageCommand } from './usage.js';

/**
 * Registers the commands that call a running server's admin API: plans,
 * groups, apps, keys, limits, service-tokens, usage, statements, grants and demo. Each takes --url
 * (TOLLGATE_URL), --token (TOLLGATE_ADMIN_TOKEN) and --json.
 */
export function registerAdminCommands(program: Command): void {
  registerPlanCommands(program);
  registerGroupCommands(program);
  registerAppCommands(program);
  registerKeyCommands(program);
  registerLimitsCommand(program);
  registerServiceTokenCommands(program);
  registerUsageCommand(program);
  registerStatementsCommand(program);
  registerGrantCommands(program);
  registerDemoCommand(program);
}
