import { Type } from 'typebox';
import { newId } from '../../domain/secrets.js';
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
    const { id, name, plan_id } = request.body;
    const group = await store.createGroup({ id: id ?? newId('grp'), name, planId: plan_id }, clock.now());
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
      operationId: 'updateGroup', tags: ['admin'], summary: "Rename a group or change its plan",
      params: Type.Object({ group_id: Type.String() }),
      body: GroupPatchBody,
      response: { 200: answer('The group as changed.', Type.Ref('Group')), ...errors(400, 401, 404, 413, 415) },
    },
  }, async (request) => {
    const { name, plan_id } = request.body;
    return groupJson(await store.updateGroup(request.params.group_id, { name, planId: plan_id }, clock.now()));
  });
}
