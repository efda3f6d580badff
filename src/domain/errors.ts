/**
 * What the model and the stores refuse with, in their own terms. The HTTP
 * layer decides what each becomes on the wire (src/http/error-handler.ts
 * maps `code` to the error catalogue's status and body); nothing below it
 * knows of HTTP.
 */
export type DomainErrorCode = 'conflict' | 'not_found' | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
}

/** A create collided with an existing id, or a change is not possible in the entity's state. */
export class ConflictError extends DomainError {
  readonly code = 'conflict';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A referenced entity does not exist. */
export class NotFoundError extends DomainError {
  readonly code = 'not_found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/**
 * The store cannot serve the call right now (PostgreSQL or Redis cannot be
 * reached, another instance is still deciding): the caller may retry. The
 * underlying failure, when there is one, is kept as `cause` for the log.
 */
export class UnavailableError extends DomainError {
  readonly code = 'unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}
