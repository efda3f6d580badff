import type { UsageEvent } from '../domain/types.js';

/**
 * One event on its way to durable storage, as every store's writer takes
 * it (flat, so it copies fast to a writer thread): what it counts, and for a
 * check the answer to remember under its idempotency key.
 */
export interface PendingWrite extends Omit<UsageEvent, 'id' | 'keyId'> {
  keyId?: string | null;
  reply?: { groupId: string; idempotencyKey: string; result: unknown };
  /** Set for ingested events: a key seen before makes the write a duplicate (seq -1). */
  dedupKey?: string;
}

/** The seq a duplicate gets instead of one. */
export const DUPLICATE = -1;
