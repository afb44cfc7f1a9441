// Checkpoint and resume in the engine alone: a run resumed from any checkpoint (after a trip
// through bytes, as jobs/ stores it) ends bitwise where the uninterrupted run ends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { train } from '../../server/engine/index.js';
import type { MethodSpec, RunSpec, StepTelemetry, TrainerCheckpoint, TrainOutcome } from '../../server/engine/index.js';
import { optimizerSpec, randomSet, runSpec, silentHooks } from '../fixtures/engine-fixtures.js';

const trainSet = randomSet(36, 6, 3, 11);
const validationSet = randomSet(20, 6, 3, 12);

function spec(method: MethodSpec, overrides: Partial<RunSpec> = {}): RunSpec {
  return runSpec(method, {
    // Dropout and accumulation: the seeds of the masks follow the micro-batch counter.
    model: { family: 'mlp', hiddenUnits: [12], dropout: 0.3 },
    optimizer: optimizerSpec({ warmupFraction: 0.2, lrSchedule: 'linear', clipNorm: 1 }),
    batchSize: 4,
    gradientAccumulation: 2,
    epochs: 3,
    ...overrides,
  });
}

interface Recorded {
  readonly outcome: TrainOutcome;
  readonly steps: StepTelemetry[];
  readonly checkpoints: TrainerCheckpoint[];
}

async function run(
  runSpecValue: RunSpec,
  options: { resumeFrom?: TrainerCheckpoint; every?: number; suspendAtCall?: number } = {},
): Promise<Recorded> {
  const steps: StepTelemetry[] = [];
  const checkpoints: TrainerCheckpoint[] = [];
  let calls = 0;
  const outcome = await train(
    {
      spec: runSpecValue,
      train: trainSet,
      validation: validationSet,
      checkpointEverySteps: options.every ?? 0,
      ...(options.resumeFrom === undefined ? {} : { resumeFrom: options.resumeFrom }),
    },
    {
      ...silentHooks,
      onStep: (telemetry) => steps.push(telemetry),
      // Stored as bytes and read back, as jobs/ does: nothing may survive only by reference.
      onCheckpoint: (checkpoint) => checkpoints.push(deserialize(serialize(checkpoint)) as TrainerCheckpoint),
      betweenSteps: async () => (++calls === options.suspendAtCall ? 'suspend' : 'continue'),
    },
  );
  return { outcome, steps, checkpoints };
}

function assertSameWeights(actual: TrainOutcome, expected: TrainOutcome): void {
  assert.equal(actual.weights.length, expected.weights.length);
  actual.weights.forEach((weight, i) => {
    assert.equal(weight.name, expected.weights[i]?.name);
    assert.deepEqual(Buffer.from(weight.values.buffer), Buffer.from(expected.weights[i]?.values.buffer ?? new ArrayBuffer(0)), weight.name);
  });
}

const withoutTiming = (steps: readonly StepTelemetry[]) => steps.map(({ stepSeconds: _, ...rest }) => rest);

const METHODS: Array<[string, MethodSpec]> = [
  ['dsgd', { kind: 'dsgd', lambda: 1, schedule: 'cosine' }],
  ['swa (snapshots are method state)', { kind: 'swa', window: 2 }],
  ['lnsr (noise seeds per micro-batch)', { kind: 'lnsr', noiseStd: 0.1, weight: 0.5 }],
];

describe('train from a checkpoint', () => {
  for (const [name, method] of METHODS) {
    it(`${name}: resuming from every checkpoint gives the uninterrupted run's weights and telemetry, bitwise`, async () => {
      await tf.setBackend('cpu');
      const full = await run(spec(method), { every: 2 });
      // 36 examples / batch 4 = 9 micro-batches = 5 steps per epoch (the last one short), 3 epochs.
      assert.equal(full.outcome.steps, 15);
      assert.deepEqual(
        full.checkpoints.map((c) => c.step),
        [2, 4, 5, 6, 8, 10, 12, 14, 15],
      );
      assert.deepEqual(full.checkpoints.map((c) => [c.epoch, c.stepInEpoch]).slice(0, 4), [
        [0, 2],
        [0, 4],
        [1, 0],
        [1, 1],
      ]);
      const before = tf.memory().numTensors;
      for (const checkpoint of full.checkpoints) {
        const resumed = await run(spec(method), { resumeFrom: checkpoint, every: 2 });
        assertSameWeights(resumed.outcome, full.outcome);
        assert.deepEqual(withoutTiming(resumed.steps), withoutTiming(full.steps.slice(checkpoint.step)), `from step ${checkpoint.step}`);
        assert.deepEqual(resumed.outcome.validation?.predictions, full.outcome.validation?.predictions);
        assert.equal(resumed.outcome.steps, 15);
      }
      assert.equal(tf.memory().numTensors, before, 'resuming leaks no tensors');
    });
  }

  it("'suspend' checkpoints the current step and stops; resuming finishes the same run", async () => {
    await tf.setBackend('cpu');
    const full = await run(spec({ kind: 'dsgd', lambda: 1, schedule: 'linear' }));
    const suspended = await run(spec({ kind: 'dsgd', lambda: 1, schedule: 'linear' }), { suspendAtCall: 7 });
    assert.equal(suspended.outcome.stopped, true);
    assert.equal(suspended.outcome.validation, undefined);
    // Epoch ends (5, 10) always checkpoint; the suspend adds step 7.
    assert.deepEqual(
      suspended.checkpoints.map((c) => c.step),
      [5, 7],
    );
    const last = suspended.checkpoints.at(-1) ?? assert.fail('no checkpoint');
    assert.deepEqual(last.lastStep?.step, 7);
    const resumed = await run(spec({ kind: 'dsgd', lambda: 1, schedule: 'linear' }), { resumeFrom: last });
    assertSameWeights(resumed.outcome, full.outcome);
    assert.equal(resumed.outcome.stopped, false);
  });

  it('resumes a checkpoint taken at the very end to the same final evaluation', async () => {
    await tf.setBackend('cpu');
    const full = await run(spec({ kind: 'swa', window: 3 }));
    const atEnd = full.checkpoints.at(-1) ?? assert.fail('no checkpoint');
    assert.equal(atEnd.step, 15);
    const resumed = await run(spec({ kind: 'swa', window: 3 }), { resumeFrom: atEnd });
    assert.equal(resumed.steps.length, 0);
    assertSameWeights(resumed.outcome, full.outcome);
    assert.equal(resumed.outcome.validation?.accuracy, full.outcome.validation?.accuracy);
  });

  it('refuses a checkpoint of a run with another shape', async () => {
    await tf.setBackend('cpu');
    const full = await run(spec({ kind: 'fft' }), { every: 3 });
    const checkpoint = full.checkpoints[0] ?? assert.fail('no checkpoint');
    await assert.rejects(run(spec({ kind: 'fft' }, { batchSize: 3 }), { resumeFrom: checkpoint }), /cannot resume from this checkpoint/);
    await assert.rejects(
      run(spec({ kind: 'swa', window: 2 }), { resumeFrom: { ...checkpoint, method: { kind: 'fft', snapshots: [] } } }),
      /method fft/,
    );
  });
});
