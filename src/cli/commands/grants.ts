import type { Command } from 'commander';
import type { CreditGrant } from '../../client/admin-types.js';
import { clientCommand, integer, parseInstant, parsePageSize, run } from './common.js';
import { type Column, formatTable } from './table.js';

const columns: Column<CreditGrant>[] = [
  { header: 'ID', value: 'id' },
  { header: 'AMOUNT', value: 'amount' },
  { header: 'USED', value: 'used' },
  { header: 'REMAINING', value: 'remaining' },
  { header: 'PRIORITY', value: 'priority' },
  { header: 'EXPIRES', value: 'expiresAt' },
  { header: 'STATUS', value: 'status' },
  { header: 'SOURCE', value: 'source' },
  { header: 'NOTE', value: 'note' },
];

const parseAmount = integer(1, 1e15, 'a whole number of credits, 1 or more');
const parsePriority = integer(-1_000_000, 1_000_000, 'a whole number from -1000000 to 1000000');

/** `tollgate grants create|list|void`: a group's prepaid credits. */
export function registerGrantCommands(program: Command): void {
  const grants = program.command('grants').description("Credit grants: a group's prepaid credits, spent by its usage");

  clientCommand(grants, 'create', 'Grant credits to a group')
    .argument('<group_id>', 'the group')
    .argument('<amount>', 'credits to grant, a whole number', parseAmount)
    .option('--expires-at <iso>', 'when what is left stops counting, e.g. 2030-01-01T00:00:00Z (default: never)', parseInstant)
    .option('--priority <n>', 'higher is spent first (default 0)', parsePriority)
    .option('--note <text>', 'why it was granted')
    .option('--idempotency-key <key>', 'a repeat with this key answers the first grant instead of granting again')
    .action(run<{ expiresAt?: string; priority?: number; note?: string; idempotencyKey?: string }>(async ({ api, opts, show, command }) => {
      const [groupId, amount] = command.processedArgs as [string, number];
      show(await api.grants.create(groupId, { amount, expiresAt: opts.expiresAt, priority: opts.priority, note: opts.note, idempotencyKey: opts.idempotencyKey }), columns);
    }, { amount: '<amount>', expires_at: '--expires-at', priority: '--priority', note: '--note', idempotency_key: '--idempotency-key' }));

  clientCommand(grants, 'list', "List a group's grants, with what is left of each and its balance")
    .argument('<group_id>', 'the group')
    .option('--all', 'voided grants too')
    .option('--limit <n>', 'how many to show, 1 to 1000 (default 100)', parsePageSize)
    .option('--after <id>', 'start after this id (the "next" of the previous page)')
    .action(run<{ all?: boolean; limit?: number; after?: string }>(async ({ api, opts, output }, [groupId]) => {
      const page = await api.grants.list(groupId!, { limit: opts.limit, after: opts.after, includeVoided: opts.all === true ? true : undefined });
      output(page, () => [
        formatTable(columns, page.items),
        '',
        `Balance: ${page.balance}${page.debt > 0 ? ` (debt ${page.debt})` : ''}`,
        ...(page.next === null ? [] : ['', `More: add --after ${page.next}`]),
      ].join('\n'));
    }, { limit: '--limit', after: '--after' }));

  clientCommand(grants, 'void', 'Void a grant: what is left of it is no longer spent')
    .argument('<group_id>', 'the group')
    .argument('<grant_id>', 'the grant')
    .action(run(async ({ api, show }, [groupId, grantId]) => show(await api.grants.void(groupId!, grantId!), columns)));
}
