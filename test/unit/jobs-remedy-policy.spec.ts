// Auto-remedy decisions against hand-made telemetry sequences (remedy-policy.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Verdict } from '../../server/engine/types.js';
import { AUTO_REMEDY_NOTICE_PREFIX } from '../../server/observability/index.js';
import {
  AUTO_REMEDY_PREFIX,
  collapseSignal,
  decideRemedy,
  FRESH_WATCH,
  isHealthy,
  nextUnusedSeed,
  policyOf,
  REMEDY_DSGD,
  watchEvaluation,
  watchStep,
  type CollapseWatch,
  type CurrentPhase,
  type RemedySettings,
} from '../../server/jobs/remedy-policy.js';
import { phaseNoticeOf } from '../../server/jobs/persistence/phase-notice-migration.js';

const SETTINGS: RemedySettings = { policy: 'restart_next_seed', windowSteps: 3, minGradientNorm: 0.01, maxRestarts: 2 };

/** Feeds gradient norms (one per step) and epoch-end verdicts ('v:collapsed' after a step) through the watch. */
function replay(events: readonly (number | `v:${Verdict}`)[], settings = SETTINGS): { watch: CollapseWatch; firedAt?: number } {
  let watch = FRESH_WATCH;
  let step = 0;
  let firedAt: number | undefined;
  for (const event of events) {
    if (typeof event === 'number') {
      step += 1;
      watch = watchStep(watch, { step, gradientNorm: event }, settings);
    } else {
      watch = watchEvaluation(watch, event.slice(2) as Verdict);
    }
    firedAt ??= collapseSignal(watch, settings)?.step;
  }
  return { watch, ...(firedAt === undefined ? {} : { firedAt }) };
}

const PHASE_0: CurrentPhase = { runSeed: 42, index: 0, seed: 42, method: { kind: 'fft' } };

describe('collapse signal', () => {
  it('needs a one-class validation and a vanishing gradient for the whole window', () => {
    assert.equal(replay([1, 0.5, 0.001, 0.001, 0.001, 'v:collapsed']).firedAt, 5);
    // The window is reached after the collapsed verdict: it fires on that step.
    assert.equal(replay([1, 0.001, 'v:collapsed', 0.001, 0.001, 0.5]).firedAt, 4);
  });

  it('does not fire on either signal alone', () => {
    assert.equal(replay([0.001, 0.001, 0.001, 0.001, 'v:ok', 0.001]).firedAt, undefined);
    assert.equal(replay([1, 1, 1, 'v:collapsed', 1, 1]).firedAt, undefined);
    assert.equal(replay([0.001, 'v:degenerate', 0.001, 0.001]).firedAt, undefined);
  });

  it('restarts the window when one step has a gradient again, and does not count NaN as vanishing', () => {
    assert.equal(replay(['v:collapsed', 0.001, 0.001, 0.5, 0.001, 0.001]).firedAt, undefined);
    assert.equal(replay(['v:collapsed', 0.001, 0.001, 0.5, 0.001, 0.001, 0.001]).firedAt, 6);
    assert.equal(replay(['v:collapsed', Number.NaN, Number.NaN, Number.NaN]).firedAt, undefined);
  });

  it('explains itself', () => {
    const { watch } = replay([0.001, 0.001, 0.001, 'v:collapsed']);
    assert.equal(collapseSignal(watch, SETTINGS)?.reason, 'collapsed at step 3: one class on validation, gradient norm < 0.01 for 3 steps');
  });

  it('calls a state healthy while neither signal is present', () => {
    assert.equal(isHealthy(replay([1, 1]).watch), true);
    assert.equal(isHealthy(replay([1, 0.001]).watch), false);
    assert.equal(isHealthy(replay([1, 'v:collapsed', 1]).watch), false);
    assert.equal(isHealthy(replay([1, 'v:collapsed', 1, 'v:ok']).watch), true);
  });
});

describe('remedy decision', () => {
  const signal = { step: 30, reason: 'collapsed at step 30: one class on validation, gradient norm < 0.01 for 3 steps' };

  it('restarts under seed + 1000 k, skipping seeds in use', () => {
    const decision = decideRemedy({ settings: SETTINGS, signal, current: PHASE_0, usedSeeds: new Set([42, 52, 1042]), healthyStep: 20 });
    assert.equal(decision.kind, 'restart');
    assert.equal(decision.kind === 'restart' && decision.seed, 2042);
    assert.equal(decision.notice, `auto-remedy: seed 42 phase 2 from step 0: ${signal.reason}; restarting under seed 2042 (remedy 1 of 2)`);
    assert.equal(nextUnusedSeed(4_294_967_000, new Set()), 704, 'wraps like a uint32');
  });

  it('continues from the healthy checkpoint under DSGD λ=1, linear', () => {
    const settings: RemedySettings = { ...SETTINGS, policy: 'continue_under_dsgd' };
    const decision = decideRemedy({ settings, signal, current: PHASE_0, usedSeeds: new Set([42]), healthyStep: 20 });
    assert.deepEqual(decision.kind === 'continue' && [decision.method, decision.fromStep], [REMEDY_DSGD, 20]);
    assert.match(
      decision.notice,
      /^auto-remedy: seed 42 phase 2 from step 20: .*continuing from the healthy checkpoint at step 20 under dsgd/,
    );
    const fromStart = decideRemedy({ settings, signal, current: PHASE_0, usedSeeds: new Set([42]), healthyStep: 0 });
    assert.match(fromStart.notice, /continuing from the start under dsgd/);
  });

  it('gives up after max_restarts, and when the run already trains under DSGD λ=1', () => {
    const exhausted = decideRemedy({
      settings: SETTINGS,
      signal,
      current: { ...PHASE_0, index: 2, seed: 2042 },
      usedSeeds: new Set(),
      healthyStep: 0,
    });
    assert.equal(exhausted.kind, 'give_up');
    assert.match(exhausted.notice, /^auto-remedy: seed 42: .*no further remedy \(max_restarts 2 reached\)/);
    const settings: RemedySettings = { ...SETTINGS, policy: 'continue_under_dsgd' };
    const underDsgd = decideRemedy({
      settings,
      signal,
      current: { ...PHASE_0, method: REMEDY_DSGD },
      usedSeeds: new Set(),
      healthyStep: 10,
    });
    assert.equal(underDsgd.kind, 'give_up');
    // Another DSGD (λ or schedule) is still switched to the paper's.
    const otherDsgd = decideRemedy({
      settings,
      signal,
      current: { ...PHASE_0, method: { kind: 'dsgd', lambda: 0.5, schedule: 'cosine' } },
      usedSeeds: new Set(),
      healthyStep: 10,
    });
    assert.equal(otherDsgd.kind, 'continue');
  });

  it('writes phase-start notices the event-log migration reads back, with the prefix observability counts', () => {
    assert.equal(AUTO_REMEDY_PREFIX, AUTO_REMEDY_NOTICE_PREFIX);
    const restart = decideRemedy({
      settings: SETTINGS,
      signal,
      current: { ...PHASE_0, index: 1, seed: 1042 },
      usedSeeds: new Set([1042]),
      healthyStep: 0,
    });
    assert.deepEqual(phaseNoticeOf(restart.notice), { runSeed: 42, index: 2, startStep: 0 });
    const continued = decideRemedy({
      settings: { ...SETTINGS, policy: 'continue_under_dsgd' },
      signal,
      current: PHASE_0,
      usedSeeds: new Set(),
      healthyStep: 20,
    });
    assert.deepEqual(phaseNoticeOf(continued.notice), { runSeed: 42, index: 1, startStep: 20 });
    const gaveUp = decideRemedy({
      settings: { ...SETTINGS, maxRestarts: 1 },
      signal,
      current: { ...PHASE_0, index: 1 },
      usedSeeds: new Set(),
      healthyStep: 0,
    });
    assert.equal(phaseNoticeOf(gaveUp.notice), undefined);
    assert.equal(phaseNoticeOf('resumed after a server restart'), undefined);
    // The phase_started event names the policy that chose the phase.
    assert.equal(restart.kind === 'restart' && policyOf(restart), 'restart_next_seed');
    assert.equal(continued.kind === 'continue' && policyOf(continued), 'continue_under_dsgd');
  });
});
