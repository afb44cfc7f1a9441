// Per-job, sequence-numbered event log: what StreamMetrics replays and follows. An interface
// so Redis streams (XADD / XREAD BLOCK) can stand in for the in-memory log in scale-out.
import { TERMINAL_STATES, type JobEvent, type JobEventBody } from './types.js';

export interface EventLog {
  /**
   * Appends with the next sequence (dense, from 1). Appending a terminal `state_changed`
   * closes the log: followers end after delivering it, and later appends are refused.
   * The in-memory log assigns the sequence before returning, so call order is log order.
   */
  append(jobId: string, seed: number, body: JobEventBody): Promise<JobEvent>;
  /** Events with sequence >= from (0 and 1 both mean the start). */
  read(jobId: string, from: number): Promise<JobEvent[]>;
  /** 0 for an empty or unknown log. */
  lastSequence(jobId: string): Promise<number>;
  /**
   * Replays from `from`, then yields live events until the log is closed and everything up
   * to the closing event was delivered, or until `signal` aborts (then it just ends).
   */
  follow(jobId: string, from: number, signal: AbortSignal): AsyncIterable<JobEvent>;
}

interface JobLog {
  readonly events: JobEvent[];
  closed: boolean;
  /** Followers parked until the next append or close. */
  readonly waiters: Set<() => void>;
}

export class InMemoryEventLog implements EventLog {
  private readonly logs = new Map<string, JobLog>();

  constructor(private readonly clock: () => number) {}

  async append(jobId: string, seed: number, body: JobEventBody): Promise<JobEvent> {
    const log = this.logFor(jobId);
    if (log.closed) throw new Error(`event log of job ${jobId} is closed; refusing ${body.kind}`);
    const event: JobEvent = { sequence: log.events.length + 1, time: this.clock(), seed, body };
    log.events.push(event);
    if (body.kind === 'state_changed' && TERMINAL_STATES.has(body.state)) log.closed = true;
    wake(log);
    return event;
  }

  async read(jobId: string, from: number): Promise<JobEvent[]> {
    return this.logs.get(jobId)?.events.slice(startIndex(from)) ?? [];
  }

  async lastSequence(jobId: string): Promise<number> {
    return this.logs.get(jobId)?.events.length ?? 0;
  }

  follow(jobId: string, from: number, signal: AbortSignal): AsyncIterable<JobEvent> {
    const log = this.logFor(jobId);
    return followLog(log, startIndex(from), signal);
  }

  private logFor(jobId: string): JobLog {
    let log = this.logs.get(jobId);
    if (log === undefined) {
      log = { events: [], closed: false, waiters: new Set() };
      this.logs.set(jobId, log);
    }
    return log;
  }
}

function startIndex(from: number): number {
  return Math.max(0, Math.floor(from) - 1);
}

function wake(log: JobLog): void {
  const waiters = [...log.waiters];
  log.waiters.clear();
  for (const resolve of waiters) resolve();
}

/**
 * A cursor over the log's array: replay and live delivery are the same loop, so an append
 * racing the subscription is either below the cursor (already yielded) or above it (yielded
 * next) — never lost, never twice. The check-then-park step has no await in between, so an
 * append cannot slip between "nothing new" and "waiting".
 */
async function* followLog(log: JobLog, start: number, signal: AbortSignal): AsyncGenerator<JobEvent> {
  let next = start;
  while (!signal.aborted) {
    if (next < log.events.length) {
      const event = log.events[next];
      next += 1;
      if (event !== undefined) yield event;
      continue;
    }
    if (log.closed) return;
    await parkUntilChange(log, signal);
  }
}

function parkUntilChange(log: JobLog, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      log.waiters.delete(wakeUp);
      resolve();
    };
    const wakeUp = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    log.waiters.add(wakeUp);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
