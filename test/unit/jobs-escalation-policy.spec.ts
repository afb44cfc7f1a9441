// The escalating auto-remedy policy as pure decisions (escalation-policy.ts) and its job-wide
// ledger (remedy-ledger.ts): which decision a sequence of failures gets, what the budget says
// after each, and that the method switches only on imbalanced training data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MethodSpec } from '../../server/engine/types.js';
import {
  budgetOf,
  decideEscalation,
  ESCALATION_METHOD,
  extraStepsOf,
  isImbalanced,
  tallyOfRuns,
  type EscalationInput,
} from '../../server/jobs/escalation-policy.js';
import { phaseNoticeOf } from '../../server/jobs/persistence/phase-notice-migration.js';
import { createLedger, decideWithLedger, RemedyLedger } from '../../server/jobs/remedy-ledger.js';
import { DEFAULT_ESCALATION, type CurrentPhase, type RemedySettings } from '../../server/jobs/remedy-policy.js';
import type { RunPhase } from '../../server/jobs/types.js';

const SETTINGS: RemedySettings = {
  policy: 'escalate',
  windowSteps: 4,
  minGradientNorm: 0.02,
  maxRestarts: 3,
  escalation: { maxExtraCompute: 0.5, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 },
};
const IMBALANCED = [191, 95];
const BALANCED = [209, 191];
const FFT: MethodSpec = { kind: 'fft' };

/** A job of four seeds, 30 planned steps each: 120 plain steps, so 60 extra at 0.5. */
function input(
  overrides: Partial<EscalationInput> & { step?: number; index?: number; method?: MethodSpec; seed?: number } = {},
): EscalationInput {
  const { step = 20, index = 0, method = FFT, seed, ...rest } = overrides;
  const current: CurrentPhase = { runSeed: 42, index, seed: seed ?? 42 + 1000 * index, method };
  return {
    settings: SETTINGS,
    signal: { step, reason: `collapsed at step ${step}: one class on validation, gradient norm < 0.02 for 4 steps` },
    detector: 'collapse_watch',
    current,
    // The job's seeds and those of the run's phases so far.
    usedSeeds: new Set([42, 52, 62, 72, ...Array.from({ length: index + 1 }, (_, k) => 42 + 1000 * k)]),
    totalSteps: 30,
    jobSeeds: 4,
    trainClassCounts: IMBALANCED,
    tally: { usedSteps: 0, failedSeeds: 1 },
    ...rest,
  };
}

describe('escalation: imbalance', () => {
  it('calls training data imbalanced when its largest class has at least 1.5 times the smallest', () => {
    assert.equal(isImbalanced([191, 95]), true);
    assert.equal(isImbalanced([150, 100]), true);
    assert.equal(isImbalanced([149, 100]), false);
    assert.equal(isImbalanced([100, 100, 100]), false);
    assert.equal(isImbalanced([100, 100, 10]), true, 'one small class in three');
    assert.equal(isImbalanced([100, 0]), true, 'a class without examples');
    assert.equal(isImbalanced([100]), false, 'one class has no balance to judge');
    assert.equal(isImbalanced([]), false);
  });
});

describe('escalation: decisions', () => {
  it('restarts a first failure under the next unused seed with the same method, and spends the steps it trained', () => {
    const { decision, spend } = decideEscalation(input());
    assert.equal(decision.kind, 'restart');
    assert.equal(decision.kind === 'restart' && decision.seed, 1042);
    assert.deepEqual(decision.kind === 'restart' && decision.method, FFT);
    assert.equal(spend, 20);
    assert.deepEqual(decision.escalation, {
      kind: 'restart',
      detector: 'collapse_watch',
      why: 'failure 1 of the run, 1 failed seed(s) in the job; the method switches from failure 2 of a run or 3 failed seeds',
      runFailures: 1,
      failedSeeds: 1,
      trainClassCounts: IMBALANCED,
      imbalanced: true,
      budget: { plainSteps: 120, limitSteps: 60, usedSteps: 20, leftSteps: 40 },
    });
    // The notice starts like every phase change, so the one regex that reads them still does.
    assert.deepEqual(phaseNoticeOf(decision.notice), { runSeed: 42, index: 1, startStep: 0 });
    assert.match(decision.notice, /restarting under seed 1042: failure 1 of the run.*\(remedy 1 of 3; 20 of 60 extra steps used\)$/);
  });

  it("switches to focal loss (gamma 2) at the run's second failure on imbalanced data", () => {
    const { decision, spend } = decideEscalation(input({ index: 1, step: 15, tally: { usedSteps: 20, failedSeeds: 1 } }));
    assert.equal(decision.kind, 'restart');
    assert.deepEqual(decision.kind === 'restart' && [decision.seed, decision.method], [2042, ESCALATION_METHOD]);
    assert.deepEqual(ESCALATION_METHOD, { kind: 'focal', gamma: 2 });
    assert.equal(spend, 15);
    assert.equal(decision.escalation.kind, 'switch_method');
    assert.equal(
      decision.escalation.why,
      'failures persist (failure 2 of the run) and the training data is imbalanced (training class counts 191:95)',
    );
    assert.deepEqual(decision.escalation.budget, { plainSteps: 120, limitSteps: 60, usedSteps: 35, leftSteps: 25 });
    assert.match(
      decision.notice,
      /^auto-remedy: seed 42 phase 3 from step 0: .*restarting under seed 2042 with focal γ=2: failures persist/,
    );
  });

  it('keeps the method and restarts when failures persist on balanced data', () => {
    const { decision } = decideEscalation(input({ index: 1, trainClassCounts: BALANCED }));
    assert.equal(decision.escalation.kind, 'restart');
    assert.deepEqual(decision.kind === 'restart' && decision.method, FFT);
    assert.equal(decision.escalation.imbalanced, false);
    assert.match(
      decision.escalation.why,
      /^failures persist \(failure 2 of the run\) but the training data is balanced \(training class counts 209:191\): the method stays$/,
    );
  });

  it('keeps focal once a run trains with it', () => {
    const focal: MethodSpec = { kind: 'focal', gamma: 2 };
    const { decision } = decideEscalation(input({ index: 2, method: focal, tally: { usedSteps: 0, failedSeeds: 1 } }));
    assert.equal(decision.escalation.kind, 'restart');
    assert.deepEqual(decision.kind === 'restart' && decision.method, focal);
    assert.match(decision.escalation.why, /already trains with focal loss/);
  });

  it("switches at a run's first failure once k of the job's seeds have failed", () => {
    const { decision } = decideEscalation(input({ tally: { usedSteps: 0, failedSeeds: 3 } }));
    assert.equal(decision.escalation.kind, 'switch_method');
    assert.match(decision.escalation.why, /^failures persist \(3 of the job's seeds failed\)/);
    // The same count on balanced data changes nothing about the method.
    assert.equal(
      decideEscalation(input({ tally: { usedSteps: 0, failedSeeds: 3 }, trainClassCounts: BALANCED })).decision.escalation.kind,
      'restart',
    );
  });

  it('gives up, saying why, once a restart would overdraw the budget; a restart that fits it exactly goes ahead', () => {
    const exact = decideEscalation(input({ step: 20, tally: { usedSteps: 40, failedSeeds: 2 } }));
    assert.equal(exact.decision.kind, 'restart');
    assert.deepEqual(exact.decision.escalation.budget, { plainSteps: 120, limitSteps: 60, usedSteps: 60, leftSteps: 0 });
    const over = decideEscalation(input({ step: 21, tally: { usedSteps: 40, failedSeeds: 2 } }));
    assert.equal(over.decision.kind, 'give_up');
    assert.equal(over.spend, 0);
    assert.equal(over.decision.escalation.kind, 'give_up');
    assert.equal(over.decision.escalation.why, 'compute budget spent: a restart would train 21 more steps, 20 of 60 extra steps are left');
    assert.deepEqual(
      over.decision.escalation.budget,
      { plainSteps: 120, limitSteps: 60, usedSteps: 40, leftSteps: 20 },
      'unchanged by giving up',
    );
    assert.equal(
      over.decision.notice,
      'auto-remedy: seed 42: collapsed at step 21: one class on validation, gradient norm < 0.02 for 4 steps; ' +
        'no further remedy (compute budget spent: a restart would train 21 more steps, 20 of 60 extra steps are left), the run ends as it is',
    );
  });

  it('gives up after max_restarts remedies of the run, budget or not', () => {
    const { decision } = decideEscalation(input({ index: 3, tally: { usedSteps: 0, failedSeeds: 1 } }));
    assert.equal(decision.kind, 'give_up');
    assert.equal(decision.escalation.why, 'max_restarts 3 reached');
    assert.equal(decision.escalation.runFailures, 4);
  });

  it('falls back to the documented defaults when the settings carry no limits', () => {
    const { escalation: _limits, ...plain } = SETTINGS;
    assert.deepEqual(DEFAULT_ESCALATION, { maxExtraCompute: 0.5, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 });
    assert.deepEqual(decideEscalation(input({ settings: plain })).decision.escalation.budget, {
      plainSteps: 120,
      limitSteps: 60,
      usedSteps: 20,
      leftSteps: 40,
    });
  });
});

describe('escalation: budget accounting', () => {
  it('caps extra steps at floor(max_extra_compute x the plain run)', () => {
    assert.deepEqual(budgetOf({ ...DEFAULT_ESCALATION, maxExtraCompute: 0.29 }, 10, 10, 0), {
      plainSteps: 100,
      limitSteps: 29,
      usedSteps: 0,
      leftSteps: 29,
    });
    assert.deepEqual(budgetOf({ ...DEFAULT_ESCALATION, maxExtraCompute: 0.5 }, 31, 1, 20), {
      plainSteps: 31,
      limitSteps: 15,
      usedSteps: 20,
      leftSteps: 0,
    });
  });

  it("counts the steps a run's phase changes trained over, and the seeds that failed, from the run rows", () => {
    const phase = (seed: number, startStep: number, endStep: number, extra: Partial<RunPhase> = {}): RunPhase => ({
      seed,
      method: FFT,
      startStep,
      endStep,
      reason: '',
      ...extra,
    });
    // Restarts start again at 0: the steps of each ended phase are extra.
    assert.equal(extraStepsOf([phase(42, 0, 20), phase(1042, 0, 15), phase(2042, 0, 30)]), 35);
    // A continuation from a checkpoint at 10 trains steps 11-20 again: 10 extra.
    assert.equal(extraStepsOf([phase(42, 0, 20), phase(42, 10, 30)]), 10);
    assert.equal(extraStepsOf([phase(42, 0, 30)]), 0);
    const gaveUp = decideEscalation(input({ tally: { usedSteps: 60, failedSeeds: 1 } })).decision.escalation;
    assert.equal(gaveUp.kind, 'give_up');
    assert.deepEqual(
      tallyOfRuns([
        { phases: [phase(42, 0, 20), phase(1042, 0, 30)] },
        { phases: [phase(52, 0, 30, { gaveUp })] },
        { phases: [phase(62, 0, 30)] },
        {},
      ]),
      { usedSteps: 20, failedSeeds: 2 },
    );
  });

  it('shares one tally between runs: a sequence of failures across a job, each decision seeing the last', () => {
    const ledger = new RemedyLedger(createLedger({ usedSteps: 0, failedSeeds: 0 }));
    const fail = (runSeed: number, index: number, step: number, method: MethodSpec = FFT) =>
      decideWithLedger(ledger, { ...input({ step, index, method }), current: { runSeed, index, seed: runSeed + 1000 * index, method } })
        .decision;
    const decisions = [
      fail(42, 0, 20), // seed 42's first failure: restart, 20 of 60 used
      fail(52, 0, 10), // a second seed fails: restart, 30
      fail(42, 1, 12), // seed 42 again: its second failure switches to focal, 42
      fail(62, 0, 12), // the third failed seed: focal at once, 54
      fail(72, 0, 7), // 7 > 6 left: give up
      fail(52, 1, 6), // exactly the 6 left: seed 52's second failure, focal
    ];
    assert.deepEqual(
      decisions.map((d) => [d.escalation.kind, d.escalation.failedSeeds, d.escalation.budget.usedSteps]),
      [
        ['restart', 1, 20],
        ['restart', 2, 30],
        ['switch_method', 2, 42],
        ['switch_method', 3, 54],
        ['give_up', 4, 54],
        ['switch_method', 4, 60],
      ],
    );
    assert.deepEqual(ledger.tally(), { usedSteps: 60, failedSeeds: 4 });
  });

  it('spends with a compare-and-swap: a decision taken on a stale tally is not recorded', () => {
    const ledger = new RemedyLedger(createLedger({ usedSteps: 5, failedSeeds: 1 }));
    assert.equal(ledger.trySpend(5, 10), true);
    assert.equal(ledger.trySpend(5, 10), false, 'another run spent since 5 was read');
    assert.deepEqual(ledger.tally(), { usedSteps: 15, failedSeeds: 1 });
    assert.equal(ledger.addFailedSeed(), 2);
  });
});
