import type { Command } from 'commander';
import type { App } from '../../client/admin-types.js';
import { changes, clientCommand, type FieldOptions, itemCommand, listCommand, parseLimit, parseLimitOrNone, run } from './common.js';
import { type Column, formatLimit } from './table.js';

interface AppOptions {
  name?: string;
  monthlyQuota?: number | 'none';
  rateLimit?: number | 'none';
}

const columns: Column<App>[] = [
  { header: 'APP ID', value: 'appId' },
  { header: 'GROUP', value: 'groupId' },
  { header: 'NAME', value: 'name' },
  { header: 'MONTHLY QUOTA', value: (a) => formatLimit(a.monthlyQuota) },
  { header: 'RATE LIMIT/MIN', value: (a) => formatLimit(a.rateLimitPerMinute) },
  { header: 'CREATED', value: 'createdAt' },
  { header: 'UPDATED', value: 'updatedAt' },
];

/** "none" is sent as null, which removes the app's own limit. */
const noneAsNull = (limit: number | 'none' | undefined) => (limit === 'none' ? null : limit);

/** The option behind each field of appBody. */
const APP_FIELDS: FieldOptions = { name: '--name', monthly_quota: '--monthly-quota', rate_limit_per_minute: '--rate-limit' };

function appBody(opts: AppOptions) {
  return { name: opts.name, monthlyQuota: noneAsNull(opts.monthlyQuota), rateLimitPerMinute: noneAsNull(opts.rateLimit) };
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
      show(await api.apps.create(groupId!, { id: opts.id, ...appBody(opts) }), columns);
    }, { id: '--id', ...APP_FIELDS }));
  listCommand<App, { group?: string }>(apps, "List apps: all, or one group's", columns,
    (api, opts, page) => api.apps.list({ ...page, groupId: opts.group }))
    .option('--group <group_id>', "only this group's apps");
  itemCommand(apps, 'show <app_id>', 'Show an app', (api, id) => api.apps.get(id), columns);
  clientCommand(apps, 'update <app_id>', "Rename an app or change its own limits")
    .option('--name <name>', 'new name')
    .option('--monthly-quota <n|none>', 'own monthly quota; -1: unlimited; none: remove it', parseLimitOrNone)
    .option('--rate-limit <n|none>', 'own per-minute limit; -1: unlimited; none: remove it', parseLimitOrNone)
    .action(run<AppOptions>(async ({ api, opts, show, command }, [appId]) => {
      show(await api.apps.update(appId!, changes(command, appBody(opts))), columns);
    }, APP_FIELDS));
}
