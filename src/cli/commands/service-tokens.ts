import type { Command } from 'commander';
import type { ServiceToken } from '../../client/admin-types.js';
import { clientCommand, itemCommand, listCommand, showWithSecret, run } from './common.js';
import type { Column } from './table.js';

const columns: Column<ServiceToken>[] = [
  { header: 'TOKEN ID', value: 'tokenId' },
  { header: 'NAME', value: 'name' },
  { header: 'HINT', value: 'hint' },
  { header: 'CREATED', value: 'createdAt' },
  { header: 'REVOKED', value: 'revokedAt' },
];

/** `tollgate service-tokens create|list|revoke`: tokens for a backend that calls the check API. */
export function registerServiceTokenCommands(program: Command): void {
  const tokens = program.command('service-tokens')
    .description("Service tokens: let a provider's backend call POST /v1/check without the admin token");

  clientCommand(tokens, 'create', 'Create a service token and print it, once')
    .option('--name <name>', 'a name to tell tokens apart')
    .action(run<{ name?: string }>(async (ctx) => {
      const created = await ctx.api.serviceTokens.create({ name: ctx.opts.name });
      showWithSecret(ctx, created, columns, 'Service token (send it as "Authorization: Bearer <token>")', created.token);
    }, { name: '--name' }));
  listCommand(tokens, 'List service tokens (never the secrets)', columns, (api, _opts, page) => api.serviceTokens.list(page));
  itemCommand(tokens, 'revoke <id>', 'Revoke a service token', (api, id) => api.serviceTokens.revoke(id), columns);
}
