import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in a transaction on a connection of its own: committed when it
 * resolves, rolled back when it throws (the error is rethrown).
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
