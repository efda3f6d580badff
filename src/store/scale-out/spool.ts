import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { PendingWrite } from '../../engine/pending-write.js';

interface SpooledBatch {
  id: string;
  /** When the batch was received: its events keep it when replayed. */
  at: number;
  items: PendingWrite[];
  /** Set when the batch's own transaction may have committed after all: replayed only if it did not. */
  xid?: string;
}

/**
 * The local durable spool of a scale-out instance in fail-open mode:
 * batches of writes PostgreSQL could not take are appended to a file in the
 * data directory and fsynced before their callers hear back, then replayed
 * into PostgreSQL in the order they were written, once it is back (or at the
 * next start, after a crash).
 *
 * Replays are idempotent: every spooled item carries an id (`dedupKey`),
 * the ingest id it came with or one made for it here, so a batch replayed
 * twice (a crash between its commit and the removal of its file) counts once.
 */
export class Spool {
  private handle: FileHandle | null = null;
  private file: string | null = null;
  private appending: Promise<unknown> = Promise.resolve();
  private pendingBatches: number;
  private fileSeq = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.pendingBatches = this.closedFiles().reduce((n, f) => n + readBatches(join(dir, f)).length, 0);
  }

  /** Batches written to the spool and not yet replayed. */
  get pending(): number {
    return this.pendingBatches;
  }

  /** Appends a batch durably; resolves with an event id per item once it is on disk. */
  append(items: readonly PendingWrite[], receivedAt: number, xid?: string): Promise<string[]> {
    const id = randomUUID();
    const batch: SpooledBatch = {
      id, at: receivedAt, items: items.map((item, i) => ({ ...item, dedupKey: item.dedupKey ?? `spool:${id}:${i}` })), ...(xid === undefined ? {} : { xid }),
    };
    this.pendingBatches += 1;
    // One append at a time: lines never interleave, and batches keep their order.
    const appended = this.appending.then(async () => {
      if (this.handle === null) {
        this.file = join(this.dir, `spool-${Date.now()}-${String(this.fileSeq++).padStart(6, '0')}.ndjson`);
        this.handle = await open(this.file, 'a', 0o600);
      }
      await this.handle.appendFile(`${JSON.stringify(batch)}\n`);
      await this.handle.datasync();
      return batch.items.map((item) => item.dedupKey!);
    });
    this.appending = appended.catch(() => undefined);
    return appended.catch((error: unknown) => {
      this.pendingBatches -= 1;
      throw error;
    });
  }

  /**
   * Replays every batch, oldest first, each through `write` (one PostgreSQL
   * transaction), removing a file once all its batches are in. Stops at the
   * first failure, leaving the rest for the next try.
   */
  async replay(write: (items: PendingWrite[], receivedAt: number, xid?: string) => Promise<unknown>): Promise<number> {
    let replayed = 0;
    while (this.pendingBatches > 0) {
      await this.rotate();
      const files = this.closedFiles();
      if (files.length === 0) break;
      for (const name of files) {
        const path = join(this.dir, name);
        const batches = readBatches(path);
        for (const batch of batches) await write(batch.items, batch.at, batch.xid);
        rmSync(path);
        this.pendingBatches -= batches.length;
        replayed += batches.length;
      }
    }
    return replayed;
  }

  async close(): Promise<void> {
    await this.rotate();
  }

  /** Closes the file being appended to, so that it can be replayed; the next append starts a new one. */
  private async rotate(): Promise<void> {
    const closing = this.appending.then(async () => {
      const handle = this.handle;
      this.handle = null;
      this.file = null;
      await handle?.close();
    });
    this.appending = closing.catch(() => undefined);
    await closing;
  }

  private closedFiles(): string[] {
    return readdirSync(this.dir).filter((f) => f.startsWith('spool-') && f.endsWith('.ndjson') && join(this.dir, f) !== this.file).sort();
  }
}

/** The batches of a spool file; a torn last line (a crash mid-append, never acknowledged) is skipped. */
function readBatches(path: string): SpooledBatch[] {
  const batches: SpooledBatch[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      batches.push(JSON.parse(line) as SpooledBatch);
    } catch {
      // only the last line can be torn, and its callers were never answered
    }
  }
  return batches;
}
