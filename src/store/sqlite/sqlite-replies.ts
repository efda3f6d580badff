import type { Database as DB, Statement } from 'better-sqlite3';
import { replayOf, type MeterRequest, type MeterResult } from '../../domain/metering.js';
import type { ReplyStore } from '../../engine/ports.js';

/**
 * The answers given under idempotency keys, in the embedded store's file
 * (written by the writer thread with the call's event). One process owns the
 * file, and the engine already lets one call per key decide at a time: a
 * lookup is all it takes.
 */
export class SqliteReplies implements ReplyStore {
  private readonly getReply: Statement;

  constructor(db: DB) {
    this.getReply = db.prepare('SELECT result FROM check_replies WHERE group_id = ? AND idempotency_key = ?');
  }

  async once(request: MeterRequest, idempotencyKey: string, decide: () => Promise<MeterResult>): Promise<MeterResult> {
    const stored = this.getReply.get(request.groupId, idempotencyKey) as { result: string } | undefined;
    if (stored !== undefined) return replayOf(JSON.parse(stored.result));
    return decide();
  }
}
