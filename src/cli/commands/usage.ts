import { type Command, Option } from 'commander';
import { TIMESPANS } from '../../domain/periods.js';
import { USAGE_DIMENSIONS, type UsageDimension } from '../../domain/types.js';
import type { UsageRecord } from '../../usage/usage-query.js';
import { apiPath } from './api-client.js';
import { clientCommand, run } from './common.js';
import { formatTable } from './table.js';

interface UsageOptions {
  from?: string;
  to?: string;
  groupBy?: UsageDimension;
  timespan?: string;
  tz?: string;
}

/** `tollgate usage <group_id>`: a group's usage over time, as GET /v3/ocr-usage reports it. */
export function registerUsageCommand(program: Command): void {
  clientCommand(program, 'usage <group_id>', "Show a group's usage over time (the /v3/ocr-usage records)")
    .option('--from <iso>', 'start, included (default: start of the current billing month)')
    .option('--to <iso>', 'end, excluded (default: now)')
    .addOption(new Option('--group-by <dimension>', 'what each record counts (default usage_type)').choices(USAGE_DIMENSIONS))
    .addOption(new Option('--timespan <span>', 'length of each period (default month)').choices(TIMESPANS))
    .option('--tz <zone>', "IANA zone that aligns the periods (default: the plan's)")
    .action(run<UsageOptions>(async ({ api, opts, output }, [groupId]) => {
      const answer = await api.get<{ ocr_usage: UsageRecord[] }>(apiPath`/admin/groups/${groupId!}/usage`, {
        from_date: opts.from, to_date: opts.to, group_by: opts.groupBy, timespan: opts.timespan, tz: opts.tz,
      });
      const dimension = opts.groupBy ?? 'usage_type';
      output(answer, () => formatTable([
        { header: 'FROM', value: 'from_date' },
        { header: dimension.replace(/_/g, ' ').toUpperCase(), value: dimension },
        { header: 'COUNT', value: 'count' },
      ], answer.ocr_usage));
    }, { from_date: '--from', to_date: '--to', group_by: '--group-by', timespan: '--timespan', tz: '--tz' }));
}
