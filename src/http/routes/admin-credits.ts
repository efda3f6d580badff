import { Type, type Static } from 'typebox';
import { balanceOf, remainingOf, type CreditGrant } from '../../domain/credits.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { CreditGrantSchema, GrantListQuery, GrantListSchema, NewGrantBody } from '../../contract/credits.js';
import { answer, errors } from '../answers.js';
import { pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

const GroupParams = Type.Object({ group_id: Type.String() });
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** A grant as the API shows it, with its state at `now`. */
export function grantJson(g: CreditGrant, now: number): Static<typeof CreditGrantSchema> {
  const status = g.voidedAt !== null ? 'voided' : g.expiresAt !== null && g.expiresAt <= now ? 'expired' : remainingOf(g) === 0 ? 'exhausted' : 'active';
  return {
    id: g.id, group_id: g.groupId, amount: g.amount, used: g.used, remaining: remainingOf(g), priority: g.priority,
    expires_at: isoOrNull(g.expiresAt), note: g.note, idempotency_key: g.idempotencyKey, source: g.source,
    created_at: iso(g.createdAt), voided_at: isoOrNull(g.voidedAt), status,
  };
}

/** Prepaid credits: granting them to a group, listing its grants with its balance, voiding a grant. */
export function adminCreditRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.post('/admin/groups/:group_id/grants', {
    schema: {
      operationId: 'createGrant', tags: ['credits'], summary: 'Grant credits to a group', params: GroupParams, body: NewGrantBody,
      response: {
        200: answer('The grant made earlier under the same idempotency key (nothing was granted again).', Type.Ref('CreditGrant')),
        201: answer('The grant, made.', Type.Ref('CreditGrant')),
        ...errors(400, 401, 404, 409, 413, 415),
      },
    },
  }, async (request, reply) => {
    const now = clock.now();
    const { amount, expires_at, priority, note, idempotency_key } = request.body;
    const expiresAt = expires_at === undefined ? null : Date.parse(expires_at);
    if (expiresAt !== null && !(expiresAt > now)) throw new ApiError('invalid_request', 'body field "expires_at" must be in the future.');
    const { grant, created } = await store.credits.grant(request.params.group_id, {
      amount, expiresAt, priority: priority ?? 0, note: note ?? null, idempotencyKey: idempotency_key ?? null,
    }, now);
    return reply.code(created ? 201 : 200).send(grantJson(grant, now));
  });

  app.get('/admin/groups/:group_id/grants', {
    schema: {
      operationId: 'listGrants', tags: ['credits'], summary: "A group's credit grants, oldest first, with what is left of each and its balance",
      params: GroupParams, querystring: GrantListQuery,
      response: { 200: answer("A page of the group's grants (voided ones only when asked), and its balance and debt.", GrantListSchema), ...errors(400, 401, 404) },
    },
  }, async (request) => {
    const now = clock.now();
    const groupId = request.params.group_id;
    const page = await store.credits.listGrants(groupId, pageRequest(request.query), { includeVoided: request.query.include_voided === 'true' });
    const state = await store.credits.creditState(groupId);
    return { items: page.items.map((g) => grantJson(g, now)), next: page.next, balance: balanceOf(state.grants, state.debt, now), debt: state.debt };
  });

  app.post('/admin/groups/:group_id/grants/:grant_id/void', {
    schema: {
      operationId: 'voidGrant', tags: ['credits'], summary: 'Void a grant: what is left of it is no longer spent (voiding again changes nothing)',
      params: Type.Object({ group_id: Type.String(), grant_id: Type.String() }),
      response: { 200: answer('The grant, voided (`voided_at` set, the first time it was voided).', Type.Ref('CreditGrant')), ...errors(401, 404) },
    },
  }, async (request) => {
    const now = clock.now();
    return grantJson(await store.credits.voidGrant(request.params.group_id, request.params.grant_id, now), now);
  });
}
