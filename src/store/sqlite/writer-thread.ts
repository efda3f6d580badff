/**
 * The embedded store's writer, on a thread of its own: it commits admitted
 * calls (one transaction per batch, fsynced) and keeps the rollups, so the
 * fsync never stalls the thread that parses requests and decides limits.
 * It is the only writer of the events, check_replies and rollup tables, and
 * of what events consume of credits (credit_grants.used, credit_debts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';
import { RollupWriter } from './rollup-writer.js';
import { foldMovements } from '../credit-rows.js';
import { DUPLICATE, type PendingWrite } from '../../engine/pending-write.js';
import type { WriterOptions, WriterRequest, WriterResponse } from './writer-protocol.js';

const options = workerData as WriterOptions;
const db = openDatabase(options.path);
const rollups = new RollupWriter(db);
const insertEvent = db.prepare(`INSERT INTO events (seq, ts, group_id, app_id, key_id, usage_type, request_args_hash, count, received_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
const insertReply = db.prepare('INSERT INTO check_replies (group_id, idempotency_key, created_at, result) VALUES (?, ?, ?, ?)');
const pruneReplies = db.prepare('DELETE FROM check_replies WHERE created_at < ?');
// This thread is the only writer of events, so it hands out their seqs itself:
// claiming an ingested event's key and learning whether it is new is one statement.
let nextSeq = (db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 FROM events').pluck().get() as number);
const claimKey = db.prepare('INSERT OR IGNORE INTO event_keys (seq, key) VALUES (?, ?)');
// Events are appended in time of receipt, so the first event received at or after the cutoff splits the window.
const firstSeqSince = db.prepare('SELECT seq FROM events WHERE seq > ? AND received_at >= ? ORDER BY seq LIMIT 1').pluck();
const lastSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) FROM events').pluck();
const pruneKeys = db.prepare('DELETE FROM event_keys WHERE seq < ?');
let prunedUpTo = 0;
const useGrant = db.prepare('UPDATE credit_grants SET used = used + ? WHERE id = ?');
const addDebt = db.prepare('INSERT INTO credit_debts (group_id, debt) VALUES (?, ?) ON CONFLICT (group_id) DO UPDATE SET debt = debt + excluded.debt');

const commit = db.transaction((items: PendingWrite[], receivedAt: number): number[] => {
  const seqs = items.map((e) => {
    const seq = nextSeq;
    if (e.dedupKey !== undefined && claimKey.run(seq, e.dedupKey).changes === 0) return DUPLICATE;
    insertEvent.run(seq, e.ts, e.groupId, e.appId, e.keyId ?? null, e.usageType, e.requestArgsHash, e.count, receivedAt);
    nextSeq += 1;
    const { reply } = e;
    if (reply !== undefined) {
      insertReply.run(reply.groupId, reply.idempotencyKey, receivedAt, JSON.stringify({ ...(reply.result as object), eventId: String(seq) }));
    }
    return seq;
  });
  // The credits the batch's events consumed, once per grant and group; a duplicate's consume nothing.
  const credits = foldMovements(items, (i) => seqs[i] !== DUPLICATE);
  for (const [grantId, amount] of credits.grants) useGrant.run(amount, grantId);
  for (const [groupId, amount] of credits.debts) addDebt.run(groupId, amount);
  return seqs;
});

const timer = setInterval(() => {
  if (rollups.pendingEvents === 0) return;
  try {
    rollups.flush();
  } catch {
    // The disk is full, say: the sums stay buffered and the next tick tries again; queries read the buffer meanwhile.
    return;
  }
  parentPort!.postMessage({ id: 0, ok: true, rollupPending: 0 } satisfies WriterResponse);
}, options.rollupFlushMs);

function handle(request: WriterRequest): WriterResponse {
  switch (request.op) {
    case 'commit': {
      // IMMEDIATE: a transaction that reads (the dedup check) before it writes must hold the lock from the start.
      const seqs = commit.immediate(request.items, request.receivedAt);
      // Committed: now, and only now, the events may reach the rollups.
      request.items.forEach((item, i) => {
        if (seqs[i] !== DUPLICATE) rollups.add(item, seqs[i]!);
      });
      return { id: request.id, ok: true, seqs, rollupPending: rollups.pendingEvents };
    }
    case 'flushRollups':
      rollups.flush();
      return { id: request.id, ok: true, rollupPending: 0 };
    case 'prune': {
      pruneReplies.run(request.before);
      const cutoff = (firstSeqSince.get(prunedUpTo, request.before) as number | undefined) ?? (lastSeq.get() as number) + 1;
      pruneKeys.run(cutoff);
      prunedUpTo = cutoff - 1;
      return { id: request.id, ok: true };
    }
    case 'close':
      clearInterval(timer);
      rollups.flush();
      db.close();
      return { id: request.id, ok: true };
  }
}

parentPort!.on('message', (request: WriterRequest) => {
  let response: WriterResponse;
  try {
    response = handle(request);
  } catch (error) {
    const e = error as { message?: string; code?: string };
    response = { id: request.id, ok: false, message: e.message ?? String(error), ...(e.code ? { code: e.code } : {}) };
  }
  parentPort!.postMessage(response);
  if (request.op === 'close') parentPort!.close();
});
