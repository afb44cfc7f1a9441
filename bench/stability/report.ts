// STABILITY.md: the whole grid as run, the DSGD-vs-FFT comparison cell by cell, the
// sensitivity study and the costs. Pure: takes summaries, returns markdown.
import { findingLines } from './findings.js';
import { fixed, learningRateLabel, markdownTable, meanStd, pairedLabel, percent, spreadVerdict } from './report-format.js';
import type { SettingData } from './datasets.js';
import type { PoolRunFailure } from './pool.js';
import { titleOf, type MethodVariant, type SettingId, type SettingSpec } from './protocol.js';
import { cellKey, pairedComparison, type CellSummary } from './summary.js';

export interface ReportFigure {
  readonly file: string;
  readonly caption: string;
  /** Where the report shows it: under the headline, in a setting's section, or with that setting's sweep. */
  readonly place: 'headline' | SettingId | `sensitivity-${SettingId}`;
}

const figureLines = (figure: ReportFigure | undefined): string[] =>
  figure ? [`![${figure.caption}](${figure.file})`, '', `*${figure.caption}*`, ''] : [];

export interface ReportInput {
  readonly quick: boolean;
  readonly generatedAt: string;
  readonly wallSeconds: number;
  readonly environment: readonly string[];
  readonly protocolLines: readonly string[];
  readonly settings: ReadonlyArray<{ readonly spec: SettingSpec; readonly data: SettingData }>;
  readonly notRun: readonly string[];
  readonly methods: readonly MethodVariant[];
  readonly learningRates: readonly number[];
  readonly seeds: readonly number[];
  readonly cells: ReadonlyMap<string, CellSummary>;
  readonly headline: CellSummary | undefined;
  /** The cells the λ / schedule sweep ran on: each backbone's most seed-sensitive FFT cell. */
  readonly sweeps: readonly CellSummary[];
  readonly sensitivity: readonly MethodVariant[];
  readonly figures: readonly ReportFigure[];
  readonly failures: readonly PoolRunFailure[];
  readonly reusedRuns: number;
  readonly workers: number;
}

const allRuns = (input: ReportInput) => [...input.cells.values()].flatMap((cell) => cell.runs);
const runCount = (input: ReportInput): number => allRuns(input).length;
const workerSeconds = (input: ReportInput): number => allRuns(input).reduce((sum, run) => sum + run.wallSeconds, 0);

function methodRow(cell: CellSummary, showRate: boolean): string[] {
  return [
    cell.label,
    ...(showRate ? [learningRateLabel(cell.learningRate)] : []),
    meanStd(cell.balancedAccuracy),
    percent(cell.balancedAccuracy.min),
    percent(cell.balancedAccuracy.max),
    meanStd(cell.accuracy),
    String(cell.collapsed),
    String(cell.degenerate),
    fixed(cell.meanStepMs, 1),
    fixed(cell.meanHeadConflictCosine, 3),
    fixed(cell.strongConflictShare, 2),
    fixed(cell.representationCosine, 3),
  ];
}

const METHOD_HEADERS = [
  'bal. acc % (mean ± std)',
  'min',
  'max',
  'acc %',
  'collapsed',
  'degenerate',
  'ms/step',
  'head cos(g_W,g_C)',
  'share cos<-0.5',
  'repr. cos',
];
const METHOD_RIGHT = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

function dsgdVersusFft(input: ReportInput): string[] {
  const rows: string[][] = [];
  let lowerSpread = 0;
  let higherSpread = 0;
  let significantLower = 0;
  let significantHigher = 0;
  let fewerFailed = 0;
  let moreFailed = 0;
  let compared = 0;
  for (const { spec } of input.settings) {
    for (const rate of input.learningRates) {
      const fft = input.cells.get(cellKey(spec.id, 'grid', 'fft', rate));
      const dsgd = input.cells.get(cellKey(spec.id, 'grid', 'dsgd', rate));
      if (!fft || !dsgd) continue;
      const comparison = pairedComparison(fft, dsgd);
      const verdict = spreadVerdict(comparison, Math.min(fft.runs.length, dsgd.runs.length));
      compared += 1;
      if (comparison.stdRatio < 1) lowerSpread += 1;
      if (comparison.stdRatio > 1) higherSpread += 1;
      if (verdict.startsWith('**lower')) significantLower += 1;
      if (verdict.startsWith('**higher')) significantHigher += 1;
      const fftFailed = fft.collapsed + fft.degenerate;
      const dsgdFailed = dsgd.collapsed + dsgd.degenerate;
      if (dsgdFailed < fftFailed) fewerFailed += 1;
      if (dsgdFailed > fftFailed) moreFailed += 1;
      rows.push([
        spec.title,
        learningRateLabel(rate),
        meanStd(fft.balancedAccuracy),
        `${fft.collapsed}/${fft.degenerate}`,
        meanStd(dsgd.balancedAccuracy),
        `${dsgd.collapsed}/${dsgd.degenerate}`,
        fixed(comparison.stdRatio, 2),
        verdict,
        pairedLabel(comparison),
      ]);
    }
  }
  const listOf = (wanted: (verdict: string) => boolean): string =>
    rows
      .filter((row) => wanted(row[7]))
      .map((row) => `${row[0]} @ ${row[1]}`)
      .join('; ') || 'none';
  return [
    '## DSGD (λ=1, linear) vs FFT, cell by cell',
    '',
    'Same seed = same head initialisation and data order for both methods, so the difference is paired per seed. ' +
      'Failed = collapsed/degenerate runs. With 10 seeds a std ratio between 0.50 and 2.01 cannot be told from seed noise ' +
      '(two-sided F-test at 5%); only ratios outside that band are marked "beyond noise".',
    '',
    markdownTable(
      [
        'setting',
        'lr',
        'FFT bal. acc %',
        'FFT failed',
        'DSGD bal. acc %',
        'DSGD failed',
        'std ratio DSGD/FFT',
        'spread',
        'paired Δ (DSGD − FFT)',
      ],
      rows,
      [2, 4, 6],
    ),
    '',
    `Over ${compared} cells: DSGD's spread was lower in ${lowerSpread} (beyond noise in ${significantLower}) and higher in ` +
      `${higherSpread} (beyond noise in ${significantHigher}); DSGD had fewer failed runs in ${fewerFailed} cells and more in ${moreFailed}.`,
    '',
    `- DSGD spread lower beyond noise: ${listOf((v) => v.startsWith('**lower'))}.`,
    `- DSGD spread higher beyond noise: ${listOf((v) => v.startsWith('**higher'))}.`,
    `- Everything else is within seed noise: ${listOf((v) => !v.startsWith('**'))}.`,
    '',
  ];
}

function settingSection(input: ReportInput, spec: SettingSpec, data: SettingData): string[] {
  const counts = (values: readonly number[]): string => values.map((count, k) => `${data.classNames[k] ?? k}: ${count}`).join(', ');
  const fftRows = input.learningRates.flatMap((rate) => {
    const cell = input.cells.get(cellKey(spec.id, 'grid', 'fft', rate));
    return cell
      ? [
          [
            learningRateLabel(rate),
            meanStd(cell.balancedAccuracy),
            percent(cell.balancedAccuracy.min),
            percent(cell.balancedAccuracy.max),
            String(cell.collapsed),
            String(cell.degenerate),
          ],
        ]
      : [];
  });
  const methodRows = input.learningRates.flatMap((rate) =>
    input.methods.flatMap((method) => {
      const cell = input.cells.get(cellKey(spec.id, 'grid', method.label, rate));
      return cell ? [methodRow(cell, true)] : [];
    }),
  );
  return [
    `## ${spec.title}`,
    '',
    `Data: ${spec.description}. ${spec.epochs} epochs.`,
    '',
    `- train counts: ${counts(data.trainCounts)}`,
    `- test counts: ${counts(data.testCounts)}`,
    '',
    '### Is plain fine-tuning seed-sensitive here?',
    '',
    markdownTable(['lr', 'FFT bal. acc % (mean ± std)', 'min', 'max', 'collapsed', 'degenerate'], fftRows, [1, 2, 3, 4, 5]),
    '',
    '### Every method at every learning rate',
    '',
    markdownTable(
      ['method', 'lr', ...METHOD_HEADERS],
      methodRows,
      METHOD_RIGHT.map((c) => c),
    ),
    '',
    ...figureLines(input.figures.find((figure) => figure.place === spec.id)),
  ];
}

function sensitivitySection(input: ReportInput, headline: CellSummary): string[] {
  const at = (label: string, study: 'grid' | 'sensitivity'): CellSummary | undefined =>
    input.cells.get(cellKey(headline.settingId, study, label, headline.learningRate));
  const fft = at('fft', 'grid');
  const variants: Array<[string, CellSummary | undefined]> = [
    ['fft (= dsgd static λ=1)', fft],
    ['dsgd λ=1 linear (main grid)', at('dsgd', 'grid')],
    ...input.sensitivity.map((variant): [string, CellSummary | undefined] => [variant.label, at(variant.label, 'sensitivity')]),
  ];
  const rows = variants.flatMap(([label, cell]) => {
    if (!cell) return [];
    const row = methodRow({ ...cell, label }, false);
    return [[...row.slice(0, 8), fft && cell !== fft ? pairedLabel(pairedComparison(fft, cell)) : '-']];
  });
  return [
    `## Sensitivity study: λ and schedule (${titleOf(headline.settingId)}, lr ${learningRateLabel(headline.learningRate)})`,
    '',
    'Run, per backbone, on the grid cell where FFT had the largest spread. Static at λ=1 is FFT exactly (alpha = 1), so its row is the FFT row; ' +
      'static is run at λ=0.1 instead.',
    '',
    markdownTable(['variant', ...METHOD_HEADERS.slice(0, 7), 'paired Δ vs FFT'], rows, [1, 2, 3, 4, 5, 6, 7]),
    '',
    ...figureLines(input.figures.find((figure) => figure.place === `sensitivity-${headline.settingId}`)),
  ];
}

function costSection(input: ReportInput): string[] {
  const byMethod = new Map<string, number[]>();
  for (const cell of input.cells.values()) {
    if (cell.study !== 'grid') continue;
    byMethod.set(cell.label, [...(byMethod.get(cell.label) ?? []), ...cell.runs.map((run) => run.meanStepMs)]);
  }
  const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;
  const fftMs = byMethod.has('fft') ? mean(byMethod.get('fft') ?? []) : Number.NaN;
  const rows = [...byMethod].map(([label, values]) => [
    label,
    fixed(mean(values), 2),
    fixed(mean(values) / fftMs, 2),
    String(values.length),
  ]);
  return [
    '## Cost',
    '',
    'Mean optimizer-step time (2 micro-batches of 5, plus telemetry) over every grid run, two runs at a time on a 2-core machine ' +
      'that other jobs were also using: the ratios are indicative, the absolute times are not a microbenchmark.',
    '',
    markdownTable(['method', 'ms/step', '× fft', 'runs'], rows, [1, 2, 3]),
    '',
  ];
}

export function renderReport(input: ReportInput): string {
  const headline = input.headline;
  const headlineCells = headline
    ? input.methods.flatMap((method) => {
        const cell = input.cells.get(cellKey(headline.settingId, 'grid', method.label, headline.learningRate));
        return cell ? [methodRow(cell, false)] : [];
      })
    : [];
  return [
    '# Stability benchmark: does DSGD steady fine-tuning on small imbalanced tasks?',
    '',
    ...(input.quick ? ['> **Quick smoke run** (2 seeds, 1 learning rate): not a result.', ''] : []),
    `Reproduce: \`npm run bench:stability\` (= \`node --import tsx bench/stability/run.ts\`; \`--quick\` for a smoke run). ` +
      `Generated ${input.generatedAt}; this invocation took ${(input.wallSeconds / 60).toFixed(1)} min` +
      (input.reusedRuns > 0 ? ` and reused ${input.reusedRuns} runs from bench/stability/.cache` : '') +
      `. Training the ${runCount(input)} runs shown took ${(workerSeconds(input) / 60).toFixed(1)} worker-minutes ` +
      `(≈ ${(workerSeconds(input) / 60 / input.workers).toFixed(1)} min of wall time on ${input.workers} workers).`,
    '',
    ...input.environment.map((line) => `- ${line}`),
    '',
    '## Protocol',
    '',
    ...input.protocolLines.map((line) => `- ${line}`),
    ...input.notRun.map((line) => `- Not run: ${line}`),
    '',
    ...findingLines(input.cells, input.methods),
    ...(headline
      ? [
          `## Headline: the most seed-sensitive cell (${titleOf(headline.settingId)}, lr ${learningRateLabel(headline.learningRate)})`,
          '',
          markdownTable(
            ['method', ...METHOD_HEADERS],
            headlineCells,
            METHOD_RIGHT.map((c) => c - 1),
          ),
          '',
          ...figureLines(input.figures.find((figure) => figure.place === 'headline')),
        ]
      : []),
    ...dsgdVersusFft(input),
    ...input.settings.flatMap(({ spec, data }) => settingSection(input, spec, data)),
    ...input.sweeps.flatMap((target) => sensitivitySection(input, target)),
    ...costSection(input),
    ...(input.failures.length > 0
      ? [
          '## Runs that failed to complete',
          '',
          ...input.failures.map(
            (f) => `- ${f.job.settingId} ${f.job.method.label} lr ${f.job.learningRate} seed ${f.job.seed}: ${f.message}`,
          ),
          '',
        ]
      : []),
  ].join('\n');
}
