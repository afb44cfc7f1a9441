// The stability statement with its uncertainty, as words: the failure rate's exact upper
// bound, the bootstrap intervals of balanced accuracy, and the seeds a requested interval
// width takes. Shared by `get`, the end of `watch`, `compare` and the HTML report. Pure.
import type { Interval, StabilityUncertainty } from '../index.js';
import { formatNumber } from './format.js';

// Percent with two decimals, as the comparison table prints shares (not imported from
// comparison.ts, which imports this file).
const percent = (share: number): string => (share * 100).toFixed(2);

/**
 * An upper bound as a whole percentage, rounded up so the printed bound still holds
 * (0.2589 → "26%"); the epsilon keeps an exact 0.26 from printing as 27%.
 */
export function upperPercent(share: number): string {
  return `${Math.min(100, Math.ceil(share * 100 - 1e-9))}%`;
}

const level = (u: StabilityUncertainty): string => `${Math.round(u.confidence * 100)}%`;

/** "0 of 10 seeds failed: failure rate ≤ 26% at 95%". */
export function failureStatement(runs: number, u: StabilityUncertainty): string {
  return `${u.failed} of ${runs} seed${runs === 1 ? '' : 's'} failed: failure rate ≤ ${upperPercent(u.failureRateUpper)} at ${level(u)}`;
}

/** "14 (4 more)", "10 (enough already)"; "-" when not estimated (0 on the wire). */
export function seedsNeeded(total: number, runs: number): string {
  if (total <= 0) return '-';
  return total > runs ? `${total} (${total - runs} more)` : `${total} (enough already)`;
}

const shareInterval = (interval: Interval | undefined): string =>
  interval === undefined ? '-' : `[${formatNumber(interval.low)}, ${formatNumber(interval.high)}]`;

/** The same in percent with two decimals, as the comparison table prints shares. */
export function percentInterval(interval: Interval | undefined): string {
  return interval === undefined ? '-' : `[${percent(interval.low)}, ${percent(interval.high)}]`;
}

/** The lines `get` and `watch` print under the summary's statistics. */
export function uncertaintyLines(runs: number, u: StabilityUncertainty | undefined): string[] {
  if (u === undefined) return [];
  const lines = [
    `uncertainty (${level(u)}):`,
    `  failures  ${failureStatement(runs, u)} (exact binomial bound; failed = collapsed or degenerate)`,
  ];
  if (u.balancedAccuracyMean === undefined || u.balancedAccuracyStd === undefined) {
    lines.push('  bal acc   intervals need at least two runs with metrics');
    return lines;
  }
  lines.push(
    `  bal acc   mean in ${shareInterval(u.balancedAccuracyMean)}, std in ${shareInterval(u.balancedAccuracyStd)} ` +
      `(bootstrap over seeds: ${u.bootstrapResamples} resamples, seed ${u.bootstrapSeed})`,
    `  seeds     for intervals ${formatNumber(u.requestedWidth, 3)} wide: mean ${seedsNeeded(u.seedsForMeanWidth, runs)}, ` +
      `std ${seedsNeeded(u.seedsForStdWidth, runs)}`,
  );
  return lines;
}

/** One line per compared job for the text table's notes; undefined when no job has a summary. */
export function uncertaintyNotes(rows: readonly { label: string; runs: number; uncertainty?: StabilityUncertainty }[]): string | undefined {
  const lines = rows.flatMap(({ label, runs, uncertainty: u }) => {
    if (u === undefined) return [];
    const intervals =
      u.balancedAccuracyMean === undefined
        ? 'intervals need two runs'
        : `bal acc % mean ${percentInterval(u.balancedAccuracyMean)}, std ${percentInterval(u.balancedAccuracyStd)}; ` +
          `seeds for a mean interval ${percent(u.requestedWidth)} points wide: ${seedsNeeded(u.seedsForMeanWidth, runs)}`;
    return [`  ${label}: ${failureStatement(runs, u)}; ${intervals}`];
  });
  if (lines.length === 0) return undefined;
  return ['uncertainty (exact binomial bound; bootstrap over seeds):', ...lines].join('\n');
}
