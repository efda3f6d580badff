import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { GroupSchema } from '../../contract/customers.js';
import { apiPath } from './api-client.js';
import { changes, clientCommand, type FieldOptions, itemCommand, listCommand, run } from './common.js';
import type { Column } from './table.js';

type Group = Static<typeof GroupSchema>;

const columns: Column<Group>[] = [
  { header: 'ID', value: 'id' },
  { header: 'NAME', value: 'name' },
  { header: 'PLAN', value: 'plan_id' },
  { header: 'CREATED', value: 'created_at' },
  { header: 'UPDATED', value: 'updated_at' },
];

/** The option behind each field a group command sends. */
const GROUP_FIELDS: FieldOptions = { name: '--name', plan_id: '--plan' };

/** `tollgate groups create|list|show|update`: the provider's customers, each on one plan. */
export function registerGroupCommands(program: Command): void {
  const groups = program.command('groups').description("Groups: the provider's customers, each on one plan");

  clientCommand(groups, 'create', 'Create a group')
    .requiredOption('--name <name>', "the customer's name")
    .requiredOption('--plan <plan_id>', 'the plan the group is on')
    .option('--id <id>', 'group id (generated when absent)')
    .action(run<{ name: string; plan: string; id?: string }>(async ({ api, opts, show }) => {
      show(await api.post<Group>('/admin/groups', { id: opts.id, name: opts.name, plan_id: opts.plan }), columns);
    }, { id: '--id', ...GROUP_FIELDS }));
  listCommand(groups, 'List groups', columns, () => '/admin/groups');
  itemCommand(groups, 'show <id>', 'Show a group', 'GET', (id) => apiPath`/admin/groups/${id}`, columns);
  clientCommand(groups, 'update <id>', 'Rename a group or move it to another plan')
    .option('--name <name>', 'new name')
    .option('--plan <plan_id>', 'new plan')
    .action(run<{ name?: string; plan?: string }>(async ({ api, opts, show, command }, [id]) => {
      show(await api.patch<Group>(apiPath`/admin/groups/${id!}`, changes(command, { name: opts.name, plan_id: opts.plan })), columns);
    }, GROUP_FIELDS));
}
