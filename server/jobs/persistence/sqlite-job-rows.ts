// The rows of the jobs and job_runs tables as better-sqlite3 returns them, and a run row as the
// SeedRun the stores share.
import type { BackendName, Evaluation } from '../../engine/tf-free.js';
import type { JobState, RunPhase, RunState, SeedRun } from '../types.js';
import { decodeValue, encodeValue } from './value-codec.js';

export interface JobRow {
  readonly id: string;
  readonly tenant: string;
  readonly display_name: string;
  readonly spec: Buffer;
  readonly request_spec: Buffer;
  readonly idempotency_key: string;
  readonly state: JobState;
  readonly reason: string;
  readonly create_time: number;
  readonly backend: BackendName | '';
  readonly notices: string;
  readonly summary: Buffer | null;
  readonly runtime_ms: number;
}

export interface RunRow {
  readonly seed: number;
  readonly state: RunState;
  readonly steps: number;
  readonly total_steps: number;
  readonly mean_step_seconds: number;
  readonly duration_ms: number;
  readonly checkpoint_step: number | null;
  readonly error: string | null;
  readonly metrics: Buffer | null;
  readonly peak_memory_bytes: number | null;
  readonly phases: Buffer | null;
  /** Absent in a file still at a schema before 5. */
  readonly details?: Buffer | null;
}

/** The run fields kept in the `details` column (schema 5): every field added to SeedRun since. */
type RunDetails = Pick<SeedRun, 'trainClassCounts' | 'testMetrics'>;

function detailsOf(run: SeedRun): RunDetails | undefined {
  const details: RunDetails = {
    ...(run.trainClassCounts === undefined ? {} : { trainClassCounts: run.trainClassCounts }),
    ...(run.testMetrics === undefined ? {} : { testMetrics: run.testMetrics }),
  };
  return Object.keys(details).length === 0 ? undefined : details;
}

export function encodeDetails(run: SeedRun): Buffer | null {
  const details = detailsOf(run);
  return details === undefined ? null : encodeValue(details);
}

export function toSeedRun(row: RunRow): SeedRun {
  return {
    seed: row.seed,
    state: row.state,
    steps: row.steps,
    totalSteps: row.total_steps,
    meanStepSeconds: row.mean_step_seconds,
    durationMs: row.duration_ms,
    ...(row.metrics === null ? {} : { metrics: decodeValue<Evaluation>(row.metrics) }),
    ...(row.error === null ? {} : { error: row.error }),
    ...(row.checkpoint_step === null ? {} : { checkpointStep: row.checkpoint_step }),
    ...(row.peak_memory_bytes === null ? {} : { peakMemoryBytes: row.peak_memory_bytes }),
    ...(row.phases === null ? {} : { phases: decodeValue<RunPhase[]>(row.phases) }),
    ...(row.details === null || row.details === undefined ? {} : decodeValue<RunDetails>(row.details)),
  };
}
