import { Type } from 'typebox';
import { page, PageQuery } from '../../contract/common.js';
import { ActivityAnswer, ActivityQuery, GroupGauge, GroupLimitsAnswer } from '../../contract/dashboard.js';
import { billingPeriod } from '../../domain/periods.js';
import type { Plan } from '../../domain/types.js';
import { ApiError } from '../../errors.js';
import { limitAnswer } from '../../metering/check-answer.js';
import { groupLimits } from '../../metering/limits.js';
import type { Services } from '../../services.js';
import { queryUsage } from '../../usage/usage-query.js';
import { answer, errors } from '../answers.js';
import { pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

/** What the dashboard's overview needs and no admin endpoint answers in one call. */
export function overviewRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.get('/groups-overview', {
    schema: {
      operationId: 'listGroupsOverview',
      summary: "A page of groups with each one's plan limits and units in its current billing period (the quota gauges)",
      querystring: PageQuery,
      response: { 200: answer("A page of groups, each with its plan's limits and its units this billing period.", page(GroupGauge)), ...errors(400, 401, 403, 503) },
    },
  }, async (request) => {
    const now = clock.now();
    const groups = await store.listGroups(pageRequest(request.query));
    const plans = new Map<string, Plan | null>();
    const items = await Promise.all(groups.items.map(async (group) => {
      if (!plans.has(group.planId)) plans.set(group.planId, await store.getPlan(group.planId));
      const plan = plans.get(group.planId)!;
      const zone = plan?.timeZone ?? 'UTC';
      const period = billingPeriod(now, zone);
      // One month period read from the rollups: a few small sums per group, whatever its traffic.
      const records = await queryUsage(store, { groupId: group.id, from: period.start, to: now + 1, groupBy: 'usage_type', timespan: 'month', zone });
      return {
        group_id: group.id, name: group.name, plan_id: group.planId,
        monthly_used: records.reduce((sum, r) => sum + r.count, 0),
        monthly_quota: plan?.monthlyQuota ?? -1, rate_limit_per_minute: plan?.rateLimitPerMinute ?? -1,
        period_start: new Date(period.start).toISOString(), period_end: new Date(period.end).toISOString(),
      };
    }));
    return { items, next: groups.next };
  });

  app.get('/groups/:group_id/limits', {
    schema: {
      operationId: 'getGroupLimits',
      summary: "A group's own limits (scope group) with their use now, read without consuming anything (the group's limit gauges)",
      params: Type.Object({ group_id: Type.String() }),
      response: { 200: answer("The group's limits with their use now.", GroupLimitsAnswer), ...errors(401, 403, 404, 503) },
    },
  }, async (request) => {
    const group = await store.getGroup(request.params.group_id);
    if (group === null) throw new ApiError('not_found', `No group with id "${request.params.group_id}".`);
    const plan = await store.getPlan(group.planId);
    if (plan === null) throw new ApiError('not_found', `No plan with id "${group.planId}" for group "${group.id}".`);
    const now = clock.now();
    // Only limits that can refuse: the month counter of a plan without a quota is kept for its use, not gauged.
    const limits = groupLimits(plan, group).filter((limit) => limit.units >= 0);
    const states = await store.readLimits({ groupId: group.id, now, period: billingPeriod(now, plan.timeZone), limits });
    return { group_id: group.id, limits: states.map(limitAnswer) };
  });

  app.get('/activity', {
    schema: {
      operationId: 'getActivity',
      summary: 'Top consumers and recent denials, as this instance saw them (kept in memory, bounded)',
      querystring: ActivityQuery,
      response: { 200: answer('The top consumers and the recent denials this instance saw.', ActivityAnswer), ...errors(400, 401, 403) },
    },
  }, async (request) => {
    const limit = request.query.limit === undefined ? 10 : Number(request.query.limit);
    const now = clock.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      top_consumers: services.activity.topConsumers(limit, now).map((c) => ({
        group_id: c.groupId, monthly_used: c.used, monthly_quota: c.quota, period_start: iso(c.periodStart), seen_at: iso(c.seenAt),
      })),
      recent_denials: services.activity.recentDenials(limit).map((d) => ({
        at: iso(d.at), group_id: d.groupId, app_id: d.appId, key_id: d.keyId, code: d.code,
      })),
    };
  });
}
