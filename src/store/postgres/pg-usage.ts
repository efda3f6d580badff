import type { Pool, PoolClient } from 'pg';
import { unitsForSpans } from '../../domain/counter-units.js';
import type { CounterRef } from '../../domain/limits.js';
import type { Span } from '../../domain/periods.js';
import { DUPLICATE, type PendingWrite } from '../../engine/pending-write.js';
import { foldMovements } from '../credit-rows.js';
import type { Seed, SpanSeeds } from '../../engine/ports.js';
import { RollupBuffer, type RollupDelta } from '../rollup-buffer.js';
import type { RollupLevel, RollupQuery, RollupStore, RollupSum } from '../../domain/rollups.js';

/**
 * The connection broke while COMMIT was under way: the transaction may or
 * may not have committed. `txid_status(xid)` tells, once PostgreSQL answers.
 */
export class CommitUncertainError extends Error {
  override name = 'CommitUncertainError';
  constructor(readonly xid: string, override readonly cause: unknown) {
    super(`the commit of transaction ${xid} was interrupted: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** PostgreSQL errors worth trying a transaction again for: deadlock, serialization failure. */
const RETRYABLE = new Set(['40P01', '40001']);

const SOLE_FIELDS = ['app_id', 'usage_type', 'request_args_hash'] as const;

/** Rollup rows per key that concurrent transactions spread their updates over (schema version 2). */
const ROLLUP_SHARDS = 16;

/** A rollup level's upsert, a data-modifying CTE of WRITE_EVENTS. */
const upsert = (level: RollupLevel) => `up_${level} AS (INSERT INTO rollup_${level} AS r
    (group_id, dimension, bucket, value, shard, count, app_id_sole, usage_type_sole, request_args_hash_sole)
  SELECT g, d, b, v, $17, c, a, u, h FROM deltas WHERE l = '${level}' ORDER BY n
  ON CONFLICT (group_id, dimension, bucket, value, shard) DO UPDATE SET count = r.count + EXCLUDED.count,
  ${SOLE_FIELDS.map((f) => `${f}_sole = CASE WHEN r.${f}_sole = EXCLUDED.${f}_sole THEN r.${f}_sole END`).join(', ')})`;

/**
 * The events, the rollup rows they change and the credits they used, in one
 * statement; prepared once per connection (a named statement), as its text
 * never changes.
 */
const WRITE_EVENTS = `WITH
  deltas AS (SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::bigint[], $15::text[], $16::text[], $18::text[])
    WITH ORDINALITY AS t(l, g, d, b, v, c, a, u, h, n)),
  ${(['quarter', 'hour', 'day'] as const).map(upsert).join(',\n      ')},
  uses AS (INSERT INTO credit_uses (grant_id, group_id, amount) SELECT * FROM unnest($19::text[], $20::text[], $21::bigint[])),
  inserted AS (INSERT INTO events (ts, group_id, app_id, key_id, usage_type, request_args_hash, count, received_at)
    SELECT ts, g, a, k, u, h, c, $8 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS t(ts, g, a, k, u, h, c)
    RETURNING seq)
  SELECT seq FROM inserted`;

/**
 * The scale-out store's usage tables in PostgreSQL: events, their rollups,
 * ingest ids, remembered check answers, and what the events consumed of
 * credits (credit_uses). A batch of writes from any instance is one transaction: the
 * events, the rollup rows they change, the answers to remember and the
 * credits commit together or not at all, so usage read from the rollups
 * always matches the events, with no watermark to recover.
 *
 * Instances count the same hot rollup rows at once: each transaction writes
 * one of 16 shards of a row, picked at random, so concurrent transactions
 * rarely wait on each other's row locks; every transaction takes its locks
 * in one global order (sorted keys), so they queue instead of deadlocking,
 * and a deadlock that happens anyway is retried.
 */
export class PgUsage {
  constructor(private readonly pool: Pool) {}

  /**
   * Commits a batch; one seq per item, in order, DUPLICATE for an ingest id
   * already seen, and the id of the transaction that committed them.
   */
  async write(items: readonly PendingWrite[], receivedAt: number): Promise<{ seqs: number[]; xid: string }> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.pool.connect();
      // A connection lost between two statements of the transaction is reported by the next one; without a
      // listener the client's 'error' event would end the process.
      const ignore = () => undefined;
      client.on('error', ignore);
      let broken = false;
      try {
        // The transaction's id comes in the same round trip, in case its COMMIT is interrupted.
        const begun = (await client.query('BEGIN; SELECT txid_current()::text AS xid')) as unknown as Array<{ rows: Array<{ xid: string }> }>;
        const xid = begun[1]!.rows[0]!.xid;
        const seqs = await this.writeIn(client, items, receivedAt);
        try {
          await client.query('COMMIT');
        } catch (error) {
          broken = true;
          throw new CommitUncertainError(xid, error);
        }
        return { seqs, xid };
      } catch (error) {
        if (error instanceof CommitUncertainError) throw error;
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (attempt < 5 && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      } finally {
        client.off('error', ignore);
        // A connection that could not even roll back is closed rather than handed to the next caller.
        client.release(broken);
      }
    }
  }

  private async writeIn(client: PoolClient, items: readonly PendingWrite[], receivedAt: number): Promise<number[]> {
    const fresh = await this.claimIngestKeys(client, items, receivedAt);
    const kept = items.filter((_, i) => fresh[i]);
    const seqs = kept.length === 0 ? [] : await this.insertEventsAndRollups(client, kept, receivedAt);

    const replies: Array<[string, string, string]> = [];
    kept.forEach((item, i) => {
      if (item.reply !== undefined) {
        const result = JSON.stringify({ ...(item.reply.result as object), eventId: String(seqs[i]) });
        replies.push([item.reply.groupId, item.reply.idempotencyKey, result]);
      }
    });
    if (replies.length > 0) {
      replies.sort((a, b) => compare(a[0] + '\u0000' + a[1], b[0] + '\u0000' + b[1]));
      await client.query(`INSERT INTO check_replies (group_id, idempotency_key, created_at, result)
        SELECT g, k, $3, r FROM unnest($1::text[], $2::text[], $4::text[]) AS t(g, k, r)
        ON CONFLICT DO NOTHING`, [replies.map((r) => r[0]), replies.map((r) => r[1]), receivedAt, replies.map((r) => r[2])]);
    }
    let next = 0;
    return fresh.map((isFresh) => (isFresh ? seqs[next++]! : DUPLICATE));
  }

  /** Which items are new: those without an ingest id, and the first of each id not seen before. */
  private async claimIngestKeys(client: PoolClient, items: readonly PendingWrite[], receivedAt: number): Promise<boolean[]> {
    const firstIndex = new Map<string, number>();
    items.forEach((item, i) => {
      if (item.dedupKey !== undefined && !firstIndex.has(item.dedupKey)) firstIndex.set(item.dedupKey, i);
    });
    if (firstIndex.size === 0) return items.map(() => true);
    const keys = [...firstIndex.keys()];
    const { rows } = await client.query<{ key: string }>(`INSERT INTO event_keys (key, received_at)
      SELECT k, $2 FROM unnest($1::text[]) AS t(k) ORDER BY k COLLATE "C"
      ON CONFLICT DO NOTHING RETURNING key`, [keys, receivedAt]);
    const claimed = new Set(rows.map((r) => firstIndex.get(r.key)!));
    return items.map((item, i) => item.dedupKey === undefined || claimed.has(i));
  }

  /**
   * The events, the rollup rows they change and the credits they used, in one
   * statement (one round trip): the rollup upserts and the credit uses are
   * data-modifying CTEs beside the insert. Credit uses are appended rows, not
   * updates of the grants, so batches of every instance spending one group's
   * grants never wait on each other.
   */
  private async insertEventsAndRollups(client: PoolClient, items: readonly PendingWrite[], receivedAt: number): Promise<number[]> {
    const column = <K extends keyof PendingWrite>(k: K) => items.map((item) => item[k] ?? null);
    const buffer = new RollupBuffer();
    for (const item of items) buffer.add(item);
    // One lock order for every transaction on every instance: sorted by the rows' keys.
    const deltas = buffer.drain().sort((a, b) => compare(a.level, b.level) || compare(a.groupId, b.groupId) || compare(a.dimension, b.dimension)
      || a.bucket - b.bucket || compare(a.value, b.value));
    const rollup = <K extends keyof RollupDelta>(k: K) => deltas.map((d) => d[k]);
    const shard = Math.floor(Math.random() * ROLLUP_SHARDS);
    const { rows } = await client.query<{ seq: number }>({ name: 'tollgate-write-events', text: WRITE_EVENTS, values: [column('ts'), column('groupId'), column('appId'), column('keyId'), column('usageType'), column('requestArgsHash'), column('count'), receivedAt,
      rollup('level'), rollup('groupId'), rollup('dimension'), rollup('bucket'), rollup('value'), rollup('count'), rollup('appId'), rollup('usageType'), shard,
      rollup('requestArgsHash'), ...creditUses(items)] });
    // Seqs come from one sequence in the order the rows were inserted: sorted, they are in the items' order.
    return rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
  }

  /** Sums per value for each segment, all segments in one query. */
  sumRollups(query: RollupQuery): Promise<RollupSum[][]> {
    return this.sumRollupsOn(this.pool, query);
  }

  /**
   * Runs `read` on one snapshot of the rollups, and answers that snapshot
   * (`txid_current_snapshot`, "xmin:xmax:xip,…"): which transactions' writes
   * the result holds, so that a counter seeded from it is not added to again
   * for those (see ADD_USAGE_SCRIPT).
   */
  async snapshotted<T>(read: (rollups: RollupStore) => Promise<T>): Promise<{ value: T; snapshot: string }> {
    const client = await this.pool.connect();
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ snapshot: string }>('SELECT txid_current_snapshot()::text AS snapshot');
      const value = await read({ sumRollups: (query) => this.sumRollupsOn(client, query) });
      await client.query('COMMIT');
      return { value, snapshot: rows[0]!.snapshot };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }

  /**
   * A counter's units over a span, with the snapshot they were read in: the
   * counter remembers it, so that usage committed in it is not added again.
   */
  async counterSeed(ref: CounterRef, span: Span): Promise<Seed> {
    const { units: [units], snapshot } = await this.counterSeeds(ref, [span]);
    return { units: units!, snapshot: snapshot! };
  }

  /** A counter's units in each span (an hour or day window and the one before), all read in one snapshot, which they come with. */
  async counterSeeds(ref: CounterRef, spans: readonly Span[]): Promise<SpanSeeds> {
    const { value, snapshot } = await this.snapshotted((rollups) => unitsForSpans(rollups, ref, spans));
    return { units: value, snapshot };
  }

  private async sumRollupsOn(db: Pool | PoolClient, query: RollupQuery): Promise<RollupSum[][]> {
    if (query.segments.length === 0) return [];
    const params: unknown[] = [query.groupId, query.dimension];
    const parts = query.segments.map((segment, i) => {
      params.push(segment.start, segment.end);
      const [from, to] = [params.length - 1, params.length];
      // A field is shared when every row has it (COUNT skips NULL: "varies") and all agree.
      return `SELECT ${i} AS segment, value, SUM(count)::bigint AS count,
        ${SOLE_FIELDS.map((f) => `CASE WHEN COUNT(${f}_sole) = COUNT(*) AND MIN(${f}_sole) = MAX(${f}_sole) THEN MIN(${f}_sole) END AS "${camel(f)}"`).join(', ')}
        FROM rollup_${segment.level} WHERE group_id = $1 AND dimension = $2 AND bucket >= $${from} AND bucket < $${to} GROUP BY value`;
    });
    const { rows } = await db.query<RollupSum & { segment: number }>(
      `SELECT * FROM (${parts.map((p) => `(${p})`).join(' UNION ALL ')}) AS sums ORDER BY segment, value COLLATE "C"`, params);
    const result: RollupSum[][] = query.segments.map(() => []);
    for (const { segment, ...sum } of rows) result[segment]!.push(sum);
    return result;
  }

  /** Whether an interrupted transaction committed: 'committed', 'aborted' or 'in progress'. */
  async transactionStatus(xid: string): Promise<'committed' | 'aborted' | 'in progress'> {
    const { rows } = await this.pool.query<{ status: string | null }>('SELECT txid_status($1::bigint) AS status', [xid]);
    // null: too old to know, which for a transaction of moments ago cannot happen; treat as not committed.
    return (rows[0]?.status ?? 'aborted') as 'committed' | 'aborted' | 'in progress';
  }

  /** The answer remembered for a check under this idempotency key, if any. */
  async reply(groupId: string, idempotencyKey: string): Promise<unknown> {
    const { rows } = await this.pool.query<{ result: string }>('SELECT result FROM check_replies WHERE group_id = $1 AND idempotency_key = $2',
      [groupId, idempotencyKey]);
    return rows[0] === undefined ? null : JSON.parse(rows[0].result);
  }

  /** Forgets answers and ingest ids received before `before`. */
  async prune(before: number): Promise<void> {
    await this.pool.query('DELETE FROM check_replies WHERE created_at < $1', [before]);
    await this.pool.query('DELETE FROM event_keys WHERE received_at < $1', [before]);
  }
}

/** The batch's credit uses as the statement's three columns: grant id (or null), group id (or null), amount. */
function creditUses(items: readonly PendingWrite[]): [Array<string | null>, Array<string | null>, number[]] {
  const { grants, debts } = foldMovements(items, () => true);
  return [[...grants.map(([id]) => id), ...debts.map(() => null)], [...grants.map(() => null), ...debts.map(([g]) => g)],
    [...grants.map(([, d]) => d), ...debts.map(([, d]) => d)]];
}

/** Bytewise order, as PostgreSQL's "C" collation and the embedded store sort. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
