// The escalating policy's decisions in the CLI's words: watch lines for its events, and the
// phases and budget `get`/`watch` print at the end (client/cli/remedy-lines.ts, reports.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AutoRemedy_Policy,
  RemedyDecision_Kind,
  RunState,
  Verdict,
  type MethodSpec,
  type RemedyDecision,
  type RunPhase,
  type SeedRun,
} from '../../client/index.js';
import { remedyGaveUpLine } from '../../client/cli/remedy-lines.js';
import { phaseStartedLine, remedyPhaseLines } from '../../client/cli/reports.js';

const FFT: MethodSpec = { method: { $case: 'fft', value: {} } };
const FOCAL: MethodSpec = { method: { $case: 'focal', value: { gamma: 2, classWeights: [] } } };

function decision(kind: RemedyDecision_Kind, why: string, usedSteps: number): RemedyDecision {
  return {
    kind,
    detector: 'collapse_watch',
    why,
    runFailures: 1,
    failedSeeds: 1,
    trainClassCounts: [191, 95],
    imbalanced: true,
    budget: { plainSteps: 120, limitSteps: 60, usedSteps, leftSteps: 60 - usedSteps },
  };
}

function phase(seed: number, method: MethodSpec, endStep: number, verdict: Verdict, extra: Partial<RunPhase> = {}): RunPhase {
  return { seed, method, startStep: 0, endStep, verdict, reason: verdict === Verdict.VERDICT_COLLAPSED ? 'collapsed' : '', ...extra };
}

function run(seed: number, phases: RunPhase[]): SeedRun {
  return {
    seed,
    state: RunState.RUN_STATE_SUCCEEDED,
    steps: 30,
    totalSteps: 30,
    meanStepSeconds: 0,
    metrics: undefined,
    error: '',
    duration: undefined,
    peakMemoryBytes: 0,
    phases,
  };
}

const RESTART = decision(RemedyDecision_Kind.KIND_RESTART, 'failure 1 of the run', 20);
const SWITCH = decision(RemedyDecision_Kind.KIND_SWITCH_METHOD, 'failures persist', 40);
const GIVE_UP = decision(RemedyDecision_Kind.KIND_GIVE_UP, 'compute budget spent', 40);

describe('escalating auto-remedy in the CLI', () => {
  it('adds the decision and the budget to a phase change line', () => {
    const line = phaseStartedLine(1052, {
      phaseIndex: 2,
      phase: phase(3052, FOCAL, 0, Verdict.VERDICT_UNSPECIFIED, { startedBy: SWITCH }),
      ended: phase(2052, FFT, 20, Verdict.VERDICT_COLLAPSED, { reason: 'collapsed at step 20' }),
      policy: AutoRemedy_Policy.POLICY_ESCALATE,
      notice: 'auto-remedy: ...',
      decision: SWITCH,
    });
    assert.equal(
      line,
      'seed 1052: auto-remedy escalate: phase 3 focal(γ=2)@3052 from step 0 after fft@2052 steps 0-20 collapsed (collapsed at step 20); ' +
        'switch method (failures persist); extra steps 40 of 60 used',
    );
  });

  it('says when it gave up, and why', () => {
    assert.equal(
      remedyGaveUpLine(72, { phaseIndex: 0, decision: GIVE_UP, notice: 'auto-remedy: seed 72: ...' }),
      'seed 72: auto-remedy escalate gave up in phase 1 (compute budget spent); extra steps 40 of 60 used',
    );
  });

  it("tags each run's phases with the decision that started them, and ends with the job's budget", () => {
    const lines = remedyPhaseLines([
      run(1052, [
        phase(1052, FFT, 20, Verdict.VERDICT_COLLAPSED),
        phase(2052, FFT, 20, Verdict.VERDICT_COLLAPSED, { startedBy: RESTART }),
        phase(3052, FOCAL, 30, Verdict.VERDICT_OK, { startedBy: SWITCH }),
      ]),
      run(72, [phase(72, FFT, 30, Verdict.VERDICT_COLLAPSED, { reason: '', gaveUp: GIVE_UP })]),
      run(82, [phase(82, FFT, 30, Verdict.VERDICT_OK)]),
    ]);
    assert.equal(
      lines,
      'auto-remedy phases\n' +
        '  seed 1052: fft@1052 steps 0-20 collapsed -> fft@2052 steps 0-20 collapsed [restart] -> focal(γ=2)@3052 steps 0-30 ok [switch method]\n' +
        '  seed 72: fft@72 steps 0-30 collapsed (gave up: compute budget spent)\n' +
        '  auto-remedy budget: 40 of 60 extra steps used (plain run 120 steps)',
    );
  });
});
