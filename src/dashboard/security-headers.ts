import type { FastifyReply } from 'fastify';

/**
 * The dashboard's security headers, in one place so that other pages (the
 * API docs) can share them. Everything the page loads comes from this server
 * (no CDN: it must work without internet access), so the policy allows
 * nothing else: no inline script, no inline style sheet, no framing.
 * (uPlot sizes its elements through the CSSOM, which `style-src` does not govern.)
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export function applyDashboardSecurityHeaders(reply: FastifyReply): void {
  void reply.headers(DASHBOARD_SECURITY_HEADERS);
}
