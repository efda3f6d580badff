import type { CreditMovement } from '../domain/credits.js';
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
  /**
   * What the event consumed of its group's credits (src/domain/credits.ts,
   * `allocate`): applied in the same transaction as the event, and not at
   * all when the event turns out to be a duplicate.
   */
  credits?: CreditMovement[];
}

/** The seq a duplicate gets instead of one. */
export const DUPLICATE = -1;
