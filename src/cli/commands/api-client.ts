import { AdminApi } from '../../client/admin.js';
import { Tollgate } from '../../client/client.js';
import { TollgateError } from '../../client/errors.js';
import type { FetchLike } from '../../client/http.js';

/**
 * The `tollgate` admin commands call the admin API through the SDK's admin
 * client (src/client/admin.ts), typed by the API's schemas. What the CLI adds
 * is how it reports failures: an API error as `<message> (<error>, HTTP
 * <status>)`, and in its own words a server that cannot be reached or does
 * not answer like Tollgate.
 */

/** A command waits for the server as a person would: a statement of a large group takes time. */
const REQUEST_TIMEOUT_MS = 10 * 60_000;

/**
 * An error answer of the API (`{"error", "message"}`), as the CLI prints it:
 * `<message> (<error>, HTTP <status>)`.
 */
export class ApiAnswerError extends Error {
  override name = 'ApiAnswerError';

  constructor(readonly status: number, readonly code: string, readonly apiMessage: string) {
    super(`${apiMessage} (${code}, HTTP ${status})`);
  }
}

/** A failure before there is an API answer: no token, server unreachable, not a Tollgate answer. */
export class ClientError extends Error {
  override name = 'ClientError';
}

/** The SDK's admin client for the server at `url`, with the admin token; throws a ClientError saying how to give the token when there is none. */
export function adminApi(url: string, token: string | undefined): { api: AdminApi; baseUrl: string } {
  const baseUrl = url.replace(/\/+$/, '');
  if (token === undefined || token === '') {
    throw new ClientError('no admin token: pass --token <token> or set TOLLGATE_ADMIN_TOKEN (the server prints it at first start; `tollgate admin-token rotate` issues a new one).');
  }
  // One attempt: a person runs the command again, and a create is never sent twice.
  return { api: new Tollgate({ baseUrl, token, retries: 0, timeoutMs: REQUEST_TIMEOUT_MS, fetch: tollgateOnly(baseUrl) }).admin, baseUrl };
}

/**
 * The CLI's error for what the admin client threw: the API's error answer,
 * or the CLI's own words for a server that could not be reached or did not
 * answer like Tollgate (see `tollgateOnly`).
 */
export function cliError(error: unknown): unknown {
  if (!(error instanceof TollgateError)) return error;
  if (error.cause instanceof ClientError) return error.cause;
  return error.status === 0 ? new ClientError(error.message) : new ApiAnswerError(error.status, error.code, error.message);
}

/**
 * `fetch` that refuses what is not a Tollgate answer (a JSON answer, an error
 * with `error` and `message`, or the text asked for) and a server that cannot
 * be reached, each with a ClientError that says what to check.
 */
function tollgateOnly(baseUrl: string): FetchLike {
  return async (url, init) => {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) throw error;
      throw new ClientError(`could not reach Tollgate at ${baseUrl} (${reason(error)}); is the server running? Set the address with --url or TOLLGATE_URL.`);
    }
    const text = await response.text();
    const body = parseJson(text);
    const wantsJson = new Headers(init.headers).get('accept') === 'application/json';
    const understood = response.ok ? (!wantsJson || body !== undefined) : isErrorBody(body);
    if (!understood) {
      const { origin, pathname } = new URL(url);
      throw new ClientError(`unexpected answer from ${origin}${pathname}: HTTP ${response.status}, ${text === '' ? 'empty' : 'not a Tollgate JSON answer'}; is ${baseUrl} a Tollgate server?`);
    }
    return new Response(text === '' ? null : text, { status: response.status, headers: response.headers });
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isErrorBody(body: unknown): body is { error: string; message: string } {
  return typeof body === 'object' && body !== null
    && typeof (body as { error?: unknown }).error === 'string'
    && typeof (body as { message?: unknown }).message === 'string';
}

/** The low-level cause of a failed fetch, such as "connect ECONNREFUSED 127.0.0.1:8080". */
function reason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return cause.message !== '' ? cause.message : ((cause as { code?: string }).code ?? cause.name);
  return error instanceof Error ? error.message : String(error);
}
