import { type Command, Option } from 'commander';
import type { Timespan, UsageDimension } from '../../client/types.js';
import { TIMESPANS } from '../../domain/periods.js';
import { USAGE_DIMENSIONS } from '../../domain/types.js';
import { clientCommand, run } from './common.js';
import { formatTable } from './table.js';

interface UsageOptions {
  from?: string;
  to?: string;
  groupBy?: UsageDimension;
  timespan?: Timespan;
  tz?: string;
}

/** The record's field of each dimension. */
const CAMEL_DIMENSION = { usage_type: 'usageType', request_args_hash: 'requestArgsHash', app_id: 'appId' } as const;

/** `tollgate usage <group_id>`: a group's usage over time, as GET /v3/ocr-usage reports it. */
export function registerUsageCommand(program: Command): void {
  clientCommand(program, 'usage <group_id>', "Show a group's usage over time (the /v3/ocr-usage records)")
    .option('--from <iso>', 'start, included (default: start of the current billing month)')
    .option('--to <iso>', 'end, excluded (default: now)')
    .addOption(new Option('--group-by <dimension>', 'what each record counts (default usage_type)').choices(USAGE_DIMENSIONS))
    .addOption(new Option('--timespan <span>', 'length of each period (default month)').choices(TIMESPANS))
    .option('--tz <zone>', "IANA zone that aligns the periods (default: the plan's)")
    .action(run<UsageOptions>(async ({ api, opts, output }, [groupId]) => {
      const records = await api.groups.usage(groupId!, { from: opts.from, to: opts.to, groupBy: opts.groupBy, timespan: opts.timespan, tz: opts.tz });
      const dimension = opts.groupBy ?? 'usage_type';
      output({ ocrUsage: records }, () => formatTable([
        { header: 'FROM', value: 'fromDate' },
        { header: dimension.replace(/_/g, ' ').toUpperCase(), value: (r) => r[CAMEL_DIMENSION[dimension]] },
        { header: 'COUNT', value: 'count' },
      ], records));
    }, { from_date: '--from', to_date: '--to', group_by: '--group-by', timespan: '--timespan', tz: '--tz' }));
}
