// The escalating policy in the worker's phase loop (remedy-runner.ts) against a scripted
// trainer: the phases it starts, the decisions it reports, the budget shared by a job's runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLedger } from '../../server/jobs/remedy-ledger.js';
import type { RemedySettings } from '../../server/jobs/remedy-policy.js';
import type { RunPhase } from '../../server/jobs/types.js';
import type { TrainProgress } from '../../server/jobs/worker/protocol.js';
import { trainWithRemedies } from '../../server/jobs/worker/remedy-runner.js';
import { RUN, scriptedTrainer, TOTAL_STEPS, type Script } from '../fixtures/remedy-fixtures.js';

/** Two seeds of 12 steps: a plain run of 24 steps, so 24 extra at 1.0. */
const SETTINGS: RemedySettings = {
  policy: 'escalate',
  windowSteps: 2,
  minGradientNorm: 0.01,
  maxRestarts: 3,
  escalation: { maxExtraCompute: 1, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 },
};
const IMBALANCED = [40, 10];
const BALANCED = [25, 25];

/** FFT collapses under every seed from step 3 on (caught at the epoch end of step 4); focal trains well. */
const fftCollapses: Script = ({ method }, step) =>
  method === 'fft' && step >= 3 ? { norm: 0, verdict: 'collapsed' } : { norm: 1, verdict: 'ok' };

interface Options {
  readonly settings?: RemedySettings;
  readonly counts?: readonly number[];
  readonly ledger?: SharedArrayBuffer;
  readonly seed?: number;
  readonly phases?: readonly RunPhase[];
}

async function run(script: Script, options: Options = {}) {
  const { trainer, calls } = scriptedTrainer(script);
  const progress: TrainProgress[] = [];
  const result = await trainWithRemedies({
    run: { ...RUN, seed: options.seed ?? 42 },
    remedy: {
      settings: options.settings ?? SETTINGS,
      reservedSeeds: [42, 52],
      phases: [...(options.phases ?? [])],
      ...(options.ledger === undefined ? {} : { ledger: options.ledger }),
    },
    trainClassCounts: options.counts ?? IMBALANCED,
    trainPhase: trainer,
    report: (item) => progress.push(item),
    stopRequest: () => 'continue',
    now: () => 0,
    memoryBytes: () => 0,
    encode: (checkpoint) => new Uint8Array([checkpoint.step]),
  });
  const of = <K extends TrainProgress['kind']>(kind: K) =>
    progress.filter((p): p is Extract<TrainProgress, { kind: K }> => p.kind === kind);
  return {
    ...result,
    calls,
    phases: of('phase'),
    gaveUp: of('remedy_gave_up'),
    notices: of('notice').map((n) => n.message),
    steps: of('step').length,
  };
}

describe('escalating auto-remedy in the worker', () => {
  it('restarts a failing seed, then switches to focal at its second failure on imbalanced data', async () => {
    const result = await run(fftCollapses);
    assert.deepEqual(result.calls, ['fft@42 from 0', 'fft@1042 from 0', 'focal@2042 from 0']);
    assert.equal(result.outcome.validation?.verdict, 'ok');
    const [first, second, ...more] = result.phases;
    assert.equal(more.length, 0);
    assert.deepEqual(
      result.phases.map((p) => [
        p.index,
        p.policy,
        p.decision?.kind,
        p.decision?.runFailures,
        p.decision?.budget.usedSteps,
        p.next.seed,
        p.next.method,
      ]),
      [
        [1, 'escalate', 'restart', 1, 4, 1042, { kind: 'fft' }],
        [2, 'escalate', 'switch_method', 2, 8, 2042, { kind: 'focal', gamma: 2 }],
      ],
    );
    // The phase it starts carries the decision, and keeps it once it ends.
    assert.deepEqual(first?.next.startedBy, first?.decision);
    assert.deepEqual(second?.ended.startedBy, first?.decision);
    assert.deepEqual([second?.ended.seed, second?.ended.endStep, second?.ended.verdict], [1042, 4, 'collapsed']);
    assert.deepEqual(first?.decision?.budget, { plainSteps: 24, limitSteps: 24, usedSteps: 4, leftSteps: 20 });
    assert.equal(first?.decision?.detector, 'collapse_watch');
    assert.deepEqual(first?.decision?.trainClassCounts, IMBALANCED);
    assert.match(
      second?.notice ?? '',
      /^auto-remedy: seed 42 phase 3 from step 0: collapsed at step 4: .*restarting under seed 2042 with focal γ=2/,
    );
    assert.equal(result.steps, 4 + 4 + TOTAL_STEPS, 'every step trained is reported');
    assert.equal(result.gaveUp.length, 0);
  });

  it('keeps the method on balanced data, and gives up as a structured event after max_restarts', async () => {
    const result = await run(fftCollapses, { counts: BALANCED });
    assert.deepEqual(result.calls, ['fft@42 from 0', 'fft@1042 from 0', 'fft@2042 from 0', 'fft@3042 from 0']);
    assert.deepEqual(
      result.phases.map((p) => p.decision?.kind),
      ['restart', 'restart', 'restart'],
    );
    assert.equal(result.outcome.validation?.verdict, 'collapsed', 'the run ends as it is');
    const [gaveUp, ...more] = result.gaveUp;
    assert.equal(more.length, 0);
    assert.deepEqual(
      [gaveUp?.index, gaveUp?.decision.kind, gaveUp?.decision.why, gaveUp?.decision.budget.usedSteps],
      [3, 'give_up', 'max_restarts 3 reached', 12],
    );
    assert.match(
      gaveUp?.notice ?? '',
      /^auto-remedy: seed 42: collapsed at step 4: .*no further remedy \(max_restarts 3 reached\), the run ends as it is$/,
    );
    assert.deepEqual(result.notices, [], 'said once, by the structured event (the main thread logs its notice)');
  });

  it('gives up when a restart would overdraw the budget, and the run trains on to its end', async () => {
    // 0.25 x 24 = 6 extra steps: the first restart spends 4, the second would need 4 more.
    const settings: RemedySettings = {
      ...SETTINGS,
      escalation: { maxExtraCompute: 0.25, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 },
    };
    const result = await run(fftCollapses, { settings });
    assert.deepEqual(result.calls, ['fft@42 from 0', 'fft@1042 from 0']);
    assert.equal(result.gaveUp[0]?.index, 1);
    assert.equal(result.gaveUp[0]?.decision.why, 'compute budget spent: a restart would train 4 more steps, 2 of 6 extra steps are left');
    assert.equal(result.steps, 4 + TOTAL_STEPS);
    assert.ok(result.steps - TOTAL_STEPS <= 6, 'extra steps within the cap');
  });

  it("shares the job's budget between its runs through the ledger", async () => {
    const settings: RemedySettings = {
      ...SETTINGS,
      escalation: { maxExtraCompute: 0.25, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 },
    };
    const ledger = createLedger({ usedSteps: 0, failedSeeds: 0 });
    const first = await run(fftCollapses, { settings, ledger, seed: 42 });
    const second = await run(fftCollapses, { settings, ledger, seed: 52 });
    assert.deepEqual(
      first.phases.map((p) => p.decision?.budget.usedSteps),
      [4],
    );
    // Seed 52's first failure finds 2 of 6 steps left: no restart for it.
    assert.deepEqual(second.calls, ['fft@52 from 0']);
    assert.deepEqual([second.gaveUp[0]?.decision.failedSeeds, second.gaveUp[0]?.decision.budget.usedSteps], [2, 4]);
  });

  it('remedies no more once an earlier process recorded a give-up in the current phase', async () => {
    const gaveUp = (await run(fftCollapses, { counts: BALANCED })).gaveUp[0]?.decision;
    assert.ok(gaveUp);
    const phases: RunPhase[] = [{ seed: 42, method: { kind: 'fft' }, startStep: 0, endStep: 0, reason: '', gaveUp }];
    const resumed = await run(fftCollapses, { phases });
    assert.deepEqual(resumed.calls, ['fft@42 from 0']);
    assert.deepEqual([resumed.phases.length, resumed.gaveUp.length], [0, 0]);
  });

  it('without a shared ledger, counts what its own recorded phases spent', async () => {
    const phases: RunPhase[] = [
      { seed: 42, method: { kind: 'fft' }, startStep: 0, endStep: 10, verdict: 'collapsed', reason: 'collapsed' },
      { seed: 1042, method: { kind: 'fft' }, startStep: 0, endStep: 0, reason: '' },
    ];
    const settings: RemedySettings = {
      ...SETTINGS,
      escalation: { maxExtraCompute: 0.5, escalateAfterRunFailures: 3, escalateAfterFailedSeeds: 3 },
    };
    const result = await run(fftCollapses, { settings, phases });
    // 10 of 12 already spent: the failure at step 4 of phase 2 cannot be paid for.
    assert.deepEqual(result.calls, ['fft@1042 from 0']);
    assert.deepEqual([result.gaveUp[0]?.index, result.gaveUp[0]?.decision.budget.usedSteps], [1, 10]);
  });
});
