import Database, { type Database as DB } from 'better-sqlite3';

/**
 * Opens the SQLite file as every connection of the embedded store does: WAL
 * (readers never wait for the writer), synchronous=FULL (every commit is
 * fsynced, so what a caller was told is on disk), foreign keys on.
 */
export function openDatabase(path: string): DB {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}
