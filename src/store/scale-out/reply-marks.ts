import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { UnavailableError } from '../../domain/errors.js';
import { replayOf, type MeterRequest, type MeterResult } from '../../domain/metering.js';
import type { ReplyStore } from '../../engine/ports.js';
import type { RedisPath } from './redis-path.js';

/** An answer being decided under an idempotency key is marked so in Redis until it is known. */
const PENDING = 'pending';
/** How long Redis keeps a remembered answer; PostgreSQL keeps it for the whole window. */
const REPLY_CACHE_MS = 10 * 60_000;
/** How long an instance waits for another that is deciding the same idempotency key. */
const PENDING_MS = 30_000;

/**
 * Answers under idempotency keys across instances: PostgreSQL remembers each
 * answer for the whole window (written with the call's event); a mark in
 * Redis lets one instance decide while the others wait for its answer, and
 * keeps the answer at hand for ten minutes. While Redis is away (fail-open),
 * this instance decides alone, from the answers PostgreSQL remembers.
 */
export class ReplyMarks implements ReplyStore {
  /** @param stored the answer PostgreSQL remembers under a key, if any. */
  constructor(
    private readonly redis: Redis,
    private readonly path: RedisPath,
    private readonly stored: (groupId: string, idempotencyKey: string) => Promise<unknown>,
  ) {}

  async once(request: MeterRequest, idempotencyKey: string, decide: () => Promise<MeterResult>): Promise<MeterResult> {
    const mark = `tg:{${request.groupId}}:reply:${idempotencyKey}`;
    const deadline = Date.now() + PENDING_MS;
    for (;;) {
      // null: Redis is away (fail-open), and this instance decides alone.
      const mine = await this.path.run(async () => {
        const claimed = await this.redis.set(mark, PENDING, 'PX', PENDING_MS, 'NX');
        return { claimed: claimed === 'OK', value: claimed === 'OK' ? null : await this.redis.get(mark) };
      }, () => null);
      if (mine === null) return (await this.storedReply(request.groupId, idempotencyKey)) ?? decide();
      if (mine.claimed) break;
      const { value } = mine;
      if (value !== null && value !== PENDING) return replayOf(JSON.parse(value));
      if (Date.now() > deadline) throw new UnavailableError('Another call with this idempotency key is still being decided.');
      if (value === PENDING) await sleep(5);
    }
    try {
      const stored = await this.storedReply(request.groupId, idempotencyKey);
      // The mark only spares other instances a wait: failing to set it changes no answer.
      if (stored !== null) {
        await this.redis.set(mark, JSON.stringify({ ...stored, replayed: false }), 'PX', REPLY_CACHE_MS).catch(() => undefined);
        return stored;
      }
      const result = await decide();
      // Only recorded calls are remembered: a refused call may be retried under the same key.
      if (result.eventId !== null) await this.redis.set(mark, JSON.stringify(result), 'PX', REPLY_CACHE_MS).catch(() => undefined);
      else await this.redis.del(mark).catch(() => undefined);
      return result;
    } catch (error) {
      await this.redis.del(mark).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The answer PostgreSQL remembers under this key, replayed. In fail-open
   * mode, while PostgreSQL is away, none: retries within the last 10 minutes
   * are still recognised by their answer in Redis.
   */
  private async storedReply(groupId: string, idempotencyKey: string): Promise<MeterResult | null> {
    try {
      const stored = await this.stored(groupId, idempotencyKey);
      return stored === null ? null : replayOf(stored);
    } catch (error) {
      if (this.path.ridesOut(error)) return null;
      throw error;
    }
  }
}
