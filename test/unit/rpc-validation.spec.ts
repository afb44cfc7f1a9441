import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AlphaSchedule,
  BuiltinName,
  BuiltinSplit,
  FineTuneSpec,
  OptimizerKind,
  type DatasetRef,
} from '../../client/gen/steadytune/v1/spec.js';
import { ServiceError } from '../../server/common/errors.js';
import { startJobCommand } from '../../server/rpc/requests.js';
import { DEFAULT_SEEDS, toJobSpec } from '../../server/rpc/validation.js';

const mnistTrain: DatasetRef = {
  source: { $case: 'builtin', value: { name: BuiltinName.BUILTIN_NAME_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_UNSPECIFIED } },
  classes: [],
  maxExamples: 0,
};

function violationsOf(action: () => unknown): Map<string, string> {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, 'INVALID_ARGUMENT');
    return new Map(error.violations.map((v) => [v.field, v.description]));
  }
  assert.fail('expected the spec to be rejected');
}

describe('FineTuneSpec validation', () => {
  it('applies every documented default to a spec that names only the training set', () => {
    const spec = toJobSpec(FineTuneSpec.fromPartial({ train: mnistTrain }));
    assert.deepEqual(spec.train, { source: { kind: 'builtin', name: 'mnist', split: 'train' }, classes: [], maxExamples: 0 });
    assert.deepEqual(spec.validation.source, { kind: 'builtin', name: 'mnist', split: 'validation' });
    assert.deepEqual(spec.imbalance, { kind: 'none', ratio: 1, seed: 0 });
    assert.deepEqual(spec.seeds, DEFAULT_SEEDS);
    assert.deepEqual(spec.seeds.slice(0, 2), [42, 52]);
    assert.equal(spec.maxRuntimeMs, 0);
    assert.deepEqual(spec.run.model, { family: 'mlp', hiddenUnits: [256, 128], dropout: 0 });
    assert.deepEqual(spec.run.method, { kind: 'dsgd', lambda: 1, schedule: 'linear' });
    assert.deepEqual(spec.run.optimizer, {
      kind: 'adamw',
      learningRate: 1e-3,
      weightDecay: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      momentum: 0,
      warmupFraction: 0.1,
      lrSchedule: 'linear',
      clipNorm: 1,
    });
    assert.equal(spec.run.batchSize, 32);
    assert.equal(spec.run.gradientAccumulation, 1);
    assert.equal(spec.run.epochs, 3);
  });

  it('keeps explicit zeros of optional fields (lambda 0, warmup 0, clip 0) and defaults weight decay by optimizer', () => {
    const spec = toJobSpec(
      FineTuneSpec.fromPartial({
        train: mnistTrain,
        method: { method: { $case: 'dsgd', value: { lambda: 0 } } },
        optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD, warmupFraction: 0, clipNorm: 0, momentum: 0.9 },
      }),
    );
    assert.deepEqual(spec.run.method, { kind: 'dsgd', lambda: 0, schedule: 'linear' });
    assert.equal(spec.run.optimizer.warmupFraction, 0);
    assert.equal(spec.run.optimizer.clipNorm, 0);
    assert.equal(spec.run.optimizer.weightDecay, 0);
    assert.equal(spec.run.optimizer.momentum, 0.9);
  });

  it('gives the default validation split the training classes so label spaces agree', () => {
    const spec = toJobSpec(FineTuneSpec.fromPartial({ train: { ...mnistTrain, classes: [3, 8] } }));
    assert.deepEqual(spec.validation.classes, [3, 8]);
  });

  it('reports every bad field at once, with proto paths', () => {
    const violations = violationsOf(() =>
      toJobSpec(
        FineTuneSpec.fromPartial({
          batchSize: 5000,
          gradientAccumulation: 65,
          epochs: 1001,
          seeds: [1, 2, 1],
          method: { method: { $case: 'dsgd', value: { lambda: 1.5, schedule: 42 as AlphaSchedule } } },
          optimizer: { learningRate: -1, warmupFraction: 1, kind: 9 as OptimizerKind },
          model: { family: { $case: 'mlp', value: { dropout: 1, hiddenUnits: [0] } } },
          maxRuntime: { seconds: -1, nanos: 0 },
        }),
      ),
    );
    for (const field of [
      'spec.train',
      'spec.batch_size',
      'spec.gradient_accumulation',
      'spec.epochs',
      'spec.seeds[2]',
      'spec.method.dsgd.lambda',
      'spec.method.dsgd.schedule',
      'spec.optimizer.learning_rate',
      'spec.optimizer.warmup_fraction',
      'spec.optimizer.kind',
      'spec.model.mlp.dropout',
      'spec.model.mlp.hidden_units[0]',
      'spec.max_runtime',
    ]) {
      assert.ok(violations.has(field), `missing violation for ${field}; got ${[...violations.keys()].join(', ')}`);
    }
  });

  it('rejects more than 32 seeds, unknown built-ins, class ids out of range and a transformer on pixels', () => {
    const violations = violationsOf(() =>
      toJobSpec(
        FineTuneSpec.fromPartial({
          train: {
            source: { $case: 'builtin', value: { name: 7 as BuiltinName, split: BuiltinSplit.BUILTIN_SPLIT_TRAIN } },
            classes: [1, 12],
          },
          seeds: Array.from({ length: 33 }, (_, i) => i),
          model: { family: { $case: 'transformer', value: { dModel: 100, heads: 3 } } },
        }),
      ),
    );
    assert.ok(violations.has('spec.seeds'));
    assert.ok(violations.has('spec.train.builtin.name'));
    assert.ok(violations.has('spec.model.transformer.heads'));
  });

  it('caps max_runtime below what a Node timer can hold (a longer one would fire at once)', () => {
    const spec = (seconds: number) => FineTuneSpec.fromPartial({ train: mnistTrain, maxRuntime: { seconds, nanos: 0 } });
    assert.ok(violationsOf(() => toJobSpec(spec(2 ** 40))).has('spec.max_runtime'));
    assert.equal(toJobSpec(spec(7 * 24 * 3600)).maxRuntimeMs, 7 * 24 * 3600 * 1000);
  });

  it('ci_width: unset leaves the summary its default; (0, 1] is kept; anything else names the field', () => {
    const spec = (ciWidth: number) => FineTuneSpec.fromPartial({ train: mnistTrain, ciWidth });
    assert.equal(toJobSpec(spec(0)).ciWidth, undefined);
    assert.equal(toJobSpec(spec(0.02)).ciWidth, 0.02);
    assert.equal(toJobSpec(spec(1)).ciWidth, 1);
    for (const bad of [-0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(violationsOf(() => toJobSpec(spec(bad))).get('spec.ci_width'), `must be in (0, 1] (got ${bad})`);
    }
  });

  it('validates labels and names map entries in the field path', () => {
    const violations = violationsOf(() =>
      startJobCommand(
        {
          spec: FineTuneSpec.fromPartial({ train: mnistTrain }),
          idempotencyKey: '',
          displayName: '',
          labels: { 'Bad Key': 'x', ok: 'y'.repeat(300) },
        },
        't',
      ),
    );
    assert.ok(violations.has('labels["Bad Key"]'));
    const longKey = violationsOf(() =>
      startJobCommand(
        {
          spec: FineTuneSpec.fromPartial({ train: mnistTrain }),
          idempotencyKey: '',
          displayName: '',
          labels: { ['K'.repeat(100_000)]: 'x' },
        },
        't',
      ),
    );
    assert.ok(longKey.has(`labels["${'K'.repeat(63)}…"]`), [...longKey.keys()].join());
    assert.ok(violations.has('labels["ok"]'));
  });

  it('requires a spec and echoes the canonical JSON of the request spec', () => {
    assert.ok(violationsOf(() => startJobCommand({ idempotencyKey: '', displayName: '', labels: {} }, 't')).has('spec'));
    const command = startJobCommand(
      { spec: FineTuneSpec.fromPartial({ train: mnistTrain, epochs: 1 }), idempotencyKey: 'k', displayName: 'd', labels: {} },
      't',
    );
    assert.deepEqual(command.requestSpec, { train: { builtin: { name: 'BUILTIN_NAME_MNIST' } }, epochs: 1 });
  });
});
