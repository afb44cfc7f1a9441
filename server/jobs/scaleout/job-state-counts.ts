// How many jobs of the whole deployment are in each live state, for steadytune_jobs, read from
// the shared store at scrape time. Every API process could answer, but then summing the gauge
// over processes (as dashboards do) would count each job once per API process; so only the
// holder of a PostgreSQL advisory lock answers, and the others export no series. The lock lives
// with its session: when its holder stops, dies or loses its connection, another API process
// takes it at its next scrape.
import type { Pool, PoolClient } from 'pg';
import type { JobState } from '../types.js';

/**
 * Any fixed number: the same in every steadytune process, distinct from the migration lock. The
 * lock's second key is the schema's, since advisory locks are per database and deployments
 * sharing one database in separate schemas each need their exporter.
 */
const EXPORTER_LOCK_KEY = 0x5eed_c047;

export class PostgresJobStateCounts {
  /** The session holding the lock, while this process is the exporter. */
  private session?: PoolClient;
  private acquiring?: Promise<PoolClient | undefined>;
  private closed = false;

  constructor(private readonly pool: Pool) {}

  /** Jobs per live state, or undefined while another process exports them (or the store is unreachable). */
  async liveJobCounts(): Promise<ReadonlyMap<JobState, number> | undefined> {
    if (this.closed) return undefined;
    try {
      const session = await this.exporterSession();
      if (session === undefined) return undefined;
      const { rows } = await session.query<{ state: JobState; jobs: number }>(
        `SELECT state, count(*)::int AS jobs FROM jobs WHERE state IN ('QUEUED', 'RUNNING', 'CANCELLING') GROUP BY state`,
      );
      return new Map(rows.map((row) => [row.state, row.jobs]));
    } catch {
      // A scrape during a store outage shows no series rather than failing the whole scrape.
      this.dropSession();
      return undefined;
    }
  }

  /** Gives the lock up at once (another API process exports from its next scrape). */
  async close(): Promise<void> {
    this.closed = true;
    await this.acquiring;
    // Ending the session would free the lock too, but only once the server notices.
    await this.session?.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    this.dropSession();
  }

  private exporterSession(): Promise<PoolClient | undefined> {
    if (this.session !== undefined) return Promise.resolve(this.session);
    this.acquiring ??= this.tryLock().finally(() => {
      this.acquiring = undefined;
    });
    return this.acquiring;
  }

  private async tryLock(): Promise<PoolClient | undefined> {
    const client = await this.pool.connect();
    let locked = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS locked', [
        EXPORTER_LOCK_KEY,
      ]);
      locked = rows[0]?.locked === true;
    } finally {
      if (!locked || this.closed) client.release(locked);
    }
    if (!locked || this.closed) return undefined;
    // A checked-out client's connection error is emitted on it: unhandled, it would end the process.
    client.on('error', () => this.dropSession());
    this.session = client;
    return client;
  }

  /** Ends the session (and with it the lock): destroyed, not returned to the pool. */
  private dropSession(): void {
    const { session } = this;
    this.session = undefined;
    session?.release(true);
  }
}
