import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** The dashboard's session cookie; scoped to /dashboard, so no other route ever receives it. */
export const SESSION_COOKIE = 'tollgate_dashboard';
/** A session lasts this long from sign-in, whatever happens in between. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** Who signed in: the provider (admin token) or a customer (one of their keys). */
export type DashboardSession =
  | { role: 'admin'; sid: string; expiresAt: number; adminTokenHash: string }
  | { role: 'customer'; sid: string; expiresAt: number; keyHash: string };

/**
 * Seals and opens session cookies, and derives their CSRF tokens. Both keys
 * are derived (HKDF-SHA256) from the server secret, like the webhook
 * endpoints' secrets, so every instance sharing that secret accepts the same
 * sessions and nothing about them is stored.
 *
 * The cookie is the session encrypted and authenticated with AES-256-GCM: a
 * client can neither read it (it holds a hash of the admin token or of the
 * customer's key, never the secret itself) nor forge or alter it.
 */
export class SessionSealer {
  private readonly sealKey: Buffer;
  private readonly csrfKey: Buffer;

  constructor(serverSecret: string) {
    this.sealKey = Buffer.from(hkdfSync('sha256', serverSecret, 'tollgate dashboard session', 'seal', 32));
    this.csrfKey = Buffer.from(hkdfSync('sha256', serverSecret, 'tollgate dashboard session', 'csrf', 32));
  }

  /** A new session for whoever just proved who they are. */
  create(who: { role: 'admin'; adminTokenHash: string } | { role: 'customer'; keyHash: string }, now: number): DashboardSession {
    return { ...who, sid: randomBytes(16).toString('base64url'), expiresAt: now + SESSION_TTL_MS };
  }

  seal(session: DashboardSession): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The session in a cookie value; null when it was not sealed here, was altered, or has expired. */
  open(value: string, now: number): DashboardSession | null {
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < 12 + 16 + 2 || raw.length > 2048) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      const text = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
      const session = JSON.parse(text) as DashboardSession;
      return session.expiresAt > now ? session : null;
    } catch {
      return null;
    }
  }

  /** The session's CSRF token (synchronizer pattern): the page sends it back in `x-csrf-token` on every change. */
  csrfToken(session: DashboardSession): string {
    return createHmac('sha256', this.csrfKey).update(session.sid).digest('base64url');
  }

  csrfMatches(session: DashboardSession, presented: string): boolean {
    const expected = Buffer.from(this.csrfToken(session));
    const given = Buffer.from(presented);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/** One cookie's value from a Cookie header; null when absent. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * The Set-Cookie value: HttpOnly (no script reads it), SameSite=Strict (no
 * other site's page sends it), Path=/dashboard, Secure over https. An empty
 * value with Max-Age=0 clears it.
 */
export function sessionCookie(value: string, options: { secure: boolean; maxAgeMs: number }): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/dashboard', `Max-Age=${Math.floor(options.maxAgeMs / 1000)}`, 'HttpOnly', 'SameSite=Strict'];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
