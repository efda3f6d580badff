/**
 * The demo customer both `serve --demo` and `tollgate demo` create.
 *
 * One live demo key at a time: a key's secret cannot be shown again (only its
 * hash is kept), so each run revokes the live keys named `keyName` on the demo
 * app and issues a new one, printed with commands that work as pasted. The
 * plan, group and app are reused, with their usage.
 */
export const DEMO = {
  planId: 'demo', groupId: 'demo-group', appId: 'demo-app', keyName: 'demo',
  monthlyQuota: 1000, ratePerMinute: 60, pricePerCall: '0.01',
} as const;

/**
 * What a person needs to try the demo key: the dashboard and how to sign in,
 * and ready-to-paste curl commands for the check API and both seed usage
 * APIs. `revoked`: the hints of the demo keys this run revoked.
 */
export function demoLines(url: string, secret: string, token: string, now: Date, revoked: readonly string[] = []): string[] {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
  return [
    `Demo: plan "${DEMO.planId}" (${DEMO.monthlyQuota} calls a month, ${DEMO.ratePerMinute} a minute), group "${DEMO.groupId}", app "${DEMO.appId}".`,
    `Demo key (shown this once): ${secret}`,
    ...(revoked.length === 0 ? [] : [`The previous demo key (${revoked.join(', ')}) was revoked: one demo key at a time, a new one at each run.`]),
    `Dashboard: ${url}/dashboard: sign in with the admin token to see every customer, or with the demo key to see the demo customer's own usage.`,
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
