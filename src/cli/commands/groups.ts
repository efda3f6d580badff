import type { Command } from 'commander';
import type { Group } from '../../client/admin-types.js';
import { changes, clientCommand, type FieldOptions, itemCommand, listCommand, run } from './common.js';
import type { Column } from './table.js';

const columns: Column<Group>[] = [
  { header: 'ID', value: 'id' },
  { header: 'NAME', value: 'name' },
  { header: 'PLAN', value: 'planId' },
  { header: 'CREATED', value: 'createdAt' },
  { header: 'UPDATED', value: 'updatedAt' },
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
      show(await api.groups.create({ id: opts.id, name: opts.name, planId: opts.plan }), columns);
    }, { id: '--id', ...GROUP_FIELDS }));
  listCommand(groups, 'List groups', columns, (api, _opts, page) => api.groups.list(page));
  itemCommand(groups, 'show <id>', 'Show a group', (api, id) => api.groups.get(id), columns);
  clientCommand(groups, 'update <id>', 'Rename a group or move it to another plan')
    .option('--name <name>', 'new name')
    .option('--plan <plan_id>', 'new plan')
    .action(run<{ name?: string; plan?: string }>(async ({ api, opts, show, command }, [id]) => {
      show(await api.groups.update(id!, changes(command, { name: opts.name, planId: opts.plan })), columns);
    }, GROUP_FIELDS));
}
