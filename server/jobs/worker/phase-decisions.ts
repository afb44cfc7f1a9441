// What a run's phases share in the worker (the seeds taken, the escalating policy's ledger) and
// which policy decides when a phase fails: the fixed policies on their own (remedy-policy.ts),
// the escalating one against the job's shared ledger (remedy-ledger.ts).
import type { RunSpec } from '../../engine/index.js';
import { tallyOfRuns } from '../escalation-policy.js';
import { createLedger, decideWithLedger, RemedyLedger } from '../remedy-ledger.js';
import { decideRemedy, type CurrentPhase, type FailureSignal, type RemedyDecision, type RemedySettings } from '../remedy-policy.js';
import type { RemedyRequest } from './protocol.js';

export interface RunContext {
  /** Seeds the job's runs and this run's phases use: a restart takes none of them. */
  readonly usedSeeds: Set<number>;
  /** The escalating policy's job-wide tally; absent for the other policies. */
  readonly ledger?: RemedyLedger;
  /** How many seeds the job trains. */
  readonly jobSeeds: number;
}

export function runContextFor(run: RunSpec, remedy: RemedyRequest | undefined): RunContext {
  const earlier = remedy?.phases ?? [];
  const reserved = remedy?.reservedSeeds ?? [];
  // Without the execution's shared ledger (a task of its own), the run counts what its own phases spent.
  const ledger =
    remedy?.settings.policy === 'escalate'
      ? new RemedyLedger(remedy.ledger ?? createLedger(tallyOfRuns([{ phases: earlier }])))
      : undefined;
  return {
    usedSeeds: new Set([run.seed, ...reserved, ...earlier.map((phase) => phase.seed)]),
    ...(ledger === undefined ? {} : { ledger }),
    jobSeeds: Math.max(1, reserved.length),
  };
}

export interface FailedPhase {
  readonly settings: RemedySettings;
  readonly signal: FailureSignal;
  readonly detector: string;
  readonly current: CurrentPhase;
  /** Step of the newest healthy checkpoint of the phase (0: only its start). */
  readonly healthyStep: number;
  /** The run's planned optimizer steps. */
  readonly totalSteps: number;
  readonly trainClassCounts: readonly number[];
}

export function decidePhaseRemedy(context: RunContext, failed: FailedPhase): RemedyDecision {
  const { settings, signal, current } = failed;
  const { usedSeeds, ledger, jobSeeds } = context;
  if (ledger === undefined) return decideRemedy({ settings, signal, current, usedSeeds, healthyStep: failed.healthyStep });
  const { detector, totalSteps, trainClassCounts } = failed;
  return decideWithLedger(ledger, { settings, signal, detector, current, usedSeeds, totalSteps, jobSeeds, trainClassCounts }).decision;
}
