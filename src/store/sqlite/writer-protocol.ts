import type { UsageEvent } from '../../domain/types.js';

/** One admitted call for the writer thread: its event, and the answer to remember under its idempotency key. */
export interface PendingWrite {
  event: Omit<UsageEvent, 'id'>;
  reply: { groupId: string; idempotencyKey: string; result: unknown } | null;
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
