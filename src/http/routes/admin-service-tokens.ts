import { Type } from 'typebox';
import { hashSecret, newId, newSecret } from '../../domain/secrets.js';
import type { Services } from '../../services.js';
import { page, PageQuery } from '../../contract/common.js';
import { CreatedServiceTokenSchema, NewServiceTokenBody } from '../../contract/keys.js';
import { answer, errors } from '../answers.js';
import { pageRequest, serviceTokenJson } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';
import { secretHint } from '../../metering/keys.js';

const TOKEN_PREFIX = 'tgs_';

/** Service tokens: let a provider's backend call the check API without the admin token. */
export function adminServiceTokenRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.post('/admin/service-tokens', {
    schema: {
      operationId: 'createServiceToken', tags: ['admin'], summary: 'Create a service token for the check API (the secret is in this answer only)',
      body: Type.Optional(NewServiceTokenBody),
      response: {
        201: answer('The service token, created, with its secret.', CreatedServiceTokenSchema),
        ...errors(400, 401, 413, 415),
      },
    },
  }, async (request, reply) => {
    const secret = newSecret(TOKEN_PREFIX);
    const token = await store.createServiceToken({
      id: newId('svc'), name: request.body?.name ?? '', hint: secretHint(secret, TOKEN_PREFIX),
      secretHash: hashSecret(secret), createdAt: clock.now(),
    });
    return reply.code(201).send({ ...serviceTokenJson(token), token: secret });
  });

  app.get('/admin/service-tokens', {
    schema: {
      operationId: 'listServiceTokens', tags: ['admin'], summary: 'List service tokens', querystring: PageQuery,
      response: { 200: answer('A page of service tokens, by id (never their secrets).', page(Type.Ref('ServiceToken'))), ...errors(400, 401) },
    },
  }, async (request) => {
    const result = await store.listServiceTokens(pageRequest(request.query));
    return { items: result.items.map(serviceTokenJson), next: result.next };
  });

  app.delete('/admin/service-tokens/:token_id', {
    schema: {
      operationId: 'revokeServiceToken', tags: ['admin'], summary: 'Revoke a service token', params: Type.Object({ token_id: Type.String() }),
      response: { 200: answer('The service token, revoked: refused from now on.', Type.Ref('ServiceToken')), ...errors(401, 404) },
    },
  }, async (request) => serviceTokenJson(await store.revokeServiceToken(request.params.token_id, clock.now())));
}
