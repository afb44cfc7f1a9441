// One job's states and the moves between them, as its execution makes them. A move is a store
// transition out of the states it may leave and its state_changed event, together; the store
// refuses a move from any other state, so a move that lost a race fails instead of rewinding
// the job. The machine also keeps what belongs to the states: the time spent RUNNING (summed
// over restarts, with the runtime limit armed from it) and the stop asked of the job.
import { messageOf, ServiceError } from '../common/errors.js';
import type { EventLog } from './event-log.js';
import type { Durability } from './persistence/checkpoint-files.js';
import type { JobStore } from './store.js';
import type { Job, JobLogger, JobState } from './types.js';

interface JobMove {
  readonly from: readonly JobState[];
  readonly to: JobState;
}

/** Every move an execution makes, and the states each may leave from. */
export const JOB_MOVES = {
  /** The first run reported that it started. */
  begin: { from: ['QUEUED'], to: 'RUNNING' },
  /** A cancel request: the runs stop at their next step. */
  cancel: { from: ['QUEUED', 'RUNNING'], to: 'CANCELLING' },
  /** Every run ended, at least one of them SUCCEEDED. */
  succeed: { from: ['RUNNING'], to: 'SUCCEEDED' },
  /** Every run ended and none succeeded. */
  failAllRuns: { from: ['QUEUED', 'RUNNING'], to: 'FAILED' },
  /** The runs stopped on a cancel. */
  cancelled: { from: ['QUEUED', 'RUNNING', 'CANCELLING'], to: 'CANCELLED' },
  /** Interrupted (runtime limit, shutdown without durability), or the execution itself failed. */
  abort: { from: ['QUEUED', 'RUNNING', 'CANCELLING'], to: 'FAILED' },
} as const satisfies Record<string, JobMove>;

export type JobMoveName = keyof typeof JOB_MOVES;

/** A stop asked of a job's runs, and how the job ends once they have stopped. */
export interface StopRequest {
  /** SUSPENDED: the server shuts down; runs checkpoint, stop and stay resumable. */
  readonly end: 'CANCELLED' | 'FAILED' | 'SUSPENDED';
  readonly reason: string;
}

/** The move that ends a job stopped this way (a suspended job does not end). */
export function endMoveOf(end: 'CANCELLED' | 'FAILED'): JobMoveName {
  return end === 'CANCELLED' ? 'cancelled' : 'abort';
}

export interface JobStateContext {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  readonly clock: () => number;
  readonly logger: JobLogger;
  readonly durability?: Durability;
}

/**
 * Appends the closing state_changed event of a terminal job whose log lacks it: a crash, or a
 * failed write, between the store's terminal transition and its event would otherwise leave a
 * log that never closes and followers that never end.
 */
export async function closeLogOf(eventLog: EventLog, job: Job): Promise<void> {
  const [last] = await eventLog.read(job.id, await eventLog.lastSequence(job.id));
  if (last?.body.kind === 'state_changed' && last.body.state === job.state) return;
  await eventLog.append(job.id, 0, { kind: 'state_changed', state: job.state, reason: job.reason });
}

/** Runtime is recorded at least this often while steps come in. */
const RUNTIME_RECORD_MS = 1000;

export class JobStateMachine {
  private readonly runtime: RuntimeMeter;
  private runtimeRecordedAt = 0;
  private deadline?: NodeJS.Timeout;
  private stopRequest?: StopRequest;

  /** @param onDeadline called with the reason once the job has run past its runtime limit */
  constructor(
    private readonly job: Job,
    private readonly context: JobStateContext,
    private readonly onDeadline: (reason: string) => void,
  ) {
    this.runtime = new RuntimeMeter(job.runtimeMs, context.clock);
  }

  get stop(): StopRequest | undefined {
    return this.stopRequest;
  }

  requestStop(stop: StopRequest): void {
    this.stopRequest = stop;
  }

  /** The job as stored now. */
  async current(): Promise<Job> {
    const job = await this.context.store.get(this.job.tenant, this.job.id);
    if (job === undefined) throw new ServiceError('NOT_FOUND', `job ${this.job.id} not found`);
    return job;
  }

  /** The store transition and its state_changed event, together. */
  async move(name: JobMoveName, reason: string): Promise<Job> {
    const { from, to } = JOB_MOVES[name];
    const job = await this.context.store.transition(this.job.id, { from, to, time: this.context.clock(), reason });
    await this.context.eventLog.append(this.job.id, 0, { kind: 'state_changed', state: to, reason });
    return job;
  }

  /** A run started: a QUEUED job is RUNNING from now on. */
  async begin(): Promise<void> {
    if ((await this.current()).state !== 'QUEUED') return;
    await this.move('begin', '');
    this.startRuntime();
  }

  /** A terminal move: runtime recorded, and the job's checkpoints go (nothing will resume it). */
  async end(name: JobMoveName, reason: string): Promise<void> {
    await this.recordRuntime();
    await this.move(name, reason);
    this.context.logger.info('job ended', { jobId: this.job.id, state: JOB_MOVES[name].to, reason });
    await this.context.durability?.checkpoints
      .remove(this.job.id)
      .catch((error: unknown) => this.context.logger.warn('could not remove checkpoints', { jobId: this.job.id, error: messageOf(error) }));
  }

  /** Counts RUNNING time from now and arms the limit with what earlier processes left of it. */
  startRuntime(): void {
    if (this.runtime.running) return;
    this.runtime.start();
    const limit = this.job.spec.maxRuntimeMs;
    if (limit <= 0) return;
    this.deadline = setTimeout(
      () => {
        this.onDeadline(`exceeded the maximum runtime of ${limit / 1000} s`);
      },
      Math.max(0, limit - this.runtime.totalMs()),
    );
    this.deadline.unref();
  }

  async recordRuntime(): Promise<void> {
    this.runtimeRecordedAt = this.context.clock();
    await this.context.store.setRuntime(this.job.id, this.runtime.totalMs());
  }

  /** Records the runtime if the last record is old enough (called on every step). */
  async recordRuntimeIfDue(): Promise<void> {
    if (this.context.clock() - this.runtimeRecordedAt >= RUNTIME_RECORD_MS) await this.recordRuntime();
  }

  /** The execution is over: the runtime limit no longer applies. */
  dispose(): void {
    clearTimeout(this.deadline);
  }
}

/**
 * Time spent RUNNING, summed over restarts: `base` is what earlier processes recorded, this
 * process adds from start() on. A kill -9 loses at most the time since the last record.
 */
export class RuntimeMeter {
  private since?: number;

  constructor(
    private readonly base: number,
    private readonly clock: () => number,
  ) {}

  start(): void {
    this.since ??= this.clock();
  }

  get running(): boolean {
    return this.since !== undefined;
  }

  totalMs(): number {
    return Math.round(this.base + (this.since === undefined ? 0 : this.clock() - this.since));
  }
}
