import type { Command } from 'commander';
import { adminApiDemoCatalog, seedDemo } from '../demo.js';
import { demoLines } from '../demo-text.js';
import { clientCommand, run } from './common.js';

/**
 * `tollgate demo`: a demo customer with a new key, and curl commands to try
 * it; seeded by the same rule as `serve --demo`, through the SDK's admin client.
 */
export function registerDemoCommand(program: Command): void {
  clientCommand(program, 'demo', 'Create (or reuse) a demo plan, group and app, replace the demo key, and print curl commands to try')
    .action(run(async ({ api, baseUrl, command, output }) => {
      const { secret, created, revoked } = await seedDemo(adminApiDemoCatalog(api));
      // The token itself is not printed: the variable when it came from there, a placeholder otherwise.
      const token = command.getOptionValueSource('token') === 'env' ? '$TOLLGATE_ADMIN_TOKEN' : '<admin token>';
      output(created, () => demoLines(baseUrl, secret, token, new Date(), revoked).join('\n'));
    }));
}
