// The worker's phase loop (remedy-runner.ts) against a scripted trainer: which phases it
// starts, from where, and what it reports, without TF.js.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineCheckpointEvery, trainWithRemedies } from '../../server/jobs/worker/remedy-runner.js';
import type { RemedySettings } from '../../server/jobs/remedy-policy.js';
import type { TrainProgress } from '../../server/jobs/worker/protocol.js';
import { RUN, scriptedTrainer, type Script } from '../fixtures/remedy-fixtures.js';

const SETTINGS: RemedySettings = { policy: 'restart_next_seed', windowSteps: 2, minGradientNorm: 0.01, maxRestarts: 2 };

/** FFT under seed 42 collapses from step 3 on; every other phase trains well. */
const fftCollapses: Script = ({ seed, method }, step) =>
  method === 'fft' && seed === 42 && step >= 3 ? { norm: 0, verdict: 'collapsed' } : { norm: 1, verdict: 'ok' };

async function run(script: Script, settings: RemedySettings | undefined, extra: { durable?: number; stopAfterPhase?: boolean } = {}) {
  const { trainer, calls } = scriptedTrainer(script);
  const progress: TrainProgress[] = [];
  let phaseSeen = false;
  const result = await trainWithRemedies({
    run: RUN,
    ...(extra.durable === undefined ? {} : { durableEverySteps: extra.durable }),
    ...(settings === undefined ? {} : { remedy: { settings, reservedSeeds: [42, 52], phases: [] } }),
    trainPhase: trainer,
    report: (item) => {
      progress.push(item);
      if (item.kind === 'phase') phaseSeen = true;
    },
    stopRequest: () => (extra.stopAfterPhase === true && phaseSeen ? 'stop' : 'continue'),
    now: () => 0,
    memoryBytes: () => 1000 + progress.length,
    encode: (checkpoint) => new Uint8Array([checkpoint.step]),
  });
  const of = <K extends TrainProgress['kind']>(kind: K) =>
    progress.filter((p): p is Extract<TrainProgress, { kind: K }> => p.kind === kind);
  return { ...result, calls, phases: of('phase'), notices: of('notice').map((n) => n.message), checkpoints: of('checkpoint') };
}

describe('auto-remedy phases in the worker', () => {
  it('restarts a collapsed run under the next unused seed', async () => {
    const result = await run(fftCollapses, SETTINGS);
    assert.deepEqual(result.calls, ['fft@42 from 0', 'fft@1042 from 0']);
    assert.equal(result.outcome.validation?.verdict, 'ok');
    assert.equal(result.phases.length, 1);
    const [change] = result.phases;
    assert.deepEqual(change?.ended, {
      seed: 42,
      method: { kind: 'fft' },
      startStep: 0,
      endStep: 4,
      verdict: 'collapsed',
      reason: 'collapsed at step 4: one class on validation, gradient norm < 0.01 for 2 steps',
    });
    assert.deepEqual(change?.next, { seed: 1042, method: { kind: 'fft' }, startStep: 0, endStep: 0, reason: '' });
    assert.match(change?.notice ?? '', /^auto-remedy: seed 42 phase 2 from step 0: .*restarting under seed 1042/);
    assert.deepEqual([change?.index, change?.policy], [1, 'restart_next_seed']);
    assert.ok(result.peakMemoryBytes > 1000, 'memory is sampled at every step');
  });

  it('continues from the newest healthy checkpoint under DSGD', async () => {
    // Healthy through step 5, vanishing from step 6, one-class at the epoch end of step 8.
    const script: Script = ({ method }, step) =>
      method === 'fft' && step >= 6 ? { norm: 0, verdict: 'collapsed' } : { norm: 1, verdict: 'ok' };
    const result = await run(script, { ...SETTINGS, policy: 'continue_under_dsgd' });
    // Checkpoints every window (2) steps: 2, 4 healthy; 6 not (its gradient vanished).
    assert.deepEqual(result.calls, ['fft@42 from 0', 'dsgd@42 from 4']);
    assert.deepEqual(result.phases[0]?.next, {
      seed: 42,
      method: { kind: 'dsgd', lambda: 1, schedule: 'linear' },
      startStep: 4,
      endStep: 4,
      reason: '',
    });
    assert.equal(result.phases[0]?.ended.endStep, 8);
    assert.deepEqual([result.phases[0]?.index, result.phases[0]?.policy], [1, 'continue_under_dsgd']);
    assert.equal(result.outcome.validation?.verdict, 'ok');
  });

  it('hands the host only checkpoints at its own cadence, tagged with their phase', async () => {
    const script: Script = ({ method }, step) =>
      method === 'fft' && step >= 6 ? { norm: 0, verdict: 'collapsed' } : { norm: 1, verdict: 'ok' };
    const result = await run(script, { ...SETTINGS, policy: 'continue_under_dsgd' }, { durable: 3 });
    assert.equal(engineCheckpointEvery(3, 2), 1);
    // The engine checkpoints every step, so step 5 is the newest healthy one. The host gets multiples
    // of 3 and epoch ends (4, 8, 12); phase 1 first gets its starting point, step 5.
    assert.deepEqual(result.calls, ['fft@42 from 0', 'dsgd@42 from 5']);
    assert.deepEqual(
      result.checkpoints.map((c) => `${c.phase}:${c.step}`),
      ['0:3', '0:4', '0:6', '0:8', '1:5', '1:6', '1:8', '1:9', '1:12'],
    );
  });

  it('ends a run that keeps collapsing once max_restarts is spent, as it is', async () => {
    const always: Script = () => ({ norm: 0, verdict: 'collapsed' });
    const result = await run(always, { ...SETTINGS, maxRestarts: 1 });
    assert.deepEqual(result.calls, ['fft@42 from 0', 'fft@1042 from 0']);
    assert.equal(result.outcome.stopped, false);
    assert.equal(result.outcome.validation?.verdict, 'collapsed');
    assert.equal(result.notices.length, 1);
    assert.match(result.notices[0] ?? '', /^auto-remedy: seed 42: .*no further remedy \(max_restarts 1 reached\)/);
  });

  it('trains one phase without auto-remedy, and stops between phases when asked', async () => {
    const off = await run(fftCollapses, undefined);
    assert.deepEqual(off.calls, ['fft@42 from 0']);
    assert.equal(off.outcome.validation?.verdict, 'collapsed');
    const stopped = await run(fftCollapses, SETTINGS, { stopAfterPhase: true });
    assert.deepEqual(stopped.calls, ['fft@42 from 0']);
    assert.equal(stopped.outcome.stopped, true);
  });
});
