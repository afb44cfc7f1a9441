// The durable EventLog: sequence-numbered rows in SQLite, so a restarted server continues each
// job's log at the next number and StreamMetrics replays across restarts. Followers read from
// the table and park until this process appends (an in-process wake-up) or a poll interval
// passes (appends by another process on the same file, e.g. a second server during a handover).
import { TERMINAL_STATES, type JobEvent, type JobEventBody } from '../types.js';
import type { EventLog } from '../event-log.js';
import type { Statement } from 'better-sqlite3';
import { PreparedStatements, type SqliteDatabase } from './sqlite-database.js';
import { decodeValue, encodeValue } from './value-codec.js';
import { writingTo } from '../storage-faults.js';

export interface SqliteEventLogOptions {
  /** Epoch milliseconds for event times. */
  readonly clock: () => number;
  /** How often a parked follower looks for appends it was not woken for; default 1000. */
  readonly pollMs?: number;
}

interface EventRow {
  readonly sequence: number;
  readonly time: number;
  readonly seed: number;
  readonly body: Buffer;
}

/** Rows a follower reads per query: bounded memory for a long replay. */
const REPLAY_BATCH = 256;

export class SqliteEventLog implements EventLog {
  /** Per job, followers parked until the next append. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pollMs: number;
  private readonly statements: PreparedStatements;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: SqliteEventLogOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.statements = new PreparedStatements(db);
  }

  async append(jobId: string, seed: number, body: JobEventBody): Promise<JobEvent> {
    const closes = body.kind === 'state_changed' && TERMINAL_STATES.has(body.state);
    const event = writingTo("the job's event log", () =>
      this.db
        .transaction((): JobEvent => {
          const last = this.last(jobId);
          if (last.closed) throw new Error(`event log of job ${jobId} is closed; refusing ${body.kind}`);
          const appended: JobEvent = { sequence: last.sequence + 1, time: this.options.clock(), seed, body };
          this.sql('INSERT INTO job_events (job_id, sequence, time, seed, kind, closes, body) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
            jobId,
            appended.sequence,
            appended.time,
            seed,
            body.kind,
            closes ? 1 : 0,
            encodeValue(body),
          );
          return appended;
        })
        .immediate(),
    );
    this.wake(jobId);
    return event;
  }

  async read(jobId: string, from: number): Promise<JobEvent[]> {
    return this.rows(jobId, from, -1);
  }

  async lastSequence(jobId: string): Promise<number> {
    return this.last(jobId).sequence;
  }

  follow(jobId: string, from: number, signal: AbortSignal): AsyncIterable<JobEvent> {
    return this.followFrom(jobId, Math.max(1, Math.floor(from)), signal);
  }

  /**
   * Replay and live delivery are one loop over the table from a cursor. Reads are synchronous,
   * so "nothing new" and "parked" happen with no turn in between: an append of this process
   * cannot slip through unseen, and the poll catches appends of any other.
   */
  private async *followFrom(jobId: string, start: number, signal: AbortSignal): AsyncGenerator<JobEvent> {
    let next = start;
    while (!signal.aborted) {
      const batch = this.rows(jobId, next, REPLAY_BATCH);
      if (batch.length > 0) {
        for (const event of batch) {
          next = event.sequence + 1;
          yield event;
          if (signal.aborted) return;
        }
        continue;
      }
      const last = this.last(jobId);
      if (last.closed && next > last.sequence) return;
      await this.parkUntilAppend(jobId, signal);
    }
  }

  private rows(jobId: string, from: number, limit: number): JobEvent[] {
    const rows = this.sql(
      'SELECT sequence, time, seed, body FROM job_events WHERE job_id = ? AND sequence >= ? ORDER BY sequence LIMIT ?',
    ).all(jobId, Math.max(1, Math.floor(from)), limit) as EventRow[];
    return rows.map((row) => ({ sequence: row.sequence, time: row.time, seed: row.seed, body: decodeValue<JobEventBody>(row.body) }));
  }

  private last(jobId: string): { sequence: number; closed: boolean } {
    const row = this.sql('SELECT sequence, closes FROM job_events WHERE job_id = ? ORDER BY sequence DESC LIMIT 1').get(jobId) as
      | { sequence: number; closes: number }
      | undefined;
    return { sequence: row?.sequence ?? 0, closed: row?.closes === 1 };
  }

  private sql(text: string): Statement {
    return this.statements.get(text);
  }

  private wake(jobId: string): void {
    const parked = this.waiters.get(jobId);
    if (parked === undefined) return;
    this.waiters.delete(jobId);
    for (const resolve of parked) resolve();
  }

  private parkUntilAppend(jobId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let parked = this.waiters.get(jobId);
      if (parked === undefined) {
        parked = new Set();
        this.waiters.set(jobId, parked);
      }
      const done = (): void => {
        clearTimeout(poll);
        signal.removeEventListener('abort', done);
        const waiting = this.waiters.get(jobId);
        waiting?.delete(done);
        if (waiting?.size === 0) this.waiters.delete(jobId);
        resolve();
      };
      // Someone awaits this follower's next event: the poll is live work, not unref'd.
      const poll = setTimeout(done, this.pollMs);
      parked.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
