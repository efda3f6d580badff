import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { ServiceTokenSchema } from '../../contract/keys.js';
import { apiPath } from './api-client.js';
import { clientCommand, itemCommand, listCommand, showWithSecret, run } from './common.js';
import type { Column } from './table.js';

type ServiceToken = Static<typeof ServiceTokenSchema>;

const columns: Column<ServiceToken>[] = [
  { header: 'TOKEN ID', value: 'token_id' },
  { header: 'NAME', value: 'name' },
  { header: 'HINT', value: 'hint' },
  { header: 'CREATED', value: 'created_at' },
  { header: 'REVOKED', value: 'revoked_at' },
];

/** `tollgate service-tokens create|list|revoke`: tokens for a backend that calls the check API. */
export function registerServiceTokenCommands(program: Command): void {
  const tokens = program.command('service-tokens')
    .description("Service tokens: let a provider's backend call POST /v1/check without the admin token");

  clientCommand(tokens, 'create', 'Create a service token and print it, once')
    .option('--name <name>', 'a name to tell tokens apart')
    .action(run<{ name?: string }>(async (ctx) => {
      const created = await ctx.api.post<ServiceToken & { token: string }>('/admin/service-tokens', { name: ctx.opts.name });
      showWithSecret(ctx, created, columns, 'Service token (send it as "Authorization: Bearer <token>")', created.token);
    }, { name: '--name' }));
  listCommand(tokens, 'List service tokens (never the secrets)', columns, () => '/admin/service-tokens');
  itemCommand(tokens, 'revoke <id>', 'Revoke a service token', 'DELETE', (id) => apiPath`/admin/service-tokens/${id}`, columns);
}
