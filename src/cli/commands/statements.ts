import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Statement, StatementSummary } from '../../client/admin-types.js';
import { clientCommand, println, run, wireJson } from './common.js';
import { formatTable } from './table.js';

interface StatementOptions {
  period?: string;
  format?: 'table' | 'json' | 'csv';
}

function parsePeriod(value: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new InvalidArgumentError('Expected a billing month written YYYY-MM, e.g. 2026-10.');
  return value;
}

/** A statement as text: its lines with their tiers, the units per app, the adjustments, the total. */
function statementText(s: Statement): string {
  const state = s.status === 'closed' ? `closed ${s.closedAt}` : `open, a preview; closes ${s.closesAt}`;
  const lineRows = s.lines.flatMap((line) => [
    { what: line.usageType, units: line.units, price: line.unitPrice ?? line.pricing, amount: line.amountDecimal },
    ...line.tiers.map((t) => ({ what: `  units ${t.firstUnit}-${t.upTo ?? ''}`, units: t.units, price: t.unitPrice, amount: `(${t.subtotal})` })),
  ]);
  const parts = [
    `Statement of ${s.groupId} for ${s.period} (${state})`,
    `${s.periodStart} to ${s.periodEnd}, prices of plan ${s.pricing.planId}, in ${s.currency}`,
    '',
    formatTable([
      { header: 'USAGE TYPE', value: 'what' }, { header: 'UNITS', value: 'units' }, { header: 'UNIT PRICE', value: 'price' }, { header: 'AMOUNT', value: 'amount' },
    ], lineRows),
  ];
  if (s.adjustments.length > 0) {
    parts.push('', 'Adjustments: usage that reached closed periods late', formatTable([
      { header: 'PERIOD', value: 'period' }, { header: 'USAGE TYPE', value: 'usageType' }, { header: 'UNITS', value: 'units' }, { header: 'AMOUNT', value: 'amountDecimal' },
    ], s.adjustments));
  }
  parts.push('', `TOTAL ${s.totalDecimal} ${s.currency}`, '', 'Units per app', formatTable([
    { header: 'APP ID', value: 'appId' }, { header: 'UNITS', value: 'units' }, { header: 'USAGE TYPE', value: (a) => a.usageType || '(several)' },
  ], s.apps));
  return parts.join('\n');
}

/** `tollgate statements <group_id>`: a group's billing periods, or one period's statement. */
export function registerStatementsCommand(program: Command): void {
  clientCommand(program, 'statements <group_id>', "Show a group's billing statements: the periods with their totals, or one period's statement")
    .option('--period <YYYY-MM>', 'show the statement of this billing month', parsePeriod)
    .addOption(new Option('--format <format>', 'table (default), json, or csv').choices(['table', 'json', 'csv']))
    .action(run<StatementOptions>(async ({ api, opts }, [groupId]) => {
      const format = opts.format ?? (opts.json === true ? 'json' : 'table');
      if (format === 'csv') {
        process.stdout.write(await api.statements.csv(groupId!, opts.period));
        return;
      }
      if (opts.period !== undefined) {
        const statement = await api.statements.get(groupId!, opts.period);
        return println(format === 'json' ? wireJson(statement) : statementText(statement));
      }
      const page = await api.statements.list(groupId!, { limit: 1000 });
      if (format === 'json') return println(wireJson(page));
      println(formatTable<StatementSummary>([
        { header: 'PERIOD', value: 'period' }, { header: 'STATUS', value: 'status' }, { header: 'FROM', value: 'periodStart' },
        { header: 'TO', value: 'periodEnd' }, { header: 'CLOSED', value: 'closedAt' }, { header: 'TOTAL', value: (s) => `${s.totalDecimal} ${s.currency}` },
      ], page.items));
    }));
}
