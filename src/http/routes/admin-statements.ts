import { Type, type Static } from 'typebox';
import {
  firstSpan, parseDocument, Statements, type StatementDocument,
} from '../../billing/statements.js';
import type { Group, Plan } from '../../domain/types.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { toCsv, type CsvValue } from '../../csv-format.js';
import { CSV_CONTENT_TYPE, wantsCsv } from '../csv.js';
import { page, PageQuery } from '../../contract/common.js';
import { CsvText, Period, StatementFormat as Format, StatementSchema, StatementSummary } from '../../contract/statements.js';
import { errors } from '../answers.js';
import { pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

const CSV_HEADER = ['section', 'period', 'usage_type', 'app_id', 'tier', 'units', 'unit_price', 'amount', 'amount_decimal', 'currency'];

/**
 * One table: a row per line, tier, app, adjustment and the total, so a
 * spreadsheet can sum any of them. When the plan uses credits, a `credits`
 * column follows, and rows for them come last (no amount, so the money
 * columns still sum to the total): `credits_used` per usage type,
 * `credits_granted`, and `credits_balance` while the period is under way.
 */
function statementCsv(s: StatementDocument): string {
  const rows: CsvValue[][] = [];
  for (const line of s.lines) {
    rows.push(['line', s.period, line.usage_type, '', '', line.units, line.unit_price, line.amount, line.amount_decimal, s.currency]);
    for (const t of line.tiers) {
      rows.push(['tier', s.period, line.usage_type, '', `${t.first_unit}-${t.up_to ?? ''}`, t.units, t.unit_price, null, t.subtotal, s.currency]);
    }
  }
  for (const app of s.apps) rows.push(['app', s.period, app.usage_type, app.app_id, '', app.units, null, null, null, null]);
  for (const adj of s.adjustments) rows.push(['adjustment', adj.period, adj.usage_type, '', '', adj.units, null, adj.amount, adj.amount_decimal, s.currency]);
  rows.push(['total', s.period, '', '', '', null, null, s.total, s.total_decimal, s.currency]);
  if (s.credits === undefined) return toCsv(CSV_HEADER, rows);
  const c = s.credits;
  const creditRows: CsvValue[][] = [
    ...c.by_usage_type.map((k): CsvValue[] => ['credits_used', s.period, k.usage_type, '', '', k.units, null, null, null, null, k.credits]),
    ['credits_granted', s.period, '', '', '', null, null, null, null, null, c.granted],
    ...(c.balance === null ? [] : [['credits_balance', s.period, '', '', '', null, null, null, null, null, c.balance]]),
  ];
  return toCsv([...CSV_HEADER, 'credits'], [...rows.map((r) => [...r, null]), ...creditRows]);
}

function summary(s: StatementDocument): Static<typeof StatementSummary> {
  return {
    period: s.period, period_start: s.period_start, period_end: s.period_end, status: s.status, preview: s.preview,
    closes_at: s.closes_at, closed_at: s.closed_at, currency: s.currency, total: s.total, total_decimal: s.total_decimal,
  };
}

/** The statements engine with the configured grace and late window. */
export function statementsOf(services: Services): Statements {
  const { config } = services;
  // Events may arrive up to the idempotency window late; a day more covers a spool replayed after an outage.
  return new Statements(services.store, { graceMs: config.statementGraceMs, lateWindowMs: (config.idempotencyWindowDays + 1) * 86_400_000 });
}

/**
 * The statement of one period: closed (stored, final) or open (a preview
 * computed now). Closes whatever is due first, so a closed period is never
 * previewed.
 */
export async function statementOf(statements: Statements, services: Services, group: Group, plan: Plan, period: string): Promise<StatementDocument> {
  const now = services.clock.now();
  const latest = await statements.closeDue(group, plan, now);
  const stored = await services.store.getStatement(group.id, period);
  if (stored !== null) return parseDocument(stored);
  const open = statements.openSpans(group, plan, latest, now);
  const span = open.find((s) => s.period === period);
  if (span !== undefined) return statements.preview(group, plan, span, latest, now);
  if (period > open[open.length - 1]!.period) throw new ApiError('not_found', `The billing period ${period} of group "${group.id}" has not begun.`);
  throw new ApiError('not_found', `Group "${group.id}" has no statement for ${period}: its statements begin with ${firstSpan(group, plan.timeZone).period}, the billing month it was created in.`);
}

/** Billing statements per group and period, in JSON or CSV. */
export function adminStatementRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;
  const statements = statementsOf(services);

  async function groupAndPlan(groupId: string): Promise<{ group: Group; plan: Plan }> {
    const group = await store.getGroup(groupId);
    if (group === null) throw new ApiError('not_found', `No group with id "${groupId}".`);
    return { group, plan: (await store.getPlan(group.planId))! };
  }

  app.get('/admin/groups/:group_id/statements', {
    schema: {
      operationId: 'listStatements', tags: ['admin'],
      summary: "A group's billing periods with their status and totals (open periods first, then closed ones, newest first); with `period`, that period's statement",
      params: Type.Object({ group_id: Type.String() }),
      querystring: Type.Object({ ...PageQuery.properties, period: Type.Optional(Period('A billing month, YYYY-MM: answer its statement.')), format: Format }),
      response: {
        200: {
          description: "A page of the group's billing periods with their totals, or with `period` that period's statement; as JSON or CSV.",
          content: { 'application/json': { schema: Type.Union([page(StatementSummary), StatementSchema]) }, 'text/csv': { schema: CsvText } },
        },
        ...errors(400, 401, 404, 503),
      },
    },
  }, async (request, reply) => {
    const { group, plan } = await groupAndPlan(request.params.group_id);
    const csv = wantsCsv(request.query.format, request.headers.accept);
    if (request.query.period !== undefined) {
      const statement = await statementOf(statements, services, group, plan, request.query.period);
      return csv ? reply.type(CSV_CONTENT_TYPE).send(statementCsv(statement)) : statement;
    }
    const now = clock.now();
    const latest = await statements.closeDue(group, plan, now);
    const closed = await store.listStatements(group.id, pageRequest(request.query));
    const open = request.query.after === undefined
      ? await Promise.all(statements.openSpans(group, plan, latest, now).reverse().map((span) => statements.preview(group, plan, span, latest, now)))
      : [];
    const items = [...open.map(summary), ...closed.items.map((s) => summary(parseDocument(s)))];
    if (!csv) return { items, next: closed.next };
    return reply.type(CSV_CONTENT_TYPE).send(toCsv(
      ['period', 'period_start', 'period_end', 'status', 'closed_at', 'currency', 'total', 'total_decimal'],
      items.map((s) => [s.period, s.period_start, s.period_end, s.status, s.closed_at, s.currency, s.total, s.total_decimal]),
    ));
  });

  app.get('/admin/groups/:group_id/statements/:period', {
    schema: {
      operationId: 'getStatement', tags: ['admin'],
      summary: "A group's statement for one billing period: units, prices, amounts and total (a preview while the period is open)",
      params: Type.Object({ group_id: Type.String(), period: Period('The billing month, YYYY-MM.') }),
      querystring: Type.Object({ format: Format }),
      response: {
        200: {
          description: 'The statement of the period: final once closed, a preview while open; as JSON or CSV (a row per line, tier, app, adjustment and the total).',
          content: { 'application/json': { schema: StatementSchema }, 'text/csv': { schema: CsvText } },
        },
        ...errors(400, 401, 404, 503),
      },
    },
  }, async (request, reply) => {
    const { group, plan } = await groupAndPlan(request.params.group_id);
    const statement = await statementOf(statements, services, group, plan, request.params.period);
    return wantsCsv(request.query.format, request.headers.accept) ? reply.type(CSV_CONTENT_TYPE).send(statementCsv(statement)) : statement;
  });
}

/** The customer's charges so far in the current period, for `GET /v1/usage`. */
export async function currentCharges(statements: Statements, services: Services, group: Group, plan: Plan) {
  const now = services.clock.now();
  const latest = await statements.closeDue(group, plan, now);
  const open = statements.openSpans(group, plan, latest, now);
  const statement = await statements.preview(group, plan, open[open.length - 1]!, latest, now);
  return { period: statement.period, currency: statement.currency, amount: statement.total, amount_decimal: statement.total_decimal };
}
