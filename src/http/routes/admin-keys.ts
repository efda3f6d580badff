import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import { issueKey } from '../../metering/keys.js';
import type { Services } from '../../services.js';
import { page, PageQuery } from '../../contract/common.js';
import { CreatedKeySchema, NewKeyBody } from '../../contract/keys.js';
import { answer, errors } from '../answers.js';
import { keyJson, pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

/** Keys: the secrets customers send. The secret is shown once, at creation; only its hash is kept. */
export function adminKeyRoutes(app: TypedApp, services: Services): void {
  const { store, clock, config } = services;

  app.post('/admin/apps/:app_id/keys', {
    schema: {
      operationId: 'createKey', tags: ['admin'], summary: 'Create a key (the secret is in this answer only)',
      params: Type.Object({ app_id: Type.String() }),
      body: Type.Optional(NewKeyBody),
      response: {
        201: answer('The key, created, with its secret.', CreatedKeySchema),
        ...errors(400, 401, 404, 413, 415),
      },
    },
  }, async (request, reply) => {
    const now = clock.now();
    const expiresAt = request.body?.expires_at === undefined ? null : Date.parse(request.body.expires_at);
    if (expiresAt !== null && expiresAt <= now) {
      throw new ApiError('invalid_request', 'body field "expires_at" must be in the future.');
    }
    const { key, secret } = await issueKey(store, { appId: request.params.app_id, name: request.body?.name ?? '', expiresAt }, config.keyPrefix, now);
    return reply.code(201).send({ ...keyJson(key), key: secret });
  });

  app.get('/admin/apps/:app_id/keys', {
    schema: {
      operationId: 'listAppKeys', tags: ['admin'], summary: "List an app's keys (never the secrets)", params: Type.Object({ app_id: Type.String() }), querystring: PageQuery,
      response: { 200: answer("A page of the app's keys, by id, revoked and expired ones included.", page(Type.Ref('Key'))), ...errors(400, 401, 404) },
    },
  }, async (request) => {
    if ((await store.getApp(request.params.app_id)) === null) throw new ApiError('not_found', `No app with id "${request.params.app_id}".`);
    const result = await store.listKeys(request.params.app_id, pageRequest(request.query));
    return { items: result.items.map(keyJson), next: result.next };
  });

  app.get('/admin/keys', {
    schema: {
      operationId: 'listKeys', tags: ['admin'], summary: 'List all keys (never the secrets)', querystring: PageQuery,
      response: { 200: answer("A page of every app's keys, by id.", page(Type.Ref('Key'))), ...errors(400, 401) },
    },
  }, async (request) => {
    const result = await store.listKeys(null, pageRequest(request.query));
    return { items: result.items.map(keyJson), next: result.next };
  });

  app.get('/admin/keys/:key_id', {
    schema: {
      operationId: 'getKey', tags: ['admin'], summary: 'Show a key', params: Type.Object({ key_id: Type.String() }),
      response: { 200: answer('The key (never its secret).', Type.Ref('Key')), ...errors(401, 404) },
    },
  }, async (request) => {
    const key = await store.getKey(request.params.key_id);
    if (key === null) throw new ApiError('not_found', `No key with id "${request.params.key_id}".`);
    return keyJson(key);
  });

  app.delete('/admin/keys/:key_id', {
    schema: {
      operationId: 'revokeKey', tags: ['admin'], summary: 'Revoke a key, at once', params: Type.Object({ key_id: Type.String() }),
      response: { 200: answer('The key, revoked: refused from now on.', Type.Ref('Key')), ...errors(401, 404) },
    },
  }, async (request) => keyJson(await store.revokeKey(request.params.key_id, clock.now())));
}
