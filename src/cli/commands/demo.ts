import type { Command } from 'commander';
import { DEMO } from '../demo.js';
import { ApiAnswerError, type AdminClient, apiPath } from './api-client.js';
import { clientCommand, run } from './common.js';
import type { CreatedKey } from './keys.js';

async function createOrReuse(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof ApiAnswerError && error.status === 409)) throw error;
  }
}

/** Creates (or reuses) the demo plan, group and app over the admin API, and issues a new key. */
async function createDemo(api: AdminClient): Promise<CreatedKey> {
  await createOrReuse(() => api.post('/admin/plans', {
    id: DEMO.planId, monthly_quota: 1000, rate_limit_per_minute: 60, price_per_call: '0.01', time_zone: 'UTC',
  }));
  await createOrReuse(() => api.post('/admin/groups', { id: DEMO.groupId, name: 'Demo customer', plan_id: DEMO.planId }));
  await createOrReuse(() => api.post(apiPath`/admin/groups/${DEMO.groupId}/apps`, { id: DEMO.appId, name: 'Demo app' }));
  return api.post<CreatedKey>(apiPath`/admin/apps/${DEMO.appId}/keys`, { name: 'demo' });
}

/** Ready-to-paste curl commands for the check API and both usage APIs (the wording of `serve --demo`). */
function demoLines(url: string, secret: string, token: string, now: Date): string[] {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
  return [
    `Demo: plan "${DEMO.planId}" (1000 calls a month, 60 a minute), group "${DEMO.groupId}", app "${DEMO.appId}".`,
    `Demo key (shown this once): ${secret}`,
    '',
    '# Meter a call (the provider backend, with the admin token):',
    `curl -s -X POST '${url}/v1/check' -H "Authorization: Bearer ${token}" -H 'Content-Type: application/json' \\`,
    `  -d '{"key": "${secret}", "usage_type": "image", "request_args": {"formats": ["text"]}}'`,
    '',
    '# Paperguide-style current usage:',
    `curl -s '${url}/v1/usage' -H 'Content-Type: application/json' -H 'x-api-key: ${secret}'`,
    '',
    '# Mathpix-style usage over time:',
    `curl -s '${url}/v3/ocr-usage?from_date=${encodeURIComponent(from)}&to_date=${encodeURIComponent(to)}&group_by=usage_type&timespan=month' \\`,
    `  -H 'app_id: ${DEMO.appId}' -H 'app_key: ${secret}'`,
  ];
}

/** `tollgate demo`: a demo customer with a new key, and curl commands to try it. */
export function registerDemoCommand(program: Command): void {
  clientCommand(program, 'demo', 'Create (or reuse) a demo plan, group and app, issue a key, and print curl commands to try')
    .action(run(async ({ api, command, output }) => {
      const created = await createDemo(api);
      // The token itself is not printed: the variable when it came from there, a placeholder otherwise.
      const token = command.getOptionValueSource('token') === 'env' ? '$TOLLGATE_ADMIN_TOKEN' : '<admin token>';
      output(created, () => demoLines(api.baseUrl, created.key, token, new Date()).join('\n'));
    }));
}
