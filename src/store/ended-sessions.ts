/**
 * The table of ended dashboard sessions, the same in both stores (SQLite
 * reads BIGINT as its INTEGER): each store's migrations append this as one
 * step. A session id opens nothing by itself (the cookie is sealed with the
 * server secret), so it is kept as it is; the index on `expires_at` makes
 * the purge of expired rows a range delete.
 */
export const ENDED_SESSIONS_TABLE = `
  CREATE TABLE ended_sessions (
    sid TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX ended_sessions_by_expiry ON ended_sessions(expires_at);
`;
