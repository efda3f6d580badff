/**
 * Preloaded into a Tollgate instance of the scale-out benchmark
 * (NODE_OPTIONS="--import <this file>", BENCH_REDIS_COUNTS_FILE=<file>):
 * counts the Redis commands the instance writes to its connections, by
 * name. Redis's own INFO cannot tell these apart from the commands a Lua
 * script runs inside the server (Redis 7 counts both); this can. It also
 * counts the writes to the sockets under `(writes)`: with auto-pipelining,
 * the commands of one event-loop turn share one write.
 *
 * On SIGUSR2 it writes `{ "snapshot": n, "counts": { name: calls } }` to
 * the file (snapshot 0 as soon as it is loaded), for the parent to diff.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { Command } from 'ioredis';

const file = process.env.BENCH_REDIS_COUNTS_FILE;
if (file !== undefined && file !== '') {
  const counts: Record<string, number> = Object.create(null) as Record<string, number>;
  const toWritable = Command.prototype.toWritable;
  const counted = new WeakSet<object>();
  Command.prototype.toWritable = function countedToWritable(this: Command, socket: object) {
    counts[this.name] = (counts[this.name] ?? 0) + 1;
    if (!counted.has(socket)) {
      counted.add(socket);
      const stream = socket as { write: (...args: unknown[]) => boolean };
      const write = stream.write;
      stream.write = function countedWrite(this: unknown, ...args: unknown[]) {
        counts['(writes)'] = (counts['(writes)'] ?? 0) + 1;
        return write.apply(this, args);
      };
    }
    return toWritable.call(this, socket);
  };
  let snapshot = 0;
  const write = (): void => {
    writeFileSync(`${file}.tmp`, JSON.stringify({ snapshot, counts }));
    renameSync(`${file}.tmp`, file);
    snapshot += 1;
  };
  write();
  process.on('SIGUSR2', write);
}
