import type { Database as DB, Statement } from 'better-sqlite3';
import { RollupBuffer, type RolledUpEvent } from '../rollup-buffer.js';
import type { RollupLevel } from '../../domain/rollups.js';

/**
 * Keeps the rollup tables up to date from committed events: sums them in
 * memory and writes the sums together with the watermark (the last event
 * included) in one transaction. Whatever is past the watermark after a crash
 * is rolled up again at the next open, so nothing is lost or counted twice.
 */
export class RollupWriter {
  private readonly buffer = new RollupBuffer();
  private seq: number;
  private readonly upsert: Record<RollupLevel, Statement>;
  private readonly setWatermark: Statement;

  constructor(private readonly db: DB) {
    const upsert = (level: RollupLevel) => db.prepare(`INSERT INTO rollup_${level}
        (group_id, dimension, bucket, value, count, app_id_sole, usage_type_sole, request_args_hash_sole)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (group_id, dimension, bucket, value) DO UPDATE SET
        count = count + excluded.count,
        app_id_sole = CASE WHEN app_id_sole IS excluded.app_id_sole THEN app_id_sole END,
        usage_type_sole = CASE WHEN usage_type_sole IS excluded.usage_type_sole THEN usage_type_sole END,
        request_args_hash_sole = CASE WHEN request_args_hash_sole IS excluded.request_args_hash_sole THEN request_args_hash_sole END`);
    this.upsert = { quarter: upsert('quarter'), hour: upsert('hour'), day: upsert('day') };
    this.setWatermark = db.prepare('UPDATE rollup_watermark SET seq = ? WHERE id = 1');
    this.seq = (db.prepare('SELECT seq FROM rollup_watermark WHERE id = 1').get() as { seq: number }).seq;
  }

  /** The seq of the last event added (written or not). */
  get watermark(): number {
    return this.seq;
  }

  /** Committed events added since the last write of the rollups. */
  get pendingEvents(): number {
    return this.buffer.pendingEvents;
  }

  /** Adds a committed event; `seq` must grow from call to call. */
  add(event: RolledUpEvent, seq: number): void {
    this.buffer.add(event);
    this.seq = seq;
  }

  /**
   * Writes what is buffered and moves the watermark, in one transaction. When
   * that fails (the disk is full), the buffer keeps everything for the next flush.
   */
  flush(): void {
    if (this.buffer.pendingEvents === 0) return;
    const deltas = this.buffer.deltas();
    this.db.transaction(() => {
      for (const d of deltas) {
        this.upsert[d.level].run(d.groupId, d.dimension, d.bucket, d.value, d.count, d.appId, d.usageType, d.requestArgsHash);
      }
      this.setWatermark.run(this.seq);
    }).immediate();
    this.buffer.clear();
  }

  /**
   * Rolls up the events past the watermark, in slices that each move it, so
   * memory stays bounded and an interrupted recovery resumes where it stopped.
   */
  recover(slice = 100_000): number {
    const read = this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    let recovered = 0;
    for (;;) {
      const rows = read.all(this.seq, slice) as EventRow[];
      for (const r of rows) {
        this.add({
          ts: r.ts, groupId: r.group_id, appId: r.app_id, keyId: r.key_id, usageType: r.usage_type, requestArgsHash: r.request_args_hash, count: r.count,
        }, r.seq);
      }
      recovered += rows.length;
      this.flush();
      if (rows.length < slice) return recovered;
    }
  }
}

interface EventRow {
  seq: number;
  ts: number;
  group_id: string;
  app_id: string;
  key_id: string | null;
  usage_type: string;
  request_args_hash: string;
  count: number;
}
