// Markdown building blocks for the stability report: tables and number formats.
import type { PairedComparison, Stat } from './summary.js';

export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: readonly number[] = [],
): string {
  const rule = headers.map((_, column) => (rightAligned.includes(column) ? '---:' : '---'));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), line(rule), ...rows.map(line)].join('\n');
}

/** Accuracy in percent with two decimals, as the paper prints it. */
export const percent = (value: number): string => (Number.isFinite(value) ? (value * 100).toFixed(2) : '-');

export const meanStd = (stat: Stat): string => `${percent(stat.mean)} ± ${percent(stat.std)}`;

export const learningRateLabel = (rate: number): string => rate.toExponential(0);

export const fixed = (value: number | null, decimals: number): string =>
  value === null || !Number.isFinite(value) ? '-' : value.toFixed(decimals);

/**
 * Two-sided 5% critical ratio of sample standard deviations for 10 vs 10 seeds: sqrt(F(0.975; 9, 9))
 * = sqrt(4.026). A ratio inside [1/2.01, 2.01] cannot be told from seed noise (F-test, normal data).
 */
export const STD_RATIO_CRITICAL_10_SEEDS = Math.sqrt(4.026);

export function spreadVerdict(comparison: PairedComparison, seeds: number): string {
  const ratio = comparison.stdRatio;
  if (!Number.isFinite(ratio)) return 'n/a (zero spread)';
  const direction = ratio < 1 ? 'lower' : ratio > 1 ? 'higher' : 'equal';
  if (seeds !== 10) return `${direction} (no test below 10 seeds)`;
  const significant = ratio < 1 / STD_RATIO_CRITICAL_10_SEEDS || ratio > STD_RATIO_CRITICAL_10_SEEDS;
  return significant ? `**${direction}** (beyond noise)` : `${direction} (within noise)`;
}

export const signedPercent = (value: number): string => `${value >= 0 ? '+' : ''}${percent(value)}`;

export function pairedLabel(comparison: PairedComparison): string {
  return `${signedPercent(comparison.delta.mean)} ± ${percent(comparison.delta.std)} (${comparison.wins}W/${comparison.losses}L)`;
}
