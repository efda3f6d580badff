import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Raised when another live process holds the data directory. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/**
 * One process per data directory: the embedded store keeps its limits and
 * counters in memory, so a second process on the same file would count on
 * its own and let twice the limits through. The lock is a file holding the
 * owner's pid; a lock whose process is gone (a crash, kill -9) is taken over.
 * A scale-out instance takes it too: its data directory holds its own spool.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, 'tollgate.lock');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
        if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
          throw new DataDirInUseError(`The data directory ${dataDir} is in use by process ${owner}; one Tollgate process per data directory.`);
        }
        if (owner === process.pid) {
          throw new DataDirInUseError(`The data directory ${dataDir} is already open in this process; share that store instead of opening it twice.`);
        }
        rmSync(file, { force: true }); // left by a process that is gone
      }
    }
    throw new DataDirInUseError(`Could not lock the data directory ${dataDir}.`);
  }

  release(): void {
    rmSync(this.file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
