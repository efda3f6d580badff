import type { Command } from 'commander';
import type { Key } from '../../client/admin-types.js';
import { clientCommand, itemCommand, listCommand, parseInstant, showWithSecret, run } from './common.js';
import type { Column } from './table.js';

const columns: Column<Key>[] = [
  { header: 'KEY ID', value: 'keyId' },
  { header: 'APP ID', value: 'appId' },
  { header: 'GROUP', value: 'groupId' },
  { header: 'NAME', value: 'name' },
  { header: 'HINT', value: 'hint' },
  { header: 'CREATED', value: 'createdAt' },
  { header: 'EXPIRES', value: 'expiresAt' },
  { header: 'REVOKED', value: 'revokedAt' },
];

/** `tollgate keys create|list|show|revoke`: the secrets customers send. */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('Keys: the secrets customers send (shown once, at creation)');

  clientCommand(keys, 'create <app_id>', 'Create a key for an app and print its secret, once')
    .option('--name <name>', 'a name to tell keys apart')
    .option('--expires-at <iso>', 'when the key stops working, e.g. 2030-01-01T00:00:00Z', parseInstant)
    .action(run<{ name?: string; expiresAt?: string }>(async (ctx, [appId]) => {
      const created = await ctx.api.keys.create(appId!, { name: ctx.opts.name, expiresAt: ctx.opts.expiresAt });
      showWithSecret(ctx, created, columns, 'Secret key', created.key);
    }, { name: '--name', expires_at: '--expires-at' }));
  listCommand<Key, { app?: string }>(keys, "List keys (never the secrets): all, or one app's", columns,
    (api, opts, page) => api.keys.list({ ...page, appId: opts.app }))
    .option('--app <app_id>', "only this app's keys");
  itemCommand(keys, 'show <key_id>', 'Show a key', (api, id) => api.keys.get(id), columns);
  itemCommand(keys, 'revoke <key_id>', 'Revoke a key, at once', (api, id) => api.keys.revoke(id), columns);
}
