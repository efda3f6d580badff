import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { KeyContext } from '../domain/types.js';
import { bearerToken, credentialsFromHeaders, type Credentials } from '../metering/credentials.js';
import type { ResponseHeaders } from './cost.js';

/**
 * Which headers cross the gateway, each way. The customer's secret never
 * reaches the upstream; in its place the upstream gets headers it can trust
 * (`x-tollgate-app-id`, `x-tollgate-group-id`, `x-tollgate-key-id`), because
 * the gateway removes any of that name the client sent.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'http2-settings',
]);

/** Request headers that stay with the gateway: the credentials, ours to set, and what undici sets itself. */
const REQUEST_ONLY = new Set([
  'host', 'x-api-key', 'app_key', 'app_id',
  // undici refuses it; Node has already answered 100 Continue to the client.
  'expect',
  // Set below from what the gateway itself saw.
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
]);

export const TRUSTED_PREFIX = 'x-tollgate-';

/**
 * The customer's credentials: `x-api-key`, or `app_id` + `app_key` (the two
 * seed styles), or else `Authorization: Bearer <key>` when the token has the
 * customer-key prefix (any other Authorization is the upstream's business).
 */
export function gatewayCredentials(request: FastifyRequest, keyPrefix: string): Credentials | null {
  const seed = credentialsFromHeaders(request.headers);
  if (seed !== null) return seed;
  const token = bearerToken(request.headers.authorization);
  return token !== null && token.startsWith(keyPrefix) ? { key: token } : null;
}

export interface ClientView {
  /** The client's address as the gateway saw it. */
  ip: string;
  protocol: 'http' | 'https';
  host: string | undefined;
}

/**
 * The headers sent upstream: the client's, less the hop-by-hop ones, the
 * credentials (an Authorization header only when it carried the customer's
 * secret) and any `x-tollgate-*`; plus the trusted identity of the caller and
 * the usual `x-forwarded-*`.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, secret: string, context: KeyContext, client: ClientView): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY.has(name) || name.startsWith('proxy-') || name.startsWith(TRUSTED_PREFIX)) continue;
    if (listed !== null && listed.has(name)) continue;
    if (name === 'authorization' && typeof value === 'string' && value.includes(secret)) continue;
    out[name] = value;
  }
  out['x-tollgate-app-id'] = context.app.id;
  out['x-tollgate-group-id'] = context.group.id;
  out['x-tollgate-key-id'] = context.key.id;
  const forwardedFor = headers['x-forwarded-for'];
  out['x-forwarded-for'] = typeof forwardedFor === 'string' && forwardedFor !== '' ? `${forwardedFor}, ${client.ip}` : client.ip;
  out['x-forwarded-proto'] = client.protocol;
  if (client.host !== undefined) out['x-forwarded-host'] = client.host;
  return out;
}

/**
 * The upstream's answer headers that go on to the client: all but the
 * hop-by-hop ones, removed in place (undici's object is ours to change).
 */
export function clientResponseHeaders(headers: ResponseHeaders): ResponseHeaders {
  const connection = headers.connection;
  const listed = connectionListed(Array.isArray(connection) ? connection.join(',') : connection);
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (listed !== null && listed.has(name))) delete headers[name];
  }
  return headers;
}

/** Header names a Connection header lists (they are hop-by-hop too); null when there are none. */
function connectionListed(connection: string | undefined): Set<string> | null {
  // The usual values, without splitting: this runs on every call.
  if (connection === undefined || connection === '' || connection === 'keep-alive' || connection === 'close') return null;
  const names = connection.split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '' && n !== 'close' && n !== 'keep-alive');
  return names.length === 0 ? null : new Set(names);
}
