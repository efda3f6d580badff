import type { FastifyInstance } from 'fastify';

/**
 * The headers a page Tollgate serves to browsers carries, so that it runs
 * only the scripts it was served with, cannot be framed by another site
 * (clickjacking), and is never read as another type than the one declared.
 * The API's JSON answers are not rendered by browsers and go without.
 */
export interface PagePolicy {
  /** The Content-Security-Policy; its `frame-ancestors` is what modern browsers obey for framing. */
  csp: string;
  /** X-Frame-Options, for browsers that predate frame-ancestors: the same rule. */
  frameOptions: 'DENY' | 'SAMEORIGIN';
}

/** `/docs` (Swagger UI): everything from this server (no CDN), inline styles (the UI sets them), no framing by other sites. */
export const DOCS_POLICY: PagePolicy = {
  csp: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
  frameOptions: 'SAMEORIGIN',
};

/**
 * The dashboard: everything it loads comes from this server (it must work
 * without internet access), so the policy allows nothing else: no inline
 * script, no inline style sheet, no framing at all. (uPlot sizes its
 * elements through the CSSOM, which `style-src` does not govern.)
 */
export const DASHBOARD_POLICY: PagePolicy = {
  csp: [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
  ].join('; '),
  frameOptions: 'DENY',
};

/** The headers for a page under `policy`. */
export function securityHeaders(policy: PagePolicy): Record<string, string> {
  return {
    'content-security-policy': policy.csp,
    'x-frame-options': policy.frameOptions,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/** Adds the headers to every answer of `app`'s routes (register the pages' routes inside it). */
export function addSecurityHeaders(app: FastifyInstance, policy: PagePolicy): void {
  const headers = securityHeaders(policy);
  app.addHook('onSend', async (_request, reply) => {
    void reply.headers(headers);
  });
}
