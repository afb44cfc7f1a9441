// A run's phases and peak memory as the main thread records them on its SeedRun row: pure
// functions from the row and a worker report to the next row.
import type { Verdict } from '../engine/tf-free.js';
import { tallyOfRuns } from './escalation-policy.js';
import { createLedger } from './remedy-ledger.js';
import type { RemedyRequest } from './worker/protocol.js';
import type { JobEventBody, JobSpec, PhaseChange, RemedyGiveUp, RunPhase, SeedRun } from './types.js';

/**
 * What a run's training task needs to apply (or, after a restart, go on with) auto-remedy.
 * @param ledger the execution's escalation ledger (ledgerFor), shared by all its runs
 */
export function remedyRequestFor(spec: JobSpec, run: SeedRun, ledger?: SharedArrayBuffer): { readonly remedy?: RemedyRequest } {
  if (spec.autoRemedy === undefined) return {};
  return {
    remedy: {
      settings: spec.autoRemedy,
      reservedSeeds: [...spec.seeds],
      phases: [...(run.phases ?? [])],
      ...(ledger === undefined ? {} : { ledger }),
    },
  };
}

/** The escalating policy's job-wide ledger for one execution, starting from what the runs' phases spent; absent for other policies. */
export function ledgerFor(spec: JobSpec, runs: readonly SeedRun[]): SharedArrayBuffer | undefined {
  return spec.autoRemedy?.policy === 'escalate' ? createLedger(tallyOfRuns(runs)) : undefined;
}

/** Index of the phase the run trains in now (0 without remedies). */
export function currentPhaseIndex(run: SeedRun): number {
  return Math.max(0, (run.phases?.length ?? 0) - 1);
}

/** The row once a remedy ended its open phase and opened the next, as the log's event says. */
export function withPhaseChange(run: SeedRun, change: Pick<PhaseChange, 'ended' | 'next'>): SeedRun {
  // The open phase (if recorded: a run's first one is not until it ends) is replaced by how it ended.
  return { ...run, phases: [...(run.phases ?? []).slice(0, -1), change.ended, change.next] };
}

/** The log event of a phase change the worker reported. */
export function phaseStartedEvent(change: PhaseChange): JobEventBody {
  return {
    kind: 'phase_started',
    index: change.index,
    policy: change.policy,
    ended: change.ended,
    next: change.next,
    notice: change.notice,
    ...(change.decision === undefined ? {} : { decision: change.decision }),
  };
}

/** The log event of the escalating policy giving up on a run. */
export function remedyGaveUpEvent(giveUp: RemedyGiveUp): JobEventBody {
  return { kind: 'remedy_gave_up', index: giveUp.index, decision: giveUp.decision, notice: giveUp.notice };
}

/** The row once the escalating policy gave up in its current phase (a first phase is recorded open). */
export function withGaveUp(run: SeedRun, spec: JobSpec, giveUp: Pick<RemedyGiveUp, 'decision'>): SeedRun {
  const phases = run.phases ?? [];
  const current: RunPhase = phases.at(-1) ?? { seed: run.seed, method: spec.run.method, startStep: 0, endStep: 0, reason: '' };
  return { ...run, phases: [...phases.slice(0, -1), { ...current, gaveUp: giveUp.decision }] };
}

/** The row's phases once the run ended after `steps` with `verdict` (absent: it produced no metrics). */
export function withLastPhaseClosed(run: SeedRun, spec: JobSpec, steps: number, verdict: Verdict | undefined): SeedRun {
  const phases = run.phases ?? [];
  const last: RunPhase = phases.at(-1) ?? { seed: run.seed, method: spec.run.method, startStep: 0, endStep: 0, reason: '' };
  const closed: RunPhase = { ...last, endStep: steps, ...(verdict === undefined ? {} : { verdict }) };
  return { ...run, phases: [...phases.slice(0, -1), closed] };
}

export function withPeakMemory(run: SeedRun, bytes: number): SeedRun {
  const peak = Math.max(run.peakMemoryBytes ?? 0, bytes);
  return peak === 0 ? run : { ...run, peakMemoryBytes: peak };
}
