/** Socket-level failures: the server is not there (yet, or any more). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** What the PostgreSQL and Redis clients say when they lose or cannot get a connection. */
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client was closed and is not queryable|Client has encountered a connection error|Stream isn't writeable|Connection is closed|Command timed out|Reached the max retries per request/i;

/**
 * Whether an error means "the store is away" (which fail-open mode rides
 * out) rather than a fault in the request or the code (which it must not
 * hide): network errors, PostgreSQL's connection, shutdown and resource
 * errors (SQLSTATE classes 08, 57 and 53), and the clients' own
 * lost-connection errors.
 */
export function isOutage(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || /^(08|57|53)[0-9A-Z]{3}$/.test(e.code))) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message);
}
