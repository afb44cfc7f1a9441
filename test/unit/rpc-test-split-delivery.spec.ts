// FineTuneSpec.test, DatasetRef.split and FineTuneSpec.delivery: defaults, the domain values they
// become, and every bad value named by its field path.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BuiltinName, BuiltinSplit, DatasetSplit, Delivery, FineTuneSpec, type DatasetRef } from '../../client/gen/steadytune/v1/spec.js';
import { ServiceError } from '../../server/common/errors.js';
import { InMemoryDatasetRegistry } from '../../server/data/index.js';
import { resolveRegisteredDatasets } from '../../server/rpc/dataset-checks.js';
import { evaluateArguments } from '../../server/rpc/requests.js';
import { toJobSpec } from '../../server/rpc/validation.js';
import { jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

const mnist: DatasetRef = {
  source: { $case: 'builtin', value: { name: BuiltinName.BUILTIN_NAME_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_UNSPECIFIED } },
  classes: [3, 8],
  maxExamples: 0,
};

function registered(datasetId: string, split?: DatasetSplit, classes: number[] = []): DatasetRef {
  return { source: { $case: 'datasetId', value: datasetId }, classes, maxExamples: 0, ...(split === undefined ? {} : { split }) };
}

function violationsOf(action: () => unknown): Map<string, string> {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ServiceError && error.code === 'INVALID_ARGUMENT', `expected INVALID_ARGUMENT, got ${String(error)}`);
    return new Map(error.violations.map((v) => [v.field, v.description]));
  }
  assert.fail('expected a rejection');
}

describe('spec: test split and delivery', () => {
  it('leaves both absent when unset (a spec stored before them reads the same), and takes each delivery', () => {
    const spec = toJobSpec(FineTuneSpec.fromPartial({ train: mnist }));
    assert.equal('test' in spec, false);
    assert.equal('delivery' in spec, false);
    assert.equal('delivery' in toJobSpec(FineTuneSpec.fromPartial({ train: mnist, delivery: Delivery.DELIVERY_UNSPECIFIED })), false);
    const modes = [Delivery.DELIVERY_ENSEMBLE, Delivery.DELIVERY_BEST_VALIDATION, Delivery.DELIVERY_ALL].map(
      (delivery) => toJobSpec(FineTuneSpec.fromPartial({ train: mnist, delivery })).delivery,
    );
    assert.deepEqual(modes, ['ensemble', 'best_validation', 'all']);
    assert.match(
      violationsOf(() => toJobSpec(FineTuneSpec.fromPartial({ train: mnist, delivery: 9 as Delivery }))).get('spec.delivery') ?? '',
      /unknown Delivery value 9/,
    );
  });

  it('a registered test split: classes inherit train.classes, the role split stays implicit', () => {
    const base = { train: registered('ds_a', undefined, [1, 0]), validation: registered('ds_a') };
    const spec = toJobSpec(FineTuneSpec.fromPartial({ ...base, test: registered('ds_a') }));
    assert.deepEqual(spec.test, { source: { kind: 'registered', datasetId: 'ds_a' }, classes: [1, 0], maxExamples: 0 });
    // Naming the role's own split is the same spec as leaving it unset.
    assert.deepEqual(toJobSpec(FineTuneSpec.fromPartial({ ...base, test: registered('ds_a', DatasetSplit.DATASET_SPLIT_TEST) })), spec);
    const other = toJobSpec(FineTuneSpec.fromPartial({ ...base, test: registered('ds_b', DatasetSplit.DATASET_SPLIT_VALIDATION) }));
    assert.deepEqual(other.test?.source, { kind: 'registered', datasetId: 'ds_b', split: 'validation' });
  });

  it('names each bad field: built-in test splits, split on a built-in, unknown splits, a test split that is not held out', () => {
    const violations = violationsOf(() =>
      toJobSpec(
        FineTuneSpec.fromPartial({
          train: mnist,
          validation: { ...mnist, split: DatasetSplit.DATASET_SPLIT_TEST },
          test: mnist,
        }),
      ),
    );
    assert.match(violations.get('spec.test.builtin') ?? '', /built-in datasets have no test split/);
    assert.match(violations.get('spec.validation.split') ?? '', /applies to registered datasets/);
    const registeredTrain = { train: registered('ds_a'), validation: registered('ds_a') };
    assert.match(
      violationsOf(() => toJobSpec(FineTuneSpec.fromPartial({ ...registeredTrain, test: registered('ds_a', 7 as DatasetSplit) }))).get(
        'spec.test.split',
      ) ?? '',
      /unknown DatasetSplit value 7/,
    );
    for (const [split, role] of [
      [DatasetSplit.DATASET_SPLIT_VALIDATION, 'validation'],
      [DatasetSplit.DATASET_SPLIT_TRAIN, 'train'],
    ] as const) {
      const held = violationsOf(() => toJobSpec(FineTuneSpec.fromPartial({ ...registeredTrain, test: registered('ds_a', split) })));
      assert.match(held.get('spec.test') ?? '', new RegExp(`names the ${role} split`));
    }
    const classes = violationsOf(() =>
      toJobSpec(FineTuneSpec.fromPartial({ ...registeredTrain, test: registered('ds_a', undefined, [1, 0]) })),
    );
    assert.match(classes.get('spec.test.classes') ?? '', /must equal train.classes/);
  });

  it('Evaluate takes any split of a registered dataset', () => {
    const { options } = evaluateArguments({
      jobId: 'j',
      dataset: registered('ds_a', DatasetSplit.DATASET_SPLIT_TRAIN),
      seed: 0,
      ensemble: false,
    });
    assert.deepEqual(options.dataset?.source, { kind: 'registered', datasetId: 'ds_a', split: 'train' });
  });
});

describe('spec: registered datasets and their splits', () => {
  let root: TempRoot;
  let registry: InMemoryDatasetRegistry;
  let withTest: string;
  let withoutTest: string;
  before(async () => {
    root = await makeTempRoot();
    const rows = [
      { label: 0, features: [0, 1] },
      { label: 1, features: [1, 0] },
      { label: 0, features: [0, 0.9] },
      { label: 1, features: [0.9, 0] },
    ];
    await root.write('train.jsonl', jsonl(rows));
    await root.write('test.jsonl', jsonl(rows.slice(0, 2)));
    registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    withTest = (
      await registry.register('t', {
        format: 'jsonl',
        train: { path: 'train.jsonl' },
        validation: { path: 'train.jsonl' },
        test: { path: 'test.jsonl' },
      })
    ).id;
    withoutTest = (await registry.register('t', { format: 'jsonl', train: { path: 'train.jsonl' }, validation: { path: 'train.jsonl' } }))
      .id;
  });
  after(async () => {
    await root.remove();
  });

  it("an unset test split is the training dataset's own, when it has one", async () => {
    const spec = toJobSpec(FineTuneSpec.fromPartial({ train: registered(withTest), validation: registered(withTest) }));
    const resolved = await resolveRegisteredDatasets(spec, 't', registry);
    assert.deepEqual(resolved.test, { source: { kind: 'registered', datasetId: withTest, split: 'test' }, classes: [], maxExamples: 0 });
    const plain = toJobSpec(FineTuneSpec.fromPartial({ train: registered(withoutTest), validation: registered(withoutTest) }));
    assert.equal(await resolveRegisteredDatasets(plain, 't', registry), plain);
  });

  it('a split the dataset lacks is INVALID_ARGUMENT on its split field', async () => {
    const spec = toJobSpec(
      FineTuneSpec.fromPartial({
        train: registered(withoutTest),
        validation: registered(withoutTest),
        test: registered(withoutTest),
      }),
    );
    await assert.rejects(resolveRegisteredDatasets(spec, 't', registry), (error: unknown) => {
      assert.ok(error instanceof ServiceError && error.code === 'INVALID_ARGUMENT');
      assert.deepEqual(
        error.violations.map((v) => v.field),
        ['spec.test.split'],
      );
      assert.match(error.violations[0]?.description ?? '', new RegExp(`${withoutTest} has no test split \\(it has train, validation\\)`));
      return true;
    });
  });
});
