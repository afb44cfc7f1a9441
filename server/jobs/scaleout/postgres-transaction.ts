// One transaction on a client of its own: BEGIN, the work, COMMIT, or ROLLBACK when the work
// throws (or asks for it), and the client back to the pool before the caller goes on, since
// holding it while waiting for another could exhaust the pool.
import type { Pool, PoolClient } from 'pg';

/** Runs `work` in a transaction; commits unless it throws or `commitIf(result)` is false. */
export async function inTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  commitIf: (result: T) => boolean = () => true,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query(commitIf(result) ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
