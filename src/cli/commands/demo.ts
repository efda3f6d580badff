import type { Command } from 'commander';
import { DEMO, demoLines } from '../demo-text.js';
import { ApiAnswerError, type AdminClient, apiPath, type Page } from './api-client.js';
import { clientCommand, run } from './common.js';
import type { CreatedKey, Key } from './keys.js';

async function createOrReuse(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof ApiAnswerError && error.status === 409)) throw error;
  }
}

/** Creates (or reuses) the demo plan, group and app over the admin API, and replaces the demo key (see DEMO). */
async function createDemo(api: AdminClient): Promise<{ created: CreatedKey; revoked: string[] }> {
  await createOrReuse(() => api.post('/admin/plans', {
    id: DEMO.planId, monthly_quota: DEMO.monthlyQuota, rate_limit_per_minute: DEMO.ratePerMinute, price_per_call: DEMO.pricePerCall, time_zone: 'UTC',
  }));
  await createOrReuse(() => api.post('/admin/groups', { id: DEMO.groupId, name: 'Demo customer', plan_id: DEMO.planId }));
  await createOrReuse(() => api.post(apiPath`/admin/groups/${DEMO.groupId}/apps`, { id: DEMO.appId, name: 'Demo app' }));
  const revoked = await revokeDemoKeys(api);
  return { created: await api.post<CreatedKey>(apiPath`/admin/apps/${DEMO.appId}/keys`, { name: DEMO.keyName }), revoked };
}

/** Revokes the live demo keys and returns their hints. */
async function revokeDemoKeys(api: AdminClient): Promise<string[]> {
  const live: Key[] = [];
  let after: string | undefined;
  do {
    const page: Page<Key> = await api.get<Page<Key>>(apiPath`/admin/apps/${DEMO.appId}/keys`, { limit: 1000, after });
    live.push(...page.items.filter((key) => key.name === DEMO.keyName && key.revoked_at === null));
    after = page.next ?? undefined;
  } while (after !== undefined);
  for (const key of live) await api.delete(apiPath`/admin/keys/${key.key_id}`);
  return live.map((key) => key.hint);
}

/** `tollgate demo`: a demo customer with a new key, and curl commands to try it. */
export function registerDemoCommand(program: Command): void {
  clientCommand(program, 'demo', 'Create (or reuse) a demo plan, group and app, replace the demo key, and print curl commands to try')
    .action(run(async ({ api, command, output }) => {
      const { created, revoked } = await createDemo(api);
      // The token itself is not printed: the variable when it came from there, a placeholder otherwise.
      const token = command.getOptionValueSource('token') === 'env' ? '$TOLLGATE_ADMIN_TOKEN' : '<admin token>';
      output(created, () => demoLines(api.baseUrl, created.key, token, new Date(), revoked).join('\n'));
    }));
}
