/**
 * The README's walkthrough ("Five minutes with curl") as an integrator
 * writes it with a client generated from /openapi.json: types by
 * openapi-typescript, calls by openapi-fetch.
 *
 * Not part of the build: `./tollgate-api.js` is generated afresh from a
 * running server's document by test/api/openapi-client.test.ts, which
 * typechecks this file against it (strict) and then runs it. To work on it,
 * generate the types beside it:
 *   npx openapi-typescript http://127.0.0.1:8080/openapi.json -o test/openapi-client/tollgate-api.d.ts
 */
import createClient, { type Client } from 'openapi-fetch';
import type { operations, paths } from './tollgate-api.js';

type Usage = operations['getUsage']['responses'][200]['content']['application/json'];
type OcrUsage = operations['getOcrUsage']['responses'][200]['content']['application/json'];

export interface Answers {
  planTimeZone: string;
  groupPlan: string;
  appGroup: string;
  key: { keyId: string; secret: string };
  check: { allowed: boolean; code: string; monthlyUsed: number | null; rateLimitPolicy: string | null; requestId: string | null };
  appCheck: { allowed: boolean; monthlyUsed: number | null };
  usage: Usage & { rateLimit: string | null };
  ocrUsage: OcrUsage;
}

/** What failed, from an answer openapi-fetch gives: the error body the document promises. */
function need<T>(what: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  return result.data;
}

/** The walkthrough against `baseUrl`: plan, group, app and key; two checks; the two usage queries. */
export async function walkthrough(baseUrl: string, adminToken: string): Promise<Answers> {
  const admin = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${adminToken}` } });

  const plan = need('createPlan', await admin.POST('/admin/plans', {
    body: { id: 'starter', monthly_quota: 1000, rate_limit_per_minute: 30, price_per_call: '0.01', time_zone: 'America/New_York' },
  }));
  const group = need('createGroup', await admin.POST('/admin/groups', { body: { id: 'acme', name: 'Acme Corp', plan_id: plan.id } }));
  const app = need('createApp', await admin.POST('/admin/groups/{group_id}/apps', {
    params: { path: { group_id: group.id } }, body: { id: 'acme-ocr', name: 'Acme OCR' },
  }));
  const key = need('createKey', await admin.POST('/admin/apps/{app_id}/keys', { params: { path: { app_id: app.app_id } }, body: { name: 'production' } }));

  const checked = await admin.POST('/v1/check', { body: { key: key.key, usage_type: 'image', request_args: { formats: ['text'] } } });
  const check = need('check', checked);
  const appCheck = need('check', await admin.POST('/v1/check', {
    body: { app_id: app.app_id, app_key: key.key, usage_type: 'image-async', cost: 5, idempotency_key: 'job-7f3a' },
  }));

  const customer = createClient<paths>({ baseUrl });
  const current = await customer.GET('/v1/usage', { headers: { 'x-api-key': key.key } });
  const usage = need('getUsage', current);
  // From the first of last month to the first of next month, in UTC: the current billing month, whatever the day.
  const now = new Date();
  const month = (offset: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset)).toISOString();
  const ocrUsage = need('getOcrUsage', await customer.GET('/v3/ocr-usage', {
    params: { query: { from_date: month(-1), to_date: month(1), group_by: 'usage_type', timespan: 'month' } },
    headers: { app_id: app.app_id, app_key: key.key },
  }));
  // The document says the answer is JSON or CSV (format=csv, or Accept: text/csv): this one asked for neither.
  if (typeof ocrUsage === 'string') throw new Error(`getOcrUsage answered CSV: ${ocrUsage}`);

  return {
    planTimeZone: plan.time_zone,
    groupPlan: group.plan_id,
    appGroup: app.group_id,
    key: { keyId: key.key_id, secret: key.key },
    check: {
      allowed: check.allowed, code: check.code, monthlyUsed: check.monthly_used,
      rateLimitPolicy: checked.response.headers.get('ratelimit-policy'), requestId: checked.response.headers.get('x-request-id'),
    },
    appCheck: { allowed: appCheck.allowed, monthlyUsed: appCheck.monthly_used },
    usage: { ...usage, rateLimit: current.response.headers.get('ratelimit') },
    ocrUsage,
  };
}

/**
 * Never called: what the document forbids, the generated types forbid. Each
 * line fails the typecheck without its directive, and a directive with no
 * error under it fails it too, so loose types (`any`) would be caught.
 */
export function typesAreStrict(client: Client<paths>): void {
  // @ts-expect-error monthly_quota is an integer
  void client.POST('/admin/plans', { body: { id: 'x', monthly_quota: 'lots', rate_limit_per_minute: 1 } });
  // @ts-expect-error group_by is usage_type, request_args_hash or app_id
  void client.GET('/v3/ocr-usage', { params: { query: { group_by: 'colour' } } });
  // @ts-expect-error the check needs a usage_type
  void client.POST('/v1/check', { body: { key: 'tg_x' } });
  // @ts-expect-error no such path
  void client.GET('/v2/usage');
}
