// One setting's data as the benchmark uses it. A leaf of its own: datasets.ts builds it and
// spam-data.ts returns it, while datasets.ts reaches spam-data.ts through protocol.ts.
import type { ExampleSet } from '../../server/engine/index.js';

export interface SettingData {
  readonly train: ExampleSet;
  readonly test: ExampleSet;
  readonly classNames: readonly string[];
  readonly trainCounts: readonly number[];
  readonly testCounts: readonly number[];
}
