import { Type, type TSchema } from 'typebox';
import { AlertSettingsSchema, WebhookDeliverySchema, WebhookEndpointSchema } from '../contract/alerts.js';
import { ErrorSchema } from '../contract/common.js';
import { CreditGrantSchema } from '../contract/credits.js';
import { AppSchema, GroupSchema } from '../contract/customers.js';
import { KeySchema, ServiceTokenSchema } from '../contract/keys.js';
import { PlanSchema } from '../contract/plans.js';
import { ERROR_CATALOGUE } from '../errors.js';
import { withHeaders, type ResponseHeader } from './openapi.js';

/**
 * The routes' answers as the document shows them: the contract's schemas
 * (src/contract/) described, with their headers and their error answers.
 */

/** The schemas with an `$id`, registered once and referenced by name (`Type.Ref('Plan')`). */
export const SHARED_SCHEMAS = [
  ErrorSchema, PlanSchema, GroupSchema, AppSchema, KeySchema, ServiceTokenSchema, AlertSettingsSchema, WebhookEndpointSchema, WebhookDeliverySchema,
  CreditGrantSchema,
];

/**
 * A route's error answers, each the Error shape (`Type.Ref` keeps the
 * document small) described by the codes it can carry; 500 is added to
 * every route, since any of them can fail. Every 429 says when to retry.
 */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries([...new Set([...statuses, 500])].sort((a, b) => a - b)
    .map((s) => [s, withHeaders(Type.Ref('Error', { description: describeStatus(s) }), s === 429 ? ['Retry-After'] : [])]));
}

/**
 * A success answer as the document shows it: the schema, what the answer is,
 * and the headers it carries besides X-Request-Id (which every answer has).
 */
export function answer<T extends object>(description: string, schema: T, headers: ResponseHeader[] = []): T {
  // A copy that keeps TypeBox's hidden marks (a spread would drop them), so that it is still a TypeBox schema.
  const described = Object.defineProperties({}, Object.getOwnPropertyDescriptors(schema)) as T & { description: string };
  described.description = description;
  return withHeaders(described, headers);
}

function describeStatus(status: number): string {
  return Object.entries(ERROR_CATALOGUE)
    .filter(([, entry]) => entry.status === status)
    .map(([code, entry]) => `\`${code}\`: ${entry.message}`)
    .join(' Or ');
}
