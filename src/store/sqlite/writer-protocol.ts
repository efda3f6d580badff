import type { PendingWrite } from '../../engine/pending-write.js';

export type WriterRequest =
  | { op: 'commit'; id: number; items: PendingWrite[]; receivedAt: number }
  | { op: 'flushRollups'; id: number }
  | { op: 'prune'; id: number; before: number }
  | { op: 'close'; id: number };

export type WriterResponse =
  /** `rollupPending`: committed events not yet in the rollup tables; id 0 is news of a timed flush, no call's answer. */
  | { id: number; ok: true; seqs?: number[]; rollupPending?: number }
  | { id: number; ok: false; message: string; code?: string };

export interface WriterOptions {
  path: string;
  rollupFlushMs: number;
}
