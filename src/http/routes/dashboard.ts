import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { DASHBOARD_POLICY, securityHeaders } from '../security-headers.js';
import { readCookie, SESSION_COOKIE, sessionCookie, type DashboardSession } from '../../dashboard/session.js';
import { hashSecret, sameHash } from '../../domain/secrets.js';
import type { KeyContext } from '../../domain/types.js';
import { ApiError } from '../../errors.js';
import { authenticate, authenticateHash } from '../../metering/credentials.js';
import type { Services } from '../../services.js';
import { admitCustomer, authFailed } from '../auth.js';
import { prefixedOperationId } from '../openapi.js';
import { SessionAnswer, SignInBody } from '../../contract/dashboard.js';
import { answer, errors } from '../answers.js';
import type { TypedApp } from '../typed-app.js';
import { adminAlertRoutes } from './admin-alerts.js';
import { adminAppRoutes } from './admin-apps.js';
import { adminCreditRoutes } from './admin-credits.js';
import { adminGroupRoutes } from './admin-groups.js';
import { adminKeyRoutes } from './admin-keys.js';
import { adminPlanRoutes } from './admin-plans.js';
import { adminStatementRoutes } from './admin-statements.js';
import { overviewRoutes } from './dashboard-overview.js';
import { adminUsageRoutes, customerUsageRoutes } from './usage.js';

declare module 'fastify' {
  interface FastifyRequest {
    dashboardSession?: DashboardSession;
  }
}

/** The admin API resources the dashboard works with, served again under /dashboard/api for the session cookie (service tokens are not among them). */
const ADMIN_RESOURCES = [
  adminPlanRoutes, adminGroupRoutes, adminAppRoutes, adminKeyRoutes, adminCreditRoutes, adminStatementRoutes, adminAlertRoutes, adminUsageRoutes,
];

const SESSION_SECURITY = [{ dashboard_session: [] }];
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The page and its static files: a fixed list, read once, so no request can name another file. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const here = (file: string) => fileURLToPath(new URL(`../../../../src/dashboard/static/${file}`, import.meta.url));
  const require = createRequire(import.meta.url);
  const uplot = (file: string) => require.resolve(`uplot/dist/${file}`);
  const files: Array<[string, string, string]> = [
    ['index.html', here('index.html'), 'text/html; charset=utf-8'],
    ...['dashboard.js', 'dom.js', 'charts.js', 'limits.js', 'credits-view.js', 'provider-view.js', 'customer-view.js']
      .map((file): [string, string, string] => [file, here(file), 'text/javascript; charset=utf-8']),
    ['dashboard.css', here('dashboard.css'), 'text/css; charset=utf-8'],
    ['uplot.esm.js', uplot('uPlot.esm.js'), 'text/javascript; charset=utf-8'],
    ['uplot.min.css', uplot('uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([name, path, type]) => [name, { type, body: readFileSync(path) }]));
}

/**
 * The dashboard: its page and static files, sign-in and sign-out, and its
 * API under /dashboard/api, authenticated by the session cookie (which no
 * other route accepts) and guarded against cross-site requests: every
 * change needs the session's CSRF token and a same-origin request.
 */
export async function dashboardRoutes(app: TypedApp, services: Services): Promise<void> {
  const assets = loadAssets();
  const headers = securityHeaders(DASHBOARD_POLICY);
  app.addHook('onRequest', async (_request, reply) => {
    void reply.headers(headers);
  });

  const sendAsset = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (asset === undefined) throw new ApiError('not_found', `No dashboard file "${name}".`);
    return reply.type(asset.type).header('cache-control', name === 'index.html' ? 'no-store' : 'no-cache').send(asset.body);
  };
  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) => sendAsset(reply, 'index.html'));
  app.get('/dashboard/assets/:file', { schema: { hide: true, params: Type.Object({ file: Type.String({ maxLength: 64 }) }) } },
    async (request, reply) => sendAsset(reply, request.params.file === 'index.html' ? '' : request.params.file));

  sessionRoutes(app, services);

  await app.register(async (api: TypedApp) => {
    api.addHook('onRequest', requireSession(services, 'admin'));
    api.addHook('onRoute', (route) => dashboardRoute(route));
    for (const resource of ADMIN_RESOURCES) resource(api, services);
    overviewRoutes(api, services);
  }, { prefix: '/dashboard/api' });

  await app.register(async (me: TypedApp) => {
    me.addHook('onRoute', (route) => dashboardRoute(route));
    customerUsageRoutes(me, services, { prefix: '/dashboard/api/me', onRequest: requireCustomerSession(services) });
  });
}

/**
 * A dashboard API route in the OpenAPI document: under the dashboard tag,
 * authenticated by the session cookie, and named apart from the route it
 * serves again (`createPlan` is `dashboardCreatePlan` here).
 */
function dashboardRoute(route: RouteOptions): void {
  const response = { ...errors(401, 403, 429), ...(route.schema?.response as Record<string, unknown> | undefined) };
  const operationId = prefixedOperationId('dashboard', (route.schema as { operationId?: unknown } | undefined)?.operationId);
  route.schema = { ...route.schema, operationId, tags: ['dashboard'], security: SESSION_SECURITY, response };
}

/**
 * The session the request's cookie holds, when it still stands: sealed here,
 * not expired, opened with the admin token in force (a new admin token ends
 * the sessions of the old one), and not signed out of, on any instance.
 */
async function sessionFrom(request: FastifyRequest, services: Services): Promise<DashboardSession | null> {
  const value = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (value === null) return null;
  const session = services.sessions.open(value, services.clock.now());
  if (session === null) return null;
  if (session.role === 'admin' && !sameHash(session.adminTokenHash, services.adminTokenHash)) return null;
  // The cookie itself cannot be taken back: a copy of it keeps opening until its expiry, unless the store says it ended.
  if (await services.store.endedSessions.isEnded(session.sid)) return null;
  return session;
}

/**
 * A browser sends `Sec-Fetch-Site` and, on a POST or DELETE, `Origin`: a
 * request another site's page made says so in them. Callers that are not
 * browsers send neither, and still need the CSRF token for any change.
 */
function assertSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  let sameHost = true;
  if (typeof origin === 'string') {
    try {
      sameHost = new URL(origin).host === request.headers.host;
    } catch {
      sameHost = false;
    }
  }
  if ((typeof site === 'string' && site !== 'same-origin') || !sameHost) {
    throw new ApiError('forbidden', 'Cross-site request refused: the dashboard only takes changes from its own pages.');
  }
}

function assertCsrf(request: FastifyRequest, services: Services, session: DashboardSession): void {
  assertSameOrigin(request);
  const token = request.headers['x-csrf-token'];
  if (typeof token !== 'string' || !services.sessions.csrfMatches(session, token)) {
    throw new ApiError('forbidden', 'Missing or wrong CSRF token: send the x-csrf-token header the session answer gave (GET /dashboard/session).');
  }
}

/**
 * How long past its expiry an ended session is still remembered: an
 * instance whose clock runs behind would otherwise take its cookie again.
 */
const ENDED_SESSION_GRACE_MS = 3_600_000;

const NOT_SIGNED_IN = 'Not signed in to the dashboard, or the session has ended: sign in at /dashboard.';

/**
 * The request's session, or a 401. A cookie that does not open (forged,
 * from another server, ended) is a failed authentication like a wrong token,
 * and throttled alike; no cookie at all is only someone not signed in yet.
 */
async function signedIn(request: FastifyRequest, services: Services): Promise<DashboardSession> {
  const session = await sessionFrom(request, services);
  if (session !== null) return session;
  if (readCookie(request.headers.cookie, SESSION_COOKIE) === null) throw new ApiError('unauthorized', NOT_SIGNED_IN);
  throw authFailed(services, request, NOT_SIGNED_IN);
}

/** The session cookie for `role`, and for a change its CSRF token from the same origin. */
async function openSession(services: Services, role: DashboardSession['role'], request: FastifyRequest, reply: FastifyReply): Promise<DashboardSession> {
  void reply.header('cache-control', 'no-store');
  const session = await signedIn(request, services);
  if (session.role !== role) throw new ApiError('forbidden', `This part of the dashboard is for the ${role === 'admin' ? 'provider (admin token)' : 'customer (API key)'}.`);
  if (UNSAFE_METHODS.has(request.method)) assertCsrf(request, services, session);
  return session;
}

function requireSession(services: Services, role: DashboardSession['role']): onRequestHookHandler {
  return async (request, reply) => {
    request.dashboardSession = await openSession(services, role, request, reply);
  };
}

/** A customer's session: its key is looked up again (revoked or expired since sign-in ends it) and the call counts against the per-minute limit, as /v1/usage does. */
function requireCustomerSession(services: Services): onRequestHookHandler {
  return async (request, reply) => {
    const session = await openSession(services, 'customer', request, reply);
    if (session.role !== 'customer') return;
    const auth = await authenticateHash(services.store, session.keyHash, null, services.clock.now());
    if (!auth.ok) throw new ApiError('unauthorized', `${auth.message} Sign in again.`);
    request.dashboardSession = session;
    await admitCustomer(services, auth.context, request, reply);
  };
}

function sessionRoutes(app: TypedApp, services: Services): void {
  const sessionJson = async (session: DashboardSession, context: KeyContext | null) => ({
    role: session.role,
    csrf_token: services.sessions.csrfToken(session),
    expires_at: new Date(session.expiresAt).toISOString(),
    group_id: context?.group.id ?? null,
    app_id: context?.app.id ?? null,
    key_id: context?.key.id ?? null,
  });
  /** The customer's key as it is now; null for the provider. */
  const contextOf = async (session: DashboardSession): Promise<KeyContext | null> => {
    if (session.role === 'admin') return null;
    const auth = await authenticateHash(services.store, session.keyHash, null, services.clock.now());
    if (!auth.ok) throw new ApiError('unauthorized', `${auth.message} Sign in again.`);
    return auth.context;
  };
  const secure = (request: FastifyRequest) => request.protocol === 'https';

  app.post('/dashboard/session', {
    schema: {
      operationId: 'createDashboardSession', tags: ['dashboard'],
      summary: 'Sign in to the dashboard with the admin token or a customer API key; sets the session cookie',
      // Signing in is how a session begins: the token is in the body, no credential in the headers.
      security: [],
      body: SignInBody,
      response: { 200: answer('Signed in: the session cookie is set (Set-Cookie), and this is the session with its CSRF token.', SessionAnswer), ...errors(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    // No session yet, so no CSRF token: a sign-in from another site's page is refused by its origin.
    assertSameOrigin(request);
    const now = services.clock.now();
    const { token } = request.body;
    let session: DashboardSession;
    let context: KeyContext | null = null;
    if (sameHash(hashSecret(token), services.adminTokenHash)) {
      session = services.sessions.create({ role: 'admin', adminTokenHash: services.adminTokenHash }, now);
    } else {
      const auth = await authenticate(services.store, { key: token }, now);
      if (!auth.ok) {
        const why = auth.message === 'Invalid API key.' ? 'it is neither the admin token nor an API key' : auth.message.replace(/\.$/, '');
        // Guessing the admin token or a key here is throttled like anywhere else.
        throw authFailed(services, request, `Sign-in failed: ${why}.`);
      }
      context = auth.context;
      session = services.sessions.create({ role: 'customer', keyHash: hashSecret(token) }, now);
    }
    void reply.header('set-cookie', sessionCookie(services.sessions.seal(session), { secure: secure(request), maxAgeMs: session.expiresAt - now }));
    return sessionJson(session, context);
  });

  app.get('/dashboard/session', {
    schema: {
      operationId: 'getDashboardSession', tags: ['dashboard'], summary: 'The signed-in session and its CSRF token', security: SESSION_SECURITY,
      response: { 200: answer('The session the cookie opens, with its CSRF token.', SessionAnswer), ...errors(401, 429) },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    const session = await signedIn(request, services);
    return sessionJson(session, await contextOf(session));
  });

  app.delete('/dashboard/session', {
    schema: {
      operationId: 'deleteDashboardSession', tags: ['dashboard'], summary: 'Sign out: ends the session on every instance and clears the cookie (needs the CSRF token)', security: SESSION_SECURITY,
      response: { 204: Type.Null({ description: 'Signed out (also when the cookie no longer opened: it is cleared all the same).' }), ...errors(401, 403, 429) },
    },
  }, async (request, reply) => {
    // A cookie that does not open is only cleared: signing out proves nothing, so it is no failure either.
    const session = await sessionFrom(request, services);
    if (session !== null) {
      assertCsrf(request, services, session);
      // Ended in the store, not only in this browser: a copy of the cookie is refused from now on, by every instance.
      await services.store.endedSessions.end(session.sid, session.expiresAt);
      await services.store.endedSessions.purge(services.clock.now() - ENDED_SESSION_GRACE_MS);
    }
    void reply.header('set-cookie', sessionCookie('', { secure: secure(request), maxAgeMs: 0 }));
    return reply.code(204).send(null);
  });
}
