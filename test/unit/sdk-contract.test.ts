import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Static, TSchema } from 'typebox';
import * as alerts from '../../src/contract/alerts.js';
import * as check from '../../src/contract/check.js';
import * as common from '../../src/contract/common.js';
import * as customers from '../../src/contract/customers.js';
import * as dashboard from '../../src/contract/dashboard.js';
import * as events from '../../src/contract/events.js';
import * as keys from '../../src/contract/keys.js';
import * as plans from '../../src/contract/plans.js';
import * as statements from '../../src/contract/statements.js';
import * as usage from '../../src/contract/usage.js';
import type { AdminApi } from '../../src/client/admin.js';
import type { EmbeddedTollgate } from '../../src/client/embedded.js';
import type { EventsApi } from '../../src/client/events.js';
import type { CurrentUsage, Plan, RateLimitHeaders, Tollgate, UsageApi } from '../../src/client/index.js';
import { fromWire, toWire, type Camel } from '../../src/client/wire.js';

/*
 * The SDK's types against what the server sends. The checks below are types:
 * tsc compiles this file with the build, so an SDK method whose answer lacks
 * a field of the route's response schema (or has one more, or another
 * optionality) fails the build. Identity, not assignability: a missing
 * optional field fails too.
 */

/** True when A and B are the same type (not merely assignable either way). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
/** Compiles only when given `true`. */
const same = <T extends true>(): T | undefined => undefined;

/** What an SDK method resolves to. */
type Answer<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;
/** A response schema as the SDK shows it: camelCase, values as sent. */
type Sdk<S extends TSchema> = Camel<Static<S>>;
type SdkPage<S extends TSchema> = Sdk<ReturnType<typeof common.page<S>>>;

// POST /v1/check, over HTTP and embedded: the answer, with its rate-limit headers.
same<Equals<Answer<Tollgate['check']>, Sdk<typeof check.CheckAnswerSchema> & { headers: RateLimitHeaders }>>();
same<Equals<Answer<EmbeddedTollgate['check']>, Sdk<typeof check.CheckAnswerSchema> & { headers: RateLimitHeaders }>>();
// The usage APIs and event ingest.
same<Equals<Answer<UsageApi['current']>, Sdk<typeof usage.CurrentUsageAnswer>>>();
same<Equals<Answer<UsageApi['query']>, Sdk<typeof usage.OcrUsageAnswer>['ocrUsage']>>();
same<Equals<Answer<AdminApi['groups']['usage']>, Sdk<typeof usage.OcrUsageAnswer>['ocrUsage']>>();
same<Equals<Answer<EventsApi['send']>, Sdk<typeof events.IngestAnswer>>>();
// The admin API.
type Admin = AdminApi;
same<Equals<Answer<Admin['plans']['create']>, Sdk<typeof plans.PlanSchema>>>();
same<Equals<Answer<Admin['plans']['get']>, Sdk<typeof plans.PlanSchema>>>();
same<Equals<Answer<Admin['plans']['update']>, Sdk<typeof plans.PlanSchema>>>();
same<Equals<Answer<Admin['plans']['list']>, SdkPage<typeof plans.PlanSchema>>>();
same<Equals<Answer<Admin['groups']['create']>, Sdk<typeof customers.GroupSchema>>>();
same<Equals<Answer<Admin['groups']['get']>, Sdk<typeof customers.GroupSchema>>>();
same<Equals<Answer<Admin['groups']['update']>, Sdk<typeof customers.GroupSchema>>>();
same<Equals<Answer<Admin['groups']['list']>, SdkPage<typeof customers.GroupSchema>>>();
same<Equals<Answer<Admin['apps']['create']>, Sdk<typeof customers.AppSchema>>>();
same<Equals<Answer<Admin['apps']['get']>, Sdk<typeof customers.AppSchema>>>();
same<Equals<Answer<Admin['apps']['update']>, Sdk<typeof customers.AppSchema>>>();
same<Equals<Answer<Admin['apps']['list']>, SdkPage<typeof customers.AppSchema>>>();
same<Equals<Answer<Admin['keys']['create']>, Sdk<typeof keys.CreatedKeySchema>>>();
same<Equals<Answer<Admin['keys']['get']>, Sdk<typeof keys.KeySchema>>>();
same<Equals<Answer<Admin['keys']['revoke']>, Sdk<typeof keys.KeySchema>>>();
same<Equals<Answer<Admin['keys']['list']>, SdkPage<typeof keys.KeySchema>>>();
same<Equals<Answer<Admin['serviceTokens']['create']>, Sdk<typeof keys.CreatedServiceTokenSchema>>>();
same<Equals<Answer<Admin['serviceTokens']['revoke']>, Sdk<typeof keys.ServiceTokenSchema>>>();
same<Equals<Answer<Admin['serviceTokens']['list']>, SdkPage<typeof keys.ServiceTokenSchema>>>();
same<Equals<Answer<Admin['statements']['get']>, Sdk<typeof statements.StatementSchema>>>();
same<Equals<Answer<Admin['statements']['list']>, SdkPage<typeof statements.StatementSummary>>>();

// The check is strict: a type without one field the server sends, even an optional one, is not the answer.
// @ts-expect-error the SDK's Plan once lacked `prices`
same<Equals<Omit<Plan, 'prices'>, Sdk<typeof plans.PlanSchema>>>();
// @ts-expect-error `currentCharges` is optional, and still part of the answer
same<Equals<Omit<CurrentUsage, 'currentCharges'>, Sdk<typeof usage.CurrentUsageAnswer>>>();
// @ts-expect-error an optional field made required is another type
same<Equals<Required<CurrentUsage>, Sdk<typeof usage.CurrentUsageAnswer>>>();

/** Every property name anywhere in the contract's schemas (objects, arrays, unions, intersections). */
function propertyNames(schema: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) {
    for (const item of schema) propertyNames(item, into);
  } else if (schema !== null && typeof schema === 'object') {
    const { properties } = schema as { properties?: Record<string, unknown> };
    for (const name of Object.keys(properties ?? {})) into.add(name);
    for (const [key, value] of Object.entries(schema)) if (key !== 'examples') propertyNames(value, into);
  }
  return into;
}

test('the naming rule is one-to-one on every field of the contract: camelCase and back gives the wire name', () => {
  const names = propertyNames([alerts, check, common, customers, dashboard, events, keys, plans, statements, usage]
    .flatMap((module) => Object.values(module).map((value) => (typeof value === 'function' ? value('') : value))));
  assert.ok(names.size > 100, `found ${names.size} names`);
  for (const name of names) {
    assert.match(name, /^[a-z][a-z0-9]*(_[a-z][a-z0-9]*)*$/, `${name}: a wire name is lower snake_case`);
    const sdk = Object.keys(fromWire({ [name]: null }))[0]!;
    assert.deepEqual(toWire({ [sdk]: null }), { [name]: null }, `${name} → ${sdk} → back`);
  }
});

test("user data passes verbatim both ways: request_args and data keep the user's keys", () => {
  const args = { page_count: 2, nestedArgs: { a_b: [{ c_d: 1 }] } };
  assert.deepEqual(toWire({ usageType: 'pdf', requestArgs: args }), { usage_type: 'pdf', request_args: args });
  assert.deepEqual(fromWire({ event: { group_id: 'g', data: { monthly_used: 5 } } }), { event: { groupId: 'g', data: { monthly_used: 5 } } });
  assert.deepEqual(toWire({ prices: [{ usageType: 'pdf', tiers: [{ upTo: null, unitPrice: '0.1' }] }], at: new Date(0), gone: undefined }),
    { prices: [{ usage_type: 'pdf', tiers: [{ up_to: null, unit_price: '0.1' }] }], at: '1970-01-01T00:00:00.000Z' });
});
