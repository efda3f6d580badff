import { Type } from 'typebox';
import { newId } from '../../domain/secrets.js';
import { groupLimitsProblem } from '../../metering/limit-rules.js';
import { limitsFromWire } from '../../metering/limits-wire.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { page, PageQuery } from '../../contract/common.js';
import { GroupPatchBody, NewGroupBody } from '../../contract/customers.js';
import { answer, errors } from '../answers.js';
import { groupJson, pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

/** Groups: the provider's customers (accounts), each on one plan. */
export function adminGroupRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.post('/admin/groups', {
    schema: {
      operationId: 'createGroup', tags: ['admin'], summary: 'Create a group',
      body: NewGroupBody,
      response: { 201: answer('The group, created.', Type.Ref('Group')), ...errors(400, 401, 404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const { id, name, plan_id, limit_overrides: limitOverrides = {} } = request.body;
    const limits = limitsFromWire(request.body.limits ?? [], 'group');
    const plan = await store.getPlan(plan_id);
    // No plan: the store refuses the group (404) as it always has.
    const problem = plan === null ? null : groupLimitsProblem(plan, { limits, limitOverrides });
    if (problem !== null) throw new ApiError('invalid_request', problem);
    const group = await store.createGroup({ id: id ?? newId('grp'), name, planId: plan_id, limitOverrides, limits }, clock.now());
    return reply.code(201).send(groupJson(group));
  });

  app.get('/admin/groups', {
    schema: {
      operationId: 'listGroups', tags: ['admin'], summary: 'List groups', querystring: PageQuery,
      response: { 200: answer('A page of groups, by id.', page(Type.Ref('Group'))), ...errors(400, 401) },
    },
  }, async (request) => {
    const result = await store.listGroups(pageRequest(request.query));
    return { items: result.items.map(groupJson), next: result.next };
  });

  app.get('/admin/groups/:group_id', {
    schema: {
      operationId: 'getGroup', tags: ['admin'], summary: 'Show a group', params: Type.Object({ group_id: Type.String() }),
      response: { 200: answer('The group.', Type.Ref('Group')), ...errors(401, 404) },
    },
  }, async (request) => {
    const group = await store.getGroup(request.params.group_id);
    if (group === null) throw new ApiError('not_found', `No group with id "${request.params.group_id}".`);
    return groupJson(group);
  });

  app.patch('/admin/groups/:group_id', {
    schema: {
      operationId: 'updateGroup', tags: ['admin'], summary: 'Rename a group, change its plan, or its own deal (limit overrides and limits)',
      params: Type.Object({ group_id: Type.String() }),
      body: GroupPatchBody,
      response: { 200: answer('The group as changed.', Type.Ref('Group')), ...errors(400, 401, 404, 413, 415) },
    },
  }, async (request) => {
    const { name, plan_id, limit_overrides: limitOverrides } = request.body;
    const limits = request.body.limits === undefined ? undefined : limitsFromWire(request.body.limits, 'group');
    if (limitOverrides !== undefined || limits !== undefined) {
      // Checked against the group as it will be: its plan, overrides and limits after the change.
      const group = await store.getGroup(request.params.group_id);
      if (group === null) throw new ApiError('not_found', `No group with id "${request.params.group_id}".`);
      const plan = await store.getPlan(plan_id ?? group.planId);
      const problem = plan === null ? null : groupLimitsProblem(plan, { limits: limits ?? group.limits, limitOverrides: limitOverrides ?? group.limitOverrides });
      if (problem !== null) throw new ApiError('invalid_request', problem);
    }
    return groupJson(await store.updateGroup(request.params.group_id, { name, planId: plan_id, limitOverrides, limits }, clock.now()));
  });
}
