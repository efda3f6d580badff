import type { IncomingHttpHeaders } from 'node:http';
import { hashSecret } from '../domain/secrets.js';
import type { KeyContext } from '../domain/types.js';
import type { CatalogStore } from '../store/store.js';

/** A customer's credentials in either style of the seed APIs. */
export type Credentials = { key: string } | { appId: string; appKey: string };

/**
 * A customer's credentials from request headers, in either style of the seed
 * APIs: `x-api-key`, or `app_id` and `app_key`. Null when neither is complete.
 */
export function credentialsFromHeaders(headers: IncomingHttpHeaders): Credentials | null {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return { key: apiKey };
  const appId = headers.app_id;
  const appKey = headers.app_key;
  if (typeof appId === 'string' && typeof appKey === 'string' && appId !== '' && appKey !== '') return { appId, appKey };
  return null;
}

/** The credentials of a check's body (`POST /v1/check`, the SDK's `check`): `key`, else `app_id` with `app_key`. Null when neither is complete. */
export function credentialsFromCheckBody(body: { key?: string; app_id?: string; app_key?: string }): Credentials | null {
  if (body.key !== undefined) return { key: body.key };
  return body.app_id !== undefined && body.app_key !== undefined ? { appId: body.app_id, appKey: body.app_key } : null;
}

/** The token of an `Authorization: Bearer <token>` header; null for any other header, or none. */
export function bearerToken(authorization: string | string[] | undefined): string | null {
  if (typeof authorization !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match === null ? null : match[1]!;
}

/** The secret a customer authenticates with: the key, in either style. */
export function credentialSecret(credentials: Credentials): string {
  return 'key' in credentials ? credentials.key : credentials.appKey;
}

export type Authentication =
  | { ok: true; context: KeyContext }
  | { ok: false; message: string };

/**
 * Resolves a customer's key to its app, group and plan, refusing unknown,
 * revoked and expired keys, and keys presented with an app they do not
 * belong to. The secret is looked up by its hash only.
 */
export async function authenticate(store: CatalogStore, credentials: Credentials | null, now: number): Promise<Authentication> {
  if (credentials === null) {
    return { ok: false, message: 'Missing API key: send it in the x-api-key header, or send the app_id and app_key headers.' };
  }
  return authenticateHash(store, hashSecret(credentialSecret(credentials)), 'appId' in credentials ? credentials.appId : null, now);
}

/**
 * As `authenticate`, from the key's hash (the dashboard's customer session
 * holds the hash, never the key): a key revoked or expired since sign-in is
 * refused on the next request.
 */
export async function authenticateHash(store: CatalogStore, secretHash: string, appId: string | null, now: number): Promise<Authentication> {
  const context = await store.findKeyContext(secretHash);
  if (context === null) return { ok: false, message: 'Invalid API key.' };
  if (appId !== null && appId !== context.app.id) {
    return { ok: false, message: 'Invalid API key for this app_id.' };
  }
  if (context.app.disabledAt !== null && context.app.disabledAt <= now) {
    return { ok: false, message: `App "${context.app.id}" is disabled.` };
  }
  if (context.key.revokedAt !== null && context.key.revokedAt <= now) {
    return { ok: false, message: 'This API key has been revoked.' };
  }
  if (context.key.expiresAt !== null && context.key.expiresAt <= now) {
    return { ok: false, message: `This API key expired at ${new Date(context.key.expiresAt).toISOString()}.` };
  }
  return { ok: true, context };
}
