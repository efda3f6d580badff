import { Type } from 'typebox';
import { newId } from '../../domain/secrets.js';
import type { App } from '../../domain/types.js';
import { appLimitsProblem } from '../../metering/limit-rules.js';
import { limitsFromWire } from '../../metering/limits-wire.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { page, PageQuery } from '../../contract/common.js';
import { AppPatchBody, NewAppBody } from '../../contract/customers.js';
import { answer, errors } from '../answers.js';
import { appJson, pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

/**
 * Refuses an app's own limits and overrides that break the rules
 * (src/metering/limit-rules.ts), as they will be under its group and plan.
 * A missing group or plan is left to the store to refuse.
 */
async function checkAppLimits(services: Services, groupId: string, app: Pick<App, 'limits' | 'limitOverrides'>): Promise<void> {
  const group = await services.store.getGroup(groupId);
  const plan = group === null ? null : await services.store.getPlan(group.planId);
  const problem = group === null || plan === null ? null : appLimitsProblem(plan, group, app);
  if (problem !== null) throw new ApiError('invalid_request', problem);
}

/** Apps: a group's applications (Mathpix's app_id); each holds keys and may have its own limits. */
export function adminAppRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.post('/admin/groups/:group_id/apps', {
    schema: {
      operationId: 'createApp', tags: ['admin'], summary: 'Create an app in a group',
      params: Type.Object({ group_id: Type.String() }),
      body: NewAppBody,
      response: { 201: answer('The app, created.', Type.Ref('App')), ...errors(400, 401, 404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const id = body.id ?? newId('app');
    const limits = limitsFromWire(body.limits ?? [], 'app');
    const limitOverrides = body.limit_overrides ?? {};
    await checkAppLimits(services, request.params.group_id, { limits, limitOverrides });
    const created = await store.createApp({
      id, groupId: request.params.group_id, name: body.name ?? id,
      monthlyQuota: body.monthly_quota ?? null, rateLimitPerMinute: body.rate_limit_per_minute ?? null, limits, limitOverrides,
    }, clock.now());
    return reply.code(201).send(appJson(created));
  });

  app.get('/admin/groups/:group_id/apps', {
    schema: {
      operationId: 'listGroupApps', tags: ['admin'], summary: "List a group's apps", params: Type.Object({ group_id: Type.String() }), querystring: PageQuery,
      response: { 200: answer("A page of the group's apps, by id.", page(Type.Ref('App'))), ...errors(400, 401, 404) },
    },
  }, async (request) => {
    if ((await store.getGroup(request.params.group_id)) === null) throw new ApiError('not_found', `No group with id "${request.params.group_id}".`);
    const result = await store.listApps(request.params.group_id, pageRequest(request.query));
    return { items: result.items.map(appJson), next: result.next };
  });

  app.get('/admin/apps', {
    schema: {
      operationId: 'listApps', tags: ['admin'], summary: 'List all apps', querystring: PageQuery,
      response: { 200: answer("A page of every group's apps, by id.", page(Type.Ref('App'))), ...errors(400, 401) },
    },
  }, async (request) => {
    const result = await store.listApps(null, pageRequest(request.query));
    return { items: result.items.map(appJson), next: result.next };
  });

  app.get('/admin/apps/:app_id', {
    schema: {
      operationId: 'getApp', tags: ['admin'], summary: 'Show an app', params: Type.Object({ app_id: Type.String() }),
      response: { 200: answer('The app.', Type.Ref('App')), ...errors(401, 404) },
    },
  }, async (request) => {
    const found = await store.getApp(request.params.app_id);
    if (found === null) throw new ApiError('not_found', `No app with id "${request.params.app_id}".`);
    return appJson(found);
  });

  app.patch('/admin/apps/:app_id', {
    schema: {
      operationId: 'updateApp', tags: ['admin'], summary: "Rename an app or change its own limits (null removes a limit), overrides and named limits",
      params: Type.Object({ app_id: Type.String() }),
      body: AppPatchBody,
      response: { 200: answer('The app as changed.', Type.Ref('App')), ...errors(400, 401, 404, 413, 415) },
    },
  }, async (request) => {
    const body = request.body;
    const limits = body.limits === undefined ? undefined : limitsFromWire(body.limits, 'app');
    const limitOverrides = body.limit_overrides;
    if (limits !== undefined || limitOverrides !== undefined) {
      const found = await store.getApp(request.params.app_id);
      if (found === null) throw new ApiError('not_found', `No app with id "${request.params.app_id}".`);
      await checkAppLimits(services, found.groupId, { limits: limits ?? found.limits, limitOverrides: limitOverrides ?? found.limitOverrides });
    }
    return appJson(await store.updateApp(request.params.app_id, {
      name: body.name, monthlyQuota: body.monthly_quota, rateLimitPerMinute: body.rate_limit_per_minute,
      ...(body.disabled === undefined ? {} : { disabledAt: body.disabled ? clock.now() : null }), limits, limitOverrides,
    }, clock.now()));
  });
}
