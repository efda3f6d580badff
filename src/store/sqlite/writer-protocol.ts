import type { UsageEvent } from '../../domain/types.js';

/**
 * One event for the writer thread, flat (it is copied to the thread, and
 * flat objects copy fastest): what it counts, and for a check the answer to
 * remember under its idempotency key.
 */
export interface PendingWrite extends Omit<UsageEvent, 'id' | 'keyId'> {
  keyId?: string | null;
  reply?: { groupId: string; idempotencyKey: string; result: unknown };
  /** Set for ingested events: a key seen before makes the write a duplicate (seq -1). */
  dedupKey?: string;
}

/** The seq a duplicate gets instead of one. */
export const DUPLICATE = -1;

export type WriterRequest =
  | { op: 'commit'; id: number; items: PendingWrite[]; receivedAt: number }
  | { op: 'flushRollups'; id: number }
  | { op: 'prune'; id: number; before: number }
  | { op: 'close'; id: number };

export type WriterResponse =
  | { id: number; ok: true; seqs?: number[] }
  | { id: number; ok: false; message: string; code?: string };

export interface WriterOptions {
  path: string;
  rollupFlushMs: number;
}
