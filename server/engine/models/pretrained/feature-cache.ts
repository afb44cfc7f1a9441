import type { ExampleSet, FeatureInputs } from '../../types.js';

// Frozen backbones are run once per dataset content, not once per epoch or per job: their
// features are kept in a store the caller injects (the engine does no I/O). A plain
// Map<string, FeatureInputs> is one; server/data/features-cache.ts is a file-backed one.

export interface FeatureStore {
  get(key: string): FeatureInputs | undefined | Promise<FeatureInputs | undefined>;
  set(key: string, features: FeatureInputs): unknown;
}

/** Turns raw example inputs into backbone features; `id` names the backbone and every setting that changes its output. */
export interface FeatureExtractor {
  readonly id: string;
  readonly featureDim: number;
  extract(inputs: FeatureInputs): Promise<FeatureInputs>;
}

/**
 * The cache key of one extractor over one dataset split. `datasetKey` must identify the content
 * (e.g. the registry's content hash plus the split), before any per-job subsampling.
 */
export function featureCacheKey(extractor: FeatureExtractor, datasetKey: string): string {
  return `${extractor.id}|${datasetKey}`;
}

export interface CachedFeatures {
  readonly set: ExampleSet;
  /** True when the features came from the store. */
  readonly hit: boolean;
}

/** `set` with its inputs replaced by backbone features, computed only when the store lacks them. */
export async function cachedFeatureSet(
  extractor: FeatureExtractor,
  set: ExampleSet,
  datasetKey: string,
  store: FeatureStore,
): Promise<CachedFeatures> {
  if (set.inputs.kind !== 'features') throw new Error(`${extractor.id} extracts from feature (pixel) inputs, not token ids`);
  const key = featureCacheKey(extractor, datasetKey);
  const stored = await store.get(key);
  const count = set.labels.length;
  if (stored !== undefined && stored.dim === extractor.featureDim && stored.values.length === count * stored.dim) {
    return { set: { ...set, inputs: stored }, hit: true };
  }
  const features = await extractor.extract(set.inputs);
  await store.set(key, features);
  return { set: { ...set, inputs: features }, hit: false };
}
