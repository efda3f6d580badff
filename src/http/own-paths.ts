/**
 * Tollgate's own paths, the one list of them: every route the server
 * registers is one of these or under one of the prefixes (test/api/own-paths
 * holds the server to it), and a gateway route may overlap none of them
 * (src/gateway/config.ts).
 */

/** Paths served as they are. */
export const OWN_PATHS = ['/v1/check', '/v1/usage', '/v3/ocr-usage', '/v1/events', '/healthz', '/metrics', '/openapi.json'] as const;

/** Paths with routes under them: the admin API, the docs page with its assets, the dashboard with its page and API. */
export const OWN_PREFIXES = ['/admin', '/docs', '/dashboard'] as const;

/** Whether a route's URL (a Fastify pattern as registered) is one of Tollgate's own paths. */
export function isOwnPath(url: string): boolean {
  return (OWN_PATHS as readonly string[]).includes(url) || OWN_PREFIXES.some((prefix) => url === prefix || url.startsWith(`${prefix}/`));
}
