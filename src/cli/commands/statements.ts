import { type Command, InvalidArgumentError, Option } from 'commander';
import type { StatementDocument } from '../../billing/statements.js';
import { apiPath, type Page } from './api-client.js';
import { clientCommand, println, run } from './common.js';
import { formatTable } from './table.js';

interface StatementOptions {
  period?: string;
  format?: 'table' | 'json' | 'csv';
}

type Summary = Pick<StatementDocument, 'period' | 'period_start' | 'period_end' | 'status' | 'closed_at' | 'currency' | 'total_decimal'>;

function parsePeriod(value: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new InvalidArgumentError('Expected a billing month written YYYY-MM, e.g. 2026-10.');
  return value;
}

/** A statement as text: its lines with their tiers, the units per app, the adjustments, the total. */
function statementText(s: StatementDocument): string {
  const state = s.status === 'closed' ? `closed ${s.closed_at}` : `open, a preview; closes ${s.closes_at}`;
  const lineRows = s.lines.flatMap((line) => [
    { what: line.usage_type, units: line.units, price: line.unit_price ?? line.pricing, amount: line.amount_decimal },
    ...line.tiers.map((t) => ({ what: `  units ${t.first_unit}-${t.up_to ?? ''}`, units: t.units, price: t.unit_price, amount: `(${t.subtotal})` })),
  ]);
  const parts = [
    `Statement of ${s.group_id} for ${s.period} (${state})`,
    `${s.period_start} to ${s.period_end}, prices of plan ${s.pricing.plan_id}, in ${s.currency}`,
    '',
    formatTable([
      { header: 'USAGE TYPE', value: 'what' }, { header: 'UNITS', value: 'units' }, { header: 'UNIT PRICE', value: 'price' }, { header: 'AMOUNT', value: 'amount' },
    ], lineRows),
  ];
  if (s.adjustments.length > 0) {
    parts.push('', 'Adjustments: usage that reached closed periods late', formatTable([
      { header: 'PERIOD', value: 'period' }, { header: 'USAGE TYPE', value: 'usage_type' }, { header: 'UNITS', value: 'units' }, { header: 'AMOUNT', value: 'amount_decimal' },
    ], s.adjustments));
  }
  parts.push('', `TOTAL ${s.total_decimal} ${s.currency}`, '', 'Units per app', formatTable([
    { header: 'APP ID', value: 'app_id' }, { header: 'UNITS', value: 'units' }, { header: 'USAGE TYPE', value: (a) => a.usage_type || '(several)' },
  ], s.apps));
  return parts.join('\n');
}

/** `tollgate statements <group_id>`: a group's billing periods, or one period's statement. */
export function registerStatementsCommand(program: Command): void {
  clientCommand(program, 'statements <group_id>', "Show a group's billing statements: the periods with their totals, or one period's statement")
    .option('--period <YYYY-MM>', 'show the statement of this billing month', parsePeriod)
    .addOption(new Option('--format <format>', 'table (default), json, or csv').choices(['table', 'json', 'csv']))
    .action(run<StatementOptions>(async ({ api, opts }, [groupId]) => {
      const path = opts.period === undefined ? apiPath`/admin/groups/${groupId!}/statements` : apiPath`/admin/groups/${groupId!}/statements/${opts.period}`;
      const format = opts.format ?? (opts.json === true ? 'json' : 'table');
      if (format === 'csv') {
        process.stdout.write(await api.getText(path, { format: 'csv' }));
        return;
      }
      const answer = await api.get<StatementDocument | Page<Summary>>(path, opts.period === undefined ? { limit: 1000 } : {});
      if (format === 'json') return println(JSON.stringify(answer, null, 2));
      if (opts.period !== undefined) return println(statementText(answer as StatementDocument));
      println(formatTable<Summary>([
        { header: 'PERIOD', value: 'period' }, { header: 'STATUS', value: 'status' }, { header: 'FROM', value: 'period_start' },
        { header: 'TO', value: 'period_end' }, { header: 'CLOSED', value: 'closed_at' }, { header: 'TOTAL', value: (s) => `${s.total_decimal} ${s.currency}` },
      ], (answer as Page<Summary>).items));
    }));
}
