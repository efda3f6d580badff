import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Where a secret could sit in a log line's object: request headers (the admin,
 * service and customer credentials), request bodies (POST /v1/check's `key`
 * and `app_key`, the dashboard's sign-in `token`), the dashboard's cookie and CSRF token, answers that carry a new secret (a created key or token,
 * a webhook endpoint's signing secret), and the configuration's secrets. pino replaces each with "[redacted]".
 */
export const SECRET_LOG_PATHS = [
  ...['.authorization', '["x-api-key"]', '.app_key', '.cookie', '["set-cookie"]', '["x-csrf-token"]'].flatMap((h) => [`req.headers${h}`, `headers${h}`]),
  ...['key', 'app_key', 'token', 'csrf_token', 'secret', 'adminToken', 'metricsToken', 'webhookSecret', 'serverSecret'].flatMap((f) => [f, `*.${f}`, `req.body.${f}`]),
];

/** A pino configuration for the server's logger: JSON lines at `level`, with every secret path redacted. */
export function loggerOptions(level: string): Record<string, unknown> {
  return { level, redact: { paths: SECRET_LOG_PATHS, censor: '[redacted]' } };
}

/** The ids a caller may choose for its request: short and plain, since they are written into log lines and headers. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:@+=-]{1,128}$/;

/**
 * The request's id: the caller's `X-Request-Id` when it is a plain token (so
 * a trace can cross services), a fresh UUID otherwise.
 */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
}
