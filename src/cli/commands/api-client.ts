/**
 * A small client for Tollgate's admin API over HTTP (Node's global fetch),
 * used by the `tollgate` admin commands.
 */

/** One page of a list answer. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Query parameters; undefined ones are left out. */
export type Query = Record<string, string | number | undefined>;

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

/**
 * A URL path with every interpolated value percent-encoded.
 *
 * @example
 * apiPath`/admin/plans/${id}` // "/admin/plans/a%2Fb" for id "a/b"
 */
export function apiPath(strings: TemplateStringsArray, ...values: string[]): string {
  return strings.reduce((out, part, i) => out + part + (i < values.length ? encodeURIComponent(values[i]!) : ''), '');
}

/** Calls the admin API with `Authorization: Bearer <admin token>`. */
export class AdminClient {
  readonly baseUrl: string;

  /** Throws a ClientError saying how to give the token when there is none. */
  constructor(url: string, private readonly token: string | undefined) {
    this.baseUrl = url.replace(/\/+$/, '');
    if (token === undefined || token === '') {
      throw new ClientError('no admin token: pass --token <token> or set TOLLGATE_ADMIN_TOKEN (the server prints it at first start; `tollgate admin-token rotate` issues a new one).');
    }
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, body: object = {}): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  patch<T>(path: string, body: object): Promise<T> {
    return this.request<T>('PATCH', path, { body });
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /**
   * Sends one request and returns the parsed JSON answer.
   * Throws ApiAnswerError for an error answer, ClientError when there is no usable answer.
   */
  async request<T>(method: string, path: string, options: { body?: object; query?: Query } = {}): Promise<T> {
    const { response, text, url } = await this.send(method, path, options);
    const body = parseJson(text);
    if (response.ok && body !== undefined) return body as T;
    throw this.failure(response, body, text, url);
  }

  /** A GET whose answer is text (CSV), not JSON; errors as for `request`. */
  async getText(path: string, query: Query = {}): Promise<string> {
    const { response, text, url } = await this.send('GET', path, { query });
    if (response.ok) return text;
    throw this.failure(response, parseJson(text), text, url);
  }

  private failure(response: Response, body: unknown, text: string, url: URL): Error {
    if (!response.ok && isErrorBody(body)) return new ApiAnswerError(response.status, body.error, body.message);
    return new ClientError(`unexpected answer from ${url.origin}${url.pathname}: HTTP ${response.status}, ${text === '' ? 'empty' : 'not a Tollgate JSON answer'}; is ${this.baseUrl} a Tollgate server?`);
  }

  private async send(method: string, path: string, options: { body?: object; query?: Query }): Promise<{ response: Response; text: string; url: URL }> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
    } catch (error) {
      throw new ClientError(`could not reach Tollgate at ${this.baseUrl} (${reason(error)}); is the server running? Set the address with --url or TOLLGATE_URL.`);
    }
    return { response, text: await response.text(), url };
  }
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
