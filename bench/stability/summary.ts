// Per-cell statistics over seeds: a cell is one (setting, study, method, learning rate).
import type { SettingId } from './protocol.js';
import type { RunResult } from './run-result.js';

export interface Stat {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** Mean, sample standard deviation (n - 1, as the service's stability summary), min, max. */
export function describeValues(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(squares / (n - 1)) : 0, min: Math.min(...values), max: Math.max(...values) };
}

const meanOf = (values: readonly number[]): number | null =>
  values.length === 0 ? null : values.reduce((sum, v) => sum + v, 0) / values.length;

export interface CellSummary {
  readonly settingId: SettingId;
  readonly study: 'grid' | 'sensitivity';
  readonly label: string;
  readonly learningRate: number;
  readonly runs: readonly RunResult[];
  readonly balancedAccuracy: Stat;
  readonly accuracy: Stat;
  readonly collapsed: number;
  readonly degenerate: number;
  readonly meanStepMs: number;
  readonly meanHeadConflictCosine: number | null;
  readonly strongConflictShare: number | null;
  readonly representationCosine: number;
}

export const cellKey = (settingId: string, study: string, label: string, learningRate: number): string =>
  `${settingId}|${study}|${label}|${learningRate}`;

export function summarizeCells(results: readonly RunResult[]): Map<string, CellSummary> {
  const groups = new Map<string, RunResult[]>();
  for (const result of results) {
    const { settingId, study, method, learningRate } = result.job;
    const key = cellKey(settingId, study, method.label, learningRate);
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  const cells = new Map<string, CellSummary>();
  for (const [key, unsorted] of groups) {
    const runs = [...unsorted].sort((a, b) => a.job.seed - b.job.seed);
    const { settingId, study, method, learningRate } = runs[0].job;
    cells.set(key, {
      settingId,
      study,
      label: method.label,
      learningRate,
      runs,
      balancedAccuracy: describeValues(runs.map((run) => run.balancedAccuracy)),
      accuracy: describeValues(runs.map((run) => run.accuracy)),
      collapsed: runs.filter((run) => run.verdict === 'collapsed').length,
      degenerate: runs.filter((run) => run.verdict === 'degenerate').length,
      meanStepMs: meanOf(runs.map((run) => run.meanStepMs)) ?? Number.NaN,
      meanHeadConflictCosine: meanOf(runs.flatMap((run) => (run.meanHeadConflictCosine === null ? [] : [run.meanHeadConflictCosine]))),
      strongConflictShare: meanOf(runs.flatMap((run) => (run.strongConflictShare === null ? [] : [run.strongConflictShare]))),
      representationCosine: meanOf(runs.map((run) => run.representationCosine)) ?? Number.NaN,
    });
  }
  return cells;
}

export interface PairedComparison {
  /** Seeds present in both cells. */
  readonly pairs: number;
  /** (other - baseline) balanced accuracy per seed: same seed = same head init and data order. */
  readonly delta: Stat;
  readonly wins: number;
  readonly losses: number;
  /** std(other) / std(baseline) of balanced accuracy. */
  readonly stdRatio: number;
}

export function pairedComparison(baseline: CellSummary, other: CellSummary): PairedComparison {
  const bySeed = new Map(baseline.runs.map((run) => [run.job.seed, run.balancedAccuracy]));
  const deltas = other.runs.flatMap((run) => {
    const base = bySeed.get(run.job.seed);
    return base === undefined ? [] : [run.balancedAccuracy - base];
  });
  return {
    pairs: deltas.length,
    delta: describeValues(deltas),
    wins: deltas.filter((d) => d > 0).length,
    losses: deltas.filter((d) => d < 0).length,
    stdRatio: other.balancedAccuracy.std / baseline.balancedAccuracy.std,
  };
}

/** The grid's FFT cell with the largest spread of balanced accuracy (failed runs break ties), optionally among some settings. */
export function mostSeedSensitive(cells: Iterable<CellSummary>, among?: (settingId: SettingId) => boolean): CellSummary | undefined {
  let best: CellSummary | undefined;
  for (const cell of cells) {
    if (cell.study !== 'grid' || cell.label !== 'fft') continue;
    if (among !== undefined && !among(cell.settingId)) continue;
    const score = (c: CellSummary): [number, number] => [c.balancedAccuracy.std, c.collapsed + c.degenerate];
    if (best === undefined) {
      best = cell;
      continue;
    }
    const [std, failed] = score(cell);
    const [bestStd, bestFailed] = score(best);
    if (std > bestStd || (std === bestStd && failed > bestFailed)) best = cell;
  }
  return best;
}
