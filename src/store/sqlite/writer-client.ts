import { Worker } from 'node:worker_threads';
import type { PendingWrite } from '../../engine/pending-write.js';
import type { WriterOptions, WriterRequest, WriterResponse } from './writer-protocol.js';

type Call = WriterRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** An error the writer thread reported; `code` is SQLite's (e.g. SQLITE_FULL). */
export class WriterError extends Error {
  override name = 'WriterError';
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

/** The main thread's handle on the writer thread: each call is a message and a promise of its answer. */
export class WriterClient {
  private readonly worker: Worker;
  private readonly calls = new Map<number, { resolve: (r: WriterResponse & { ok: true }) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;
  private readonly exited: Promise<void>;
  private rollupPendingEvents = 0;

  constructor(options: WriterOptions) {
    this.worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: options });
    this.worker.on('message', (response: WriterResponse) => {
      if (response.ok && response.rollupPending !== undefined) this.rollupPendingEvents = response.rollupPending;
      const call = this.calls.get(response.id);
      if (call === undefined) return;
      this.calls.delete(response.id);
      if (response.ok) call.resolve(response);
      else call.reject(new WriterError(response.message, response.code));
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => {
        this.fail(new WriterError('the writer thread has stopped'));
        resolve();
      });
    });
    this.worker.on('error', (error) => this.fail(error));
  }

  /** Commits the batch in one transaction; resolves with each item's event seq. */
  async commit(items: PendingWrite[], receivedAt: number): Promise<number[]> {
    return (await this.call({ op: 'commit', items, receivedAt })).seqs!;
  }

  /** Committed events the writer thread has not yet written into the rollup tables, as of its last message. */
  get rollupPending(): number {
    return this.rollupPendingEvents;
  }

  /** Writes the rollups of everything committed so far. */
  async flushRollups(): Promise<void> {
    await this.call({ op: 'flushRollups' });
  }

  async prune(before: number): Promise<void> {
    await this.call({ op: 'prune', before });
  }

  /** Writes what is buffered, closes the database and stops the thread. */
  async close(): Promise<void> {
    if (this.failure === null) await this.call({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
    await this.exited;
  }

  private call(request: Call): Promise<WriterResponse & { ok: true }> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
  }
}
