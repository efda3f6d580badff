import type { FastifyInstance } from 'fastify';
import type { FetchLike } from './http.js';

/**
 * A `fetch` that hands each request to a Fastify app in this process
 * (`app.inject`): no socket, no port, the app's own routing, validation and
 * error shapes. The embedded mode serves the admin, usage and events APIs
 * through it.
 */
export function injectFetch(app: FastifyInstance): FetchLike {
  return async (url, init) => {
    const { pathname, search } = new URL(url);
    const response = await app.inject({
      method: (init.method ?? 'GET') as 'GET',
      url: pathname + search,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      ...(typeof init.body === 'string' ? { payload: init.body } : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : String(value));
    }
    return new Response(response.statusCode === 204 ? null : response.rawPayload, { status: response.statusCode, headers });
  };
}
