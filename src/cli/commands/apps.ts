import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { AppSchema } from '../../contract/customers.js';
import { apiPath } from './api-client.js';
import { changes, clientCommand, type FieldOptions, itemCommand, listCommand, parseLimit, parseLimitOrNone, run } from './common.js';
import { type Column, formatLimit } from './table.js';

type App = Static<typeof AppSchema>;

interface AppOptions {
  name?: string;
  monthlyQuota?: number | 'none';
  rateLimit?: number | 'none';
}

const columns: Column<App>[] = [
  { header: 'APP ID', value: 'app_id' },
  { header: 'GROUP', value: 'group_id' },
  { header: 'NAME', value: 'name' },
  { header: 'MONTHLY QUOTA', value: (a) => formatLimit(a.monthly_quota) },
  { header: 'RATE LIMIT/MIN', value: (a) => formatLimit(a.rate_limit_per_minute) },
  { header: 'CREATED', value: 'created_at' },
  { header: 'UPDATED', value: 'updated_at' },
];

/** "none" is sent as null, which removes the app's own limit. */
const noneAsNull = (limit: number | 'none' | undefined) => (limit === 'none' ? null : limit);

/** The option behind each field of appBody. */
const APP_FIELDS: FieldOptions = { name: '--name', monthly_quota: '--monthly-quota', rate_limit_per_minute: '--rate-limit' };

function appBody(opts: AppOptions) {
  return { name: opts.name, monthly_quota: noneAsNull(opts.monthlyQuota), rate_limit_per_minute: noneAsNull(opts.rateLimit) };
}

/** `tollgate apps create|list|show|update`: a group's applications, which hold keys and may have their own limits. */
export function registerAppCommands(program: Command): void {
  const apps = program.command('apps').description("Apps: a group's applications; each holds keys and may have its own limits");

  clientCommand(apps, 'create <group_id>', 'Create an app in a group')
    .option('--id <id>', 'app id (generated when absent)')
    .option('--name <name>', 'name (default: the id)')
    .option('--monthly-quota <n>', "the app's own monthly quota, on top of its group's plan; -1: unlimited", parseLimit)
    .option('--rate-limit <n>', "the app's own per-minute limit, on top of its group's plan; -1: unlimited", parseLimit)
    .action(run<AppOptions & { id?: string }>(async ({ api, opts, show }, [groupId]) => {
      show(await api.post<App>(apiPath`/admin/groups/${groupId!}/apps`, { id: opts.id, ...appBody(opts) }), columns);
    }, { id: '--id', ...APP_FIELDS }));
  listCommand<App, { group?: string }>(apps, "List apps: all, or one group's", columns,
    (opts) => (opts.group === undefined ? '/admin/apps' : apiPath`/admin/groups/${opts.group}/apps`))
    .option('--group <group_id>', "only this group's apps");
  itemCommand(apps, 'show <app_id>', 'Show an app', 'GET', (id) => apiPath`/admin/apps/${id}`, columns);
  clientCommand(apps, 'update <app_id>', "Rename an app or change its own limits")
    .option('--name <name>', 'new name')
    .option('--monthly-quota <n|none>', 'own monthly quota; -1: unlimited; none: remove it', parseLimitOrNone)
    .option('--rate-limit <n|none>', 'own per-minute limit; -1: unlimited; none: remove it', parseLimitOrNone)
    .action(run<AppOptions>(async ({ api, opts, show, command }, [appId]) => {
      show(await api.patch<App>(apiPath`/admin/apps/${appId!}`, changes(command, appBody(opts))), columns);
    }, APP_FIELDS));
}
