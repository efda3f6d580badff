import { closeSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Raised when another live process holds the data directory, or this one already does. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

const LOCK_FILE = 'tollgate.lock';

const SQLITE_HEADER = 'SQLite format 3\0';

/** The data directories this process holds, by device and inode (one directory reached by two paths is one). */
const heldHere = new Set<string>();

/**
 * One process per data directory: the embedded store keeps its limits and
 * counters in memory, so a second process on the same file would count on
 * its own and let twice the limits through. A scale-out instance takes it
 * too: its data directory holds its own spool.
 *
 * The lock is a kernel lock, not a pid: `tollgate.lock` is a small SQLite
 * file on which this process keeps a write transaction open (SQLite's POSIX
 * fcntl locks) until release. The kernel drops such a lock the moment its
 * holder dies, however it dies (kill -9, OOM), before the process is even
 * reaped, so a restart right after a crash always finds it free. A pid would
 * not do: in a container the server is pid 1 at every start, and a killed
 * process that is not yet reaped still answers to its pid.
 *
 * The file stays in the directory after release: removing it would let a
 * process waiting on the old file and one creating a new file both hold "the"
 * lock. The holder's pid is written into it for the message of a refused
 * start only; it never decides anything. The owner keeps the instance until
 * release: the connection that holds the lock lives in it.
 */
export class DataDirLock {
  private constructor(private readonly db: Database.Database, private readonly key: string) {}

  static acquire(dataDir: string): DataDirLock {
    const dir = statSync(dataDir, { bigint: true });
    const key = `${dir.dev}:${dir.ino}`;
    // Checked before the file is touched: closing any descriptor of a file drops
    // the POSIX locks this process holds on it, so it must not be opened again here.
    if (heldHere.has(key)) {
      throw new DataDirInUseError(`The data directory ${dataDir} is already open in this process; share that store instead of opening it twice.`);
    }
    const file = join(dataDir, LOCK_FILE);
    clearLegacyLock(file);
    const db = new Database(file, { timeout: 0 });
    try {
      if (!tryBegin(db)) throw inUse(dataDir, db);
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
      db.prepare('DELETE FROM holder').run();
      db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
      // Committed so that a refused process can read it (a held write transaction
      // leaves readers the last committed state), then the write lock is taken
      // again and kept. A process that slips in between wins; this one then stops.
      db.exec('COMMIT');
      if (!tryBegin(db)) throw inUse(dataDir, db);
    } catch (error) {
      db.close();
      throw error;
    }
    heldHere.add(key);
    return new DataDirLock(db, key);
  }

  release(): void {
    if (!this.db.open) return;
    this.db.close(); // ends the transaction: the kernel lock goes with the file's last descriptor
    heldHere.delete(this.key);
  }
}

/** Takes SQLite's write lock (RESERVED) without waiting; false when another connection has it. */
function tryBegin(db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw error;
  }
}

/** The refusal, with the holder's pid when it could be read (it may be mid-start, or the file from an older release). */
function inUse(dataDir: string, db: Database.Database): DataDirInUseError {
  let pid: number | undefined;
  try {
    pid = (db.prepare('SELECT pid FROM holder').get() as { pid: number } | undefined)?.pid;
  } catch {
    // no record yet, or the holder is writing it right now
  }
  const who = pid === undefined || pid === process.pid ? 'another process' : `another process (pid ${pid})`;
  return new DataDirInUseError(`The data directory ${dataDir} is in use by ${who}; one Tollgate process per data directory.`);
}

/**
 * Creates the lock file (readable by the server's user alone), and empties one
 * left by an older release, which held a pid in text: an empty file is an
 * empty SQLite database, and emptying it in place keeps the inode any other
 * starting process may already be locking.
 */
function clearLegacyLock(file: string): void {
  const fd = openSync(file, 'a+', 0o600);
  try {
    const header = Buffer.alloc(SQLITE_HEADER.length);
    const read = readSync(fd, header, 0, header.length, 0);
    if (read > 0 && header.toString('latin1', 0, read) !== SQLITE_HEADER) ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
}
