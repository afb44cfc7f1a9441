// The report's opening summary, computed from the cells so it cannot drift from the tables.
import { learningRateLabel, percent, STD_RATIO_CRITICAL_10_SEEDS } from './report-format.js';
import { SETTINGS, titleOf, type MethodVariant } from './protocol.js';
import { cellKey, pairedComparison, type CellSummary } from './summary.js';

const where = (cell: CellSummary): string => `${titleOf(cell.settingId)} @ ${learningRateLabel(cell.learningRate)}`;

export function findingLines(cells: ReadonlyMap<string, CellSummary>, methods: readonly MethodVariant[]): string[] {
  const grid = [...cells.values()].filter((cell) => cell.study === 'grid');
  const fftCells = grid.filter((cell) => cell.label === 'fft');
  if (fftCells.length === 0) return [];
  const stds = fftCells.map((cell) => cell.balancedAccuracy.std);
  const widest = fftCells.reduce((best, cell) => (cell.balancedAccuracy.std > best.balancedAccuracy.std ? cell : best));
  const failedBy = methods.map((method) => {
    const mine = grid.filter((cell) => cell.label === method.label);
    const runs = mine.reduce((sum, cell) => sum + cell.runs.length, 0);
    const collapsed = mine.reduce((sum, cell) => sum + cell.collapsed, 0);
    const degenerate = mine.reduce((sum, cell) => sum + cell.degenerate, 0);
    return `${method.label} ${collapsed}+${degenerate}/${runs}`;
  });
  const comparisons = fftCells.flatMap((fft) => {
    const dsgd = cells.get(cellKey(fft.settingId, 'grid', 'dsgd', fft.learningRate));
    return dsgd ? [{ fft, dsgd, comparison: pairedComparison(fft, dsgd) }] : [];
  });
  const lower = comparisons.filter(({ comparison }) => comparison.stdRatio < 1);
  // The F-test band is for 10 vs 10 seeds: a smoke run with fewer seeds claims nothing beyond noise.
  const tested = comparisons.filter(({ comparison }) => comparison.pairs === 10);
  const clearlyLower = tested.filter(({ comparison }) => comparison.stdRatio < 1 / STD_RATIO_CRITICAL_10_SEEDS);
  const clearlyHigher = tested.filter(({ comparison }) => comparison.stdRatio > STD_RATIO_CRITICAL_10_SEEDS);
  const deltas = comparisons.map(({ comparison }) => comparison.delta.mean);
  const conflictBySetting = [...new Set(fftCells.map((cell) => cell.settingId))].map((settingId) => {
    const mine = fftCells.filter((cell) => cell.settingId === settingId);
    const shares = mine.flatMap((cell) => cell.strongConflictShare ?? []);
    const failed = mine.reduce((sum, cell) => sum + cell.collapsed + cell.degenerate, 0);
    const runs = mine.reduce((sum, cell) => sum + cell.runs.length, 0);
    return (
      `${titleOf(settingId)} ${percent(shares.reduce((sum, share) => sum + share, 0) / Math.max(shares.length, 1))}% ` +
      `(FFT collapsed or degenerate there: ${failed}/${runs})`
    );
  });
  const perSetting = SETTINGS.flatMap((setting) => {
    const mine = comparisons.filter(({ fft }) => fft.settingId === setting.id);
    if (mine.length === 0) return [];
    const failed = (cell: CellSummary): number => cell.collapsed + cell.degenerate;
    const runs = (pick: (pair: (typeof mine)[number]) => CellSummary): number =>
      mine.reduce((sum, pair) => sum + pick(pair).runs.length, 0);
    const fftFailed = mine.reduce((sum, { fft }) => sum + failed(fft), 0);
    const dsgdFailed = mine.reduce((sum, { dsgd }) => sum + failed(dsgd), 0);
    const lowerHere = mine.filter(({ comparison }) => comparison.stdRatio < 1).length;
    const clearHere = mine.filter(
      ({ comparison }) => comparison.pairs === 10 && comparison.stdRatio < 1 / STD_RATIO_CRITICAL_10_SEEDS,
    ).length;
    const higherHere = mine.filter(({ comparison }) => comparison.pairs === 10 && comparison.stdRatio > STD_RATIO_CRITICAL_10_SEEDS).length;
    const zero = mine.filter(({ comparison }) => !Number.isFinite(comparison.stdRatio)).length;
    return [
      `  - ${setting.title}: spread lower in ${lowerHere} of ${mine.length} cells (beyond noise ${clearHere}, higher beyond noise ${higherHere}` +
        `${zero > 0 ? `, ${zero} with zero FFT spread` : ''}); collapsed + degenerate runs FFT ${fftFailed}/${runs(({ fft }) => fft)}, ` +
        `DSGD ${dsgdFailed}/${runs(({ dsgd }) => dsgd)}.`,
    ];
  });
  // Cells where FFT lost runs: did DSGD (or anything) keep them?
  const failedCells = comparisons
    .filter(({ fft }) => fft.collapsed + fft.degenerate > 0)
    .map(({ fft, dsgd }) => {
      const failed = (cell: CellSummary): number => cell.collapsed + cell.degenerate;
      const others = methods.flatMap((method) => cells.get(cellKey(fft.settingId, 'grid', method.label, fft.learningRate)) ?? []);
      const fewest = others.reduce((best, cell) => (failed(cell) < failed(best) ? cell : best), fft);
      return (
        `${where(fft)}: FFT ${failed(fft)}/${fft.runs.length}, DSGD ${failed(dsgd)}/${dsgd.runs.length}` +
        (failed(fewest) < failed(fft) ? `, fewest ${fewest.label} ${failed(fewest)}/${fewest.runs.length}` : ', no method fewer')
      );
    });
  const list = (items: typeof comparisons): string => (items.length === 0 ? 'none' : items.map(({ fft }) => where(fft)).join('; '));
  return [
    '## Findings (computed from the tables below)',
    '',
    `- Plain fine-tuning (FFT): the seed std of balanced accuracy ranged ${percent(Math.min(...stds))}–${percent(Math.max(...stds))} ` +
      `points over ${fftCells.length} cells; the widest is ${where(widest)} (${percent(widest.balancedAccuracy.mean)} ± ` +
      `${percent(widest.balancedAccuracy.std)}, ${widest.collapsed} collapsed, ${widest.degenerate} degenerate of ${widest.runs.length}).`,
    `- Collapsed + degenerate runs over the whole grid, per method: ${failedBy.join(', ')}.`,
    `- DSGD (λ=1, linear) vs FFT: spread lower in ${lower.length} of ${comparisons.length} cells, beyond 10-seed noise in ` +
      `${clearlyLower.length} (${list(clearlyLower)}); higher beyond noise in ${clearlyHigher.length} (${list(clearlyHigher)}). ` +
      `Paired mean difference of balanced accuracy (DSGD − FFT) per cell: ${deltas.map((d) => `${d >= 0 ? '+' : ''}${percent(d)}`).join(', ')} points. Per setting:`,
    ...perSetting,
    `- Cells where FFT had collapsed or degenerate runs (failed/runs): ${failedCells.length === 0 ? 'none' : failedCells.join('; ')}.`,
    `- Share of FFT steps whose head-only cos(g_W, g_C) is below -0.5 (the paper's cancellation regime), mean over learning rates: ` +
      `${conflictBySetting.join('; ')}. The head-only cosine is a proxy, not the full-model figure.`,
    '',
  ];
}
