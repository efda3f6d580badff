import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.js';
import { ApiError, type ErrorBody } from '../errors.js';
import { isOutage } from '../store/outage.js';
import { expectedWords } from './patterns.js';

/** Fastify's own errors that a client caused, and what each one becomes. */
const FASTIFY_CLIENT_ERRORS: Record<string, (e: FastifyError, request: FastifyRequest) => ApiError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new ApiError('payload_too_large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_e, request) => new ApiError('unsupported_media_type', unsupportedMediaType(request)),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new ApiError('invalid_request', 'The Content-Length header does not match the body.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new ApiError('invalid_request', 'The request body is empty; send a JSON object.'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new ApiError('invalid_request', 'The request body is not valid JSON.'),
  FST_ERR_BAD_URL: () => new ApiError('invalid_request', 'The request URL is malformed.'),
};

/**
 * Every error leaves as `{"error", "message"}` with the status the catalogue
 * gives its code; anything unexpected becomes a 500 that reveals nothing.
 */
export function installErrorHandling(app: FastifyInstance, maskSecrets: (text: string) => string): void {
  // A message may repeat what the caller sent (an id, a path): never a key or token pasted into it.
  const body = (error: ApiError): ErrorBody => ({ error: error.code, message: maskSecrets(error.message) });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error, request);
    const onPurpose = error instanceof ApiError || error instanceof DomainError;
    // Errors we raised on purpose (a 502 from the gateway, say) were logged where they arose.
    if (apiError.status >= 500 && !onPurpose) request.log.error({ err: error }, 'request failed');
    // A store that could not be reached: the caller hears 503, the operator reads why.
    else if (onPurpose && error.cause !== undefined) request.log.warn({ err: error.cause }, apiError.message);
    // Fastify closes the connection after a body it would not read, which resets it under a client still sending, who may then never see
    // the 413. With a declared length the rest is bounded: Node reads and drops it after the answer, and the connection serves on.
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && request.headers['content-length'] !== undefined) reply.removeHeader('connection');
    void reply.code(apiError.status).headers(apiError.headers).send(body(apiError));
  });
  // Node answers an HTTP/1.1 request without Host with a bare 400 (RFC 9112); this one is checked here instead, to answer with the error shape.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) done(new ApiError('invalid_request', 'The Host header is required.'));
    else done();
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    // A path that exists with other methods is answered 405 with the methods it has (RFC 9110, 15.5.6), not 404.
    const allowed = app.supportedMethods.filter((method) => app.findRoute({ method, url: path }) !== null).sort();
    if (allowed.length === 0) return void reply.code(404).send(body(new ApiError('not_found', `No route for ${request.method} ${path}.`)));
    void reply.code(405).header('allow', allowed.join(', '))
      .send(body(new ApiError('method_not_allowed', `${request.method} is not allowed on ${path}; it allows ${allowed.join(', ')}.`)));
  });
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers over
 * `maxHeaderSize`, a malformed request line or header, conflicting lengths, a
 * request that took too long): answered in the error shape, then the
 * connection is closed, as the parser cannot find where the next request begins.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError = error.code === 'HPE_HEADER_OVERFLOW' ? new ApiError('headers_too_large', `The request line and headers are larger than ${HEADER_LIMIT_KIB} KiB.`)
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new ApiError('request_timeout')
      : new ApiError('invalid_request', 'The request is not valid HTTP/1.1.');
  answerOnSocket(socket, apiError);
}

/**
 * Answers on the bare socket, for requests Fastify never sees, and closes
 * the connection. Not at once: a client may still be sending (the body
 * behind oversized headers), and closing with its bytes unread would reset
 * the connection, which can lose the answer before the client reads it. What
 * it still sends is read and dropped for a moment first.
 */
export function answerOnSocket(socket: Duplex, apiError: ApiError): void {
  // The parser reports each further chunk of a request it gave up on: one answer is enough.
  if (socket.writableEnded || socket.destroyed) return;
  const body = JSON.stringify(apiError.toBody() satisfies ErrorBody);
  socket.end(`HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

const LINGER_MS = 2000;

/** Which content types the route takes (those its body schema lists, else JSON), and which one came. */
function unsupportedMediaType(request: FastifyRequest): string {
  const content = (request.routeOptions.schema?.body as { content?: Record<string, unknown> } | undefined)?.content;
  const accepted = content === undefined ? ['application/json'] : Object.keys(content);
  const given = request.headers['content-type']?.slice(0, 100);
  const list = accepted.length === 1 ? accepted[0] : `${accepted.slice(0, -1).join(', ')} or ${accepted.at(-1)}`;
  return `${given === undefined ? 'A body without a Content-Type' : `Content-Type "${given}"`} is not accepted here; send ${list}.`;
}

const HEADER_LIMIT_KIB = Math.floor(maxHeaderSize / 1024);

function toApiError(error: FastifyError, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error;
  // The model's and the stores' refusals: the catalogue has a code of the same name for each.
  if (error instanceof DomainError) return new ApiError(error.code, error.message);
  if (error.validation) return new ApiError('invalid_request', error.message);
  const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
  if (known) return known(error, request);
  if (error instanceof SyntaxError && error.statusCode === 400) return new ApiError('invalid_request', 'The request body is not valid JSON.');
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError('invalid_request', error.message);
  }
  // The embedded store's disk is full (or failing): nothing was written, and a retry can succeed once there is room.
  if (typeof error.code === 'string' && /^SQLITE_(FULL|IOERR)/.test(error.code)) {
    return new ApiError('unavailable', 'The usage store cannot write right now (its disk is full or failing). Nothing was recorded; please try again later.');
  }
  // PostgreSQL or Redis cannot be reached (scale-out mode), on a path that did not say so itself: the admin API, say.
  if (isOutage(error)) return new ApiError('unavailable', 'The store cannot be reached right now. Please try again later.');
  return new ApiError('internal_error');
}

/**
 * One readable sentence out of a schema validator's findings: which
 * parameter is wrong and why, e.g. `query parameter "group_by" must be one of:
 * usage_type, request_args_hash, app_id`.
 */
export function formatValidationErrors(
  errors: ReadonlyArray<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>,
  dataVar: string,
): Error {
  const where: Record<string, string> = { querystring: 'query parameter', body: 'body field', params: 'path parameter', headers: 'header' };
  const sentences = withoutUnionNoise(errors).slice(0, 3).map((e) => {
    const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    if (e.keyword === 'required') return `${where[dataVar] ?? dataVar} "${joinPath(path, String(e.params.missingProperty))}" is required`;
    if (e.keyword === 'additionalProperties') return `${where[dataVar] ?? dataVar} "${joinPath(path, String(e.params.additionalProperty))}" is not recognised`;
    const subject = path === '' ? (dataVar === 'body' ? 'the body' : dataVar) : `${where[dataVar] ?? dataVar} "${path}"`;
    if (e.keyword === 'enum') return `${subject} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`;
    const words = expectedWords(e.keyword, e.params.pattern ?? e.params.format);
    if (words !== undefined) return `${subject} must be ${words}`;
    return `${subject} ${e.message ?? 'is invalid'}`;
  });
  return new Error(`${sentences.join('; ')}.`);
}

/**
 * A value that may also be null (`credits`, an override) fails every branch
 * of its union: "must be null" and "must match a schema in anyOf" say nothing
 * when the branch the value meant to take said what is wrong, at that field
 * or inside it. Left out then; kept where they are all there is.
 */
function withoutUnionNoise<E extends { instancePath: string; keyword: string; params: Record<string, unknown> }>(errors: readonly E[]): readonly E[] {
  const noise = (e: E) => e.keyword === 'anyOf' || (e.keyword === 'type' && e.params.type === 'null');
  const said = errors.filter((e) => !noise(e));
  if (said.length === 0) return errors;
  return errors.filter((e) => !noise(e) || !said.some((s) => s.instancePath === e.instancePath || s.instancePath.startsWith(`${e.instancePath}/`)));
}

function joinPath(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}
