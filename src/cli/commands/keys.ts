import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { KeySchema } from '../../contract/keys.js';
import { apiPath } from './api-client.js';
import { clientCommand, itemCommand, listCommand, parseInstant, showWithSecret, run } from './common.js';
import type { Column } from './table.js';

/** A key as the API answers it. */
export type Key = Static<typeof KeySchema>;

/** The answer to creating a key: the key and, this once, its secret. */
export type CreatedKey = Key & { key: string };

const columns: Column<Key>[] = [
  { header: 'KEY ID', value: 'key_id' },
  { header: 'APP ID', value: 'app_id' },
  { header: 'GROUP', value: 'group_id' },
  { header: 'NAME', value: 'name' },
  { header: 'HINT', value: 'hint' },
  { header: 'CREATED', value: 'created_at' },
  { header: 'EXPIRES', value: 'expires_at' },
  { header: 'REVOKED', value: 'revoked_at' },
];

/** `tollgate keys create|list|show|revoke`: the secrets customers send. */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('Keys: the secrets customers send (shown once, at creation)');

  clientCommand(keys, 'create <app_id>', 'Create a key for an app and print its secret, once')
    .option('--name <name>', 'a name to tell keys apart')
    .option('--expires-at <iso>', 'when the key stops working, e.g. 2030-01-01T00:00:00Z', parseInstant)
    .action(run<{ name?: string; expiresAt?: string }>(async (ctx, [appId]) => {
      const created = await ctx.api.post<CreatedKey>(apiPath`/admin/apps/${appId!}/keys`, { name: ctx.opts.name, expires_at: ctx.opts.expiresAt });
      showWithSecret(ctx, created, columns, 'Secret key', created.key);
    }, { name: '--name', expires_at: '--expires-at' }));
  listCommand<Key, { app?: string }>(keys, "List keys (never the secrets): all, or one app's", columns,
    (opts) => (opts.app === undefined ? '/admin/keys' : apiPath`/admin/apps/${opts.app}/keys`))
    .option('--app <app_id>', "only this app's keys");
  itemCommand(keys, 'show <key_id>', 'Show a key', 'GET', (id) => apiPath`/admin/keys/${id}`, columns);
  itemCommand(keys, 'revoke <key_id>', 'Revoke a key, at once', 'DELETE', (id) => apiPath`/admin/keys/${id}`, columns);
}
