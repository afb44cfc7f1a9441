// Writes the stability figures (SVG, and PNG when rsvg-convert is installed) next to the report.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { renderStabilityFigure, type FigureRow } from '../../client/cli/figure.js';
import { SENSITIVITY, titleOf, type MethodVariant, type SettingSpec } from './protocol.js';
import { learningRateLabel } from './report-format.js';
import type { ReportFigure } from './report.js';
import { cellKey, type CellSummary } from './summary.js';

export function figureRows(cells: readonly CellSummary[]): FigureRow[] {
  return cells.flatMap((cell) =>
    cell.runs.map((run) => ({
      method: cell.label,
      seed: run.job.seed,
      accuracy: run.balancedAccuracy,
      verdict: run.verdict,
    })),
  );
}

export interface WrittenFigure extends ReportFigure {
  readonly png: boolean;
}

const hasRsvg = (): boolean => spawnSync('rsvg-convert', ['--version'], { stdio: 'ignore' }).status === 0;

export async function writeFigure(
  folder: string,
  name: string,
  place: ReportFigure['place'],
  title: string,
  caption: string,
  cells: readonly CellSummary[],
  columnWidth?: number,
): Promise<WrittenFigure | undefined> {
  const rows = figureRows(cells);
  if (rows.length === 0) return undefined;
  const svgPath = path.join(folder, `${name}.svg`);
  const width = columnWidth === undefined ? undefined : 80 + columnWidth * cells.length;
  await fs.writeFile(
    svgPath,
    renderStabilityFigure(rows, { title, yLabel: 'balanced accuracy (test)', ...(width === undefined ? {} : { width }) }),
  );
  const png = hasRsvg() && spawnSync('rsvg-convert', ['--zoom', '1.5', svgPath, '-o', path.join(folder, `${name}.png`)]).status === 0;
  return { file: `${name}.svg`, caption, place, png };
}

/** The headline cell, each setting's whole grid (one column per learning rate and method), and each λ / schedule sweep. */
export async function writeAllFigures(
  folder: string,
  cells: ReadonlyMap<string, CellSummary>,
  headline: CellSummary | undefined,
  sweeps: readonly CellSummary[],
  settings: readonly SettingSpec[],
  methods: readonly MethodVariant[],
  learningRates: readonly number[],
): Promise<WrittenFigure[]> {
  const cellsAt = (settingId: string, rate: number, labels: readonly string[], study: 'grid' | 'sensitivity'): CellSummary[] =>
    labels.flatMap((label) => cells.get(cellKey(settingId, study, label, rate)) ?? []);
  const methodLabels = methods.map((method) => method.label);
  const written: Array<WrittenFigure | undefined> = [];
  if (headline) {
    const where = `${titleOf(headline.settingId)}, lr ${learningRateLabel(headline.learningRate)}`;
    written.push(
      await writeFigure(
        folder,
        'stability-figure',
        'headline',
        where,
        `${where}, the grid's most seed-sensitive FFT cell: balanced accuracy per seed`,
        cellsAt(headline.settingId, headline.learningRate, methodLabels, 'grid'),
      ),
    );
  }
  for (const spec of settings) {
    const gridCells = learningRates.flatMap((rate) =>
      cellsAt(spec.id, rate, methodLabels, 'grid').map((cell) => ({ ...cell, label: `${cell.label} ${learningRateLabel(rate)}` })),
    );
    written.push(
      await writeFigure(
        folder,
        `stability-figure-${spec.id}`,
        spec.id,
        `${spec.title}: every run of the grid`,
        `${spec.title}: every run of the grid, balanced accuracy per seed`,
        gridCells,
        84,
      ),
    );
  }
  for (const target of sweeps) {
    const where = `${titleOf(target.settingId)}, lr ${learningRateLabel(target.learningRate)}`;
    const sweep = [
      ...cellsAt(target.settingId, target.learningRate, ['fft', 'dsgd'], 'grid'),
      ...cellsAt(
        target.settingId,
        target.learningRate,
        SENSITIVITY.map((variant) => variant.label),
        'sensitivity',
      ),
    ];
    written.push(
      await writeFigure(
        folder,
        `stability-figure-sensitivity-${target.settingId}`,
        `sensitivity-${target.settingId}`,
        `DSGD λ and schedule sweep (${where})`,
        `DSGD λ and schedule sweep (${where}): balanced accuracy per seed`,
        sweep,
      ),
    );
  }
  return written.filter((figure): figure is WrittenFigure => figure !== undefined);
}
