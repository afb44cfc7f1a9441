// How a job whose execution failed still ends: its runs still open and the job itself, in the
// store and the log. A full or failing disk refuses those writes as well, so while the storage
// refuses them the end is retried with backoff, and it lands within seconds of space returning,
// without a restart; any other error ends the attempt. A job already terminal (its transition
// written, its closing event not) just gets its closing event.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from './event-log.js';
import { closeLogOf, type JobMoveName, type JobStateMachine } from './job-state-machine.js';
import type { SeedRuns } from './seed-runs.js';
import { storageFaultOf, type StorageFaultListener } from './storage-faults.js';
import { RUN_ENDED_STATES, TERMINAL_STATES, type JobLogger } from './types.js';

export interface FailedExecution {
  readonly jobId: string;
  readonly state: JobStateMachine;
  readonly runs: SeedRuns;
  readonly eventLog: EventLog;
  readonly logger: JobLogger;
  readonly storageFaults: StorageFaultListener;
  /** The execution's serial chain: every write of the job goes through it. */
  readonly serial: <T>(work: () => Promise<T>) => Promise<T>;
  /** Aborted at shutdown: the job then stays as it is, to resume on the next start. */
  readonly halted: AbortSignal;
}

/** Waits between attempts while the storage refuses: doubling from the first to the cap. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;

export async function endFailedExecution(execution: FailedExecution, end: 'CANCELLED' | 'FAILED', reason: string): Promise<void> {
  const { jobId, state, runs } = execution;
  const move: JobMoveName = end === 'CANCELLED' ? 'cancelled' : 'abort';
  for (let attempt = 0; ; attempt += 1) {
    try {
      await execution.serial(async () => {
        const job = await state.current();
        if (TERMINAL_STATES.has(job.state)) return closeLogOf(execution.eventLog, job);
        for (const run of job.runs) {
          if (RUN_ENDED_STATES.has(run.state)) continue;
          await runs.finish({ ...runs.get(run.seed), state: end, error: reason, durationMs: runs.durationMs(run.seed) });
        }
        await state.end(move, reason);
      });
      return;
    } catch (error) {
      const fault = storageFaultOf(error);
      if (fault === undefined || execution.halted.aborted) {
        execution.logger.error('could not end the job', { jobId, error });
        return;
      }
      execution.storageFaults.writeFailed('job_store', fault.cause);
      if (attempt === 0)
        execution.logger.warn("the storage refuses the job's end; retrying until it takes writes again", { jobId, reason });
      await sleep(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt), undefined, { signal: execution.halted }).catch(() => {});
    }
  }
}
