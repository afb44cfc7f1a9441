// A remedied run across a server restart: what the log says of its current phase, where the
// phase's checkpoints live, and how the run row records its phases (job-resume.ts, run-phases.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { StepTelemetry, TrainerCheckpoint } from '../../server/engine/types.js';
import { encodeCheckpoint } from '../../server/jobs/checkpoint-codec.js';
import { DirectoryCheckpointFiles } from '../../server/jobs/persistence/checkpoint-files.js';
import { InMemoryEventLog } from '../../server/jobs/event-log.js';
import { checkpointSlot, loggedProgress, resumePoint } from '../../server/jobs/job-resume.js';
import {
  currentPhaseIndex,
  ledgerFor,
  phaseStartedEvent,
  remedyGaveUpEvent,
  remedyRequestFor,
  withGaveUp,
  withLastPhaseClosed,
  withPeakMemory,
  withPhaseChange,
} from '../../server/jobs/run-phases.js';
import { RemedyLedger } from '../../server/jobs/remedy-ledger.js';
import type { EscalationDecision } from '../../server/jobs/remedy-policy.js';
import type { JobSpec, RunPhase, SeedRun } from '../../server/jobs/types.js';

const telemetry = (step: number): StepTelemetry => ({
  step,
  totalSteps: 30,
  epoch: 0,
  loss: 1,
  accuracy: 0.5,
  alpha: 1,
  correctFraction: 0.5,
  gradientNorm: 0,
  learningRate: 1,
  headConflictCosine: null,
  stepSeconds: 0.01,
});

const checkpoint = (step: number): TrainerCheckpoint => ({
  step,
  totalSteps: 30,
  epoch: step,
  stepInEpoch: 0,
  microBatch: step,
  weights: [],
  optimizer: { kind: 'sgd', updates: step, slots: [] },
  secondsTotal: 0,
});

const FFT_42: RunPhase = {
  seed: 42,
  method: { kind: 'fft' },
  startStep: 0,
  endStep: 24,
  verdict: 'collapsed',
  reason: 'collapsed at step 24',
};
const DSGD_42: RunPhase = { seed: 42, method: { kind: 'dsgd', lambda: 1, schedule: 'linear' }, startStep: 10, endStep: 10, reason: '' };

describe('resuming a remedied run', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("reads the current phase's progress from the log: steps count from the phase's start", async () => {
    const log = new InMemoryEventLog(() => 0);
    await log.append('job', 42, { kind: 'run_started', totalSteps: 30, backend: 'cpu' });
    for (let step = 1; step <= 24; step += 1) await log.append('job', 42, { kind: 'step', step: telemetry(step) });
    await log.append(
      'job',
      42,
      phaseStartedEvent({
        index: 1,
        policy: 'continue_under_dsgd',
        ended: FFT_42,
        next: DSGD_42,
        notice: 'auto-remedy: seed 42 phase 2 from step 10: ...',
      }),
    );
    await log.append('job', 42, {
      kind: 'notice',
      message: 'auto-remedy: seed 42 phase 2 from step 10: collapsed at step 24; continuing ...',
    });
    for (let step = 11; step <= 15; step += 1) await log.append('job', 42, { kind: 'step', step: telemetry(step) });
    // Another seed's phase and a give-up notice do not start a phase of seed 42; nor does a
    // phase notice without its event: the log's record of a phase is the structured event.
    await log.append(
      'job',
      52,
      phaseStartedEvent({
        index: 1,
        policy: 'restart_next_seed',
        ended: { ...FFT_42, seed: 52 },
        next: { ...FFT_42, seed: 1052, startStep: 0, endStep: 0, reason: '' },
        notice: 'restarting',
      }),
    );
    await log.append('job', 42, { kind: 'notice', message: 'auto-remedy: seed 42: collapsed again; no further remedy' });
    await log.append('job', 42, { kind: 'notice', message: 'auto-remedy: seed 42 phase 3 from step 0: ...' });
    const logged = await loggedProgress(log, 'job');
    assert.deepEqual(logged.get(42), { started: true, finished: false, lastStep: 15, lastEpochStep: 10 });
    assert.deepEqual(logged.get(52), { started: true, finished: false, lastStep: 0, lastEpochStep: 0 });
  });

  it("keeps each phase's checkpoints apart and resumes from the current phase's", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'steadytune-remedy-'));
    dirs.push(dir);
    const files = new DirectoryCheckpointFiles(dir, 2);
    assert.equal(checkpointSlot(42, 0), 42, 'a run without remedies keeps its layout');
    assert.equal(checkpointSlot(42, 1), 42 + 2 ** 32);
    await files.save('job', checkpointSlot(42, 0), 20, encodeCheckpoint(checkpoint(20)));
    await files.save('job', checkpointSlot(42, 1), 10, encodeCheckpoint(checkpoint(10)));
    await files.save('job', checkpointSlot(42, 1), 14, encodeCheckpoint(checkpoint(14)));
    const logged = { started: true, finished: false, lastStep: 15, lastEpochStep: 10 };
    assert.equal((await resumePoint(files, 'job', 42, logged, 1)).checkpoint?.step, 14);
    assert.equal((await resumePoint(files, 'job', 42, logged, 0)).checkpoint?.step, undefined, 'phase 0 has none at or below 15');
    assert.equal((await resumePoint(files, 'job', 42, { ...logged, lastStep: 24 }, 0)).checkpoint?.step, 20);
  });
});

describe('run rows with phases', () => {
  const spec = {
    run: { method: { kind: 'fft' } },
    seeds: [42, 52],
    autoRemedy: { policy: 'restart_next_seed', windowSteps: 4, minGradientNorm: 0.02, maxRestarts: 3 },
  } as unknown as JobSpec;
  const row: SeedRun = { seed: 42, state: 'RUNNING', steps: 24, totalSteps: 30, meanStepSeconds: 0, durationMs: 0 };

  it('records a phase change, then closes the last phase when the run ends', () => {
    const changed = withPhaseChange(row, { ended: FFT_42, next: DSGD_42 });
    assert.deepEqual(changed.phases, [FFT_42, DSGD_42]);
    assert.equal(currentPhaseIndex(changed), 1);
    assert.deepEqual(remedyRequestFor(spec, changed).remedy?.phases, [FFT_42, DSGD_42]);
    assert.deepEqual(remedyRequestFor(spec, changed).remedy?.reservedSeeds, [42, 52]);
    const closed = withLastPhaseClosed(changed, spec, 30, 'ok');
    assert.deepEqual(closed.phases?.at(-1), { ...DSGD_42, endStep: 30, verdict: 'ok' });
    assert.equal(closed.phases?.length, 2);
  });

  it('gives a run that never changed phase its one phase at the end, and keeps the highest memory', () => {
    assert.deepEqual(withLastPhaseClosed(row, spec, 30, 'collapsed').phases, [
      { seed: 42, method: { kind: 'fft' }, startStep: 0, endStep: 30, verdict: 'collapsed', reason: '' },
    ]);
    assert.equal(currentPhaseIndex(row), 0);
    assert.deepEqual(remedyRequestFor({ ...spec, autoRemedy: undefined } as unknown as JobSpec, row), {});
    assert.equal(withPeakMemory(withPeakMemory(row, 500), 300).peakMemoryBytes, 500);
    assert.equal(withPeakMemory(row, 0).peakMemoryBytes, undefined, 'nothing sampled: nothing recorded');
  });
});

describe('run rows under the escalating policy', () => {
  const spec = {
    run: { method: { kind: 'fft' } },
    seeds: [42, 52],
    autoRemedy: {
      policy: 'escalate',
      windowSteps: 4,
      minGradientNorm: 0.02,
      maxRestarts: 3,
      escalation: { maxExtraCompute: 0.5, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 },
    },
  } as unknown as JobSpec;
  const row: SeedRun = { seed: 52, state: 'RUNNING', steps: 12, totalSteps: 30, meanStepSeconds: 0, durationMs: 0 };
  const gaveUp: EscalationDecision = {
    kind: 'give_up',
    detector: 'collapse_watch',
    why: 'compute budget spent',
    runFailures: 1,
    failedSeeds: 2,
    trainClassCounts: [191, 95],
    imbalanced: true,
    budget: { plainSteps: 60, limitSteps: 30, usedSteps: 24, leftSteps: 6 },
  };

  it("records a give-up on the run's current phase (opening its first), and keeps it when the run ends", () => {
    const marked = withGaveUp(row, spec, { decision: gaveUp });
    assert.deepEqual(marked.phases, [{ seed: 52, method: { kind: 'fft' }, startStep: 0, endStep: 0, reason: '', gaveUp }]);
    assert.deepEqual(withLastPhaseClosed(marked, spec, 30, 'collapsed').phases, [
      { seed: 52, method: { kind: 'fft' }, startStep: 0, endStep: 30, verdict: 'collapsed', reason: '', gaveUp },
    ]);
    const later = withGaveUp(
      withPhaseChange(row, { ended: FFT_42, next: { ...FFT_42, seed: 1052, startStep: 0, endStep: 0, reason: '' } }),
      spec,
      { decision: gaveUp },
    );
    assert.deepEqual(
      later.phases?.map((phase) => [phase.seed, phase.gaveUp?.kind]),
      [
        [42, undefined],
        [1052, 'give_up'],
      ],
    );
    assert.deepEqual(remedyGaveUpEvent({ index: 1, decision: gaveUp, notice: 'gave up' }), {
      kind: 'remedy_gave_up',
      index: 1,
      decision: gaveUp,
      notice: 'gave up',
    });
  });

  it("gives every run of an execution one ledger, starting from what the rows' phases spent", () => {
    const remedied: SeedRun = { ...row, seed: 42, phases: [FFT_42, { ...FFT_42, seed: 1042, startStep: 0, endStep: 0, reason: '' }] };
    const ledger = ledgerFor(spec, [remedied, withGaveUp(row, spec, { decision: gaveUp })]);
    assert.ok(ledger !== undefined);
    assert.deepEqual(new RemedyLedger(ledger).tally(), { usedSteps: 24, failedSeeds: 2 });
    assert.equal(remedyRequestFor(spec, remedied, ledger).remedy?.ledger, ledger);
    assert.equal(remedyRequestFor(spec, remedied).remedy?.ledger, undefined);
    const restart = { ...spec, autoRemedy: { ...spec.autoRemedy, policy: 'restart_next_seed' } } as JobSpec;
    assert.equal(ledgerFor(restart, [remedied]), undefined, 'only the escalating policy keeps a ledger');
  });
});
