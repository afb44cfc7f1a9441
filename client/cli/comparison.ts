// The paper-style comparison of methods (one job each, same spec): rows of statistics over
// seeds, as a text table and as the stability figure's points. Pure functions, no I/O.
import { RunState, Verdict, type Job, type SeedRun, type StabilityUncertainty, type Stat } from '../index.js';
import type { FigureRow, FigureVerdict } from './figure.js';
import { renderTable } from './format.js';
import { headlineMetric, IMBALANCE_RATIO, type HeadlineMetric } from './headline.js';
import { describeMethod } from './reports.js';
import { uncertaintyNotes } from './uncertainty.js';

/** One compared job under the name its row and figure column carry. */
export interface ComparedJob {
  readonly label: string;
  readonly job: Job;
}

export interface ComparisonRow {
  readonly label: string;
  readonly jobId: string;
  /** Runs with validation metrics (failed and cancelled runs have none). */
  readonly runs: number;
  readonly accuracy?: Stat;
  readonly balancedAccuracy?: Stat;
  readonly collapsed: number;
  readonly degenerate: number;
  /** Mean over runs of their mean optimizer-step time. */
  readonly meanStepSeconds?: number;
  /** Highest over runs; absent when no run reported it. */
  readonly peakMemoryBytes?: number;
  /** Runs auto-remedy ended a phase of. */
  readonly remedied: number;
  /** Balanced accuracy when the runs' validation set is imbalanced, else accuracy. */
  readonly headline: HeadlineMetric;
  /** The majority vote of the seeds' models, when the job asked for it. */
  readonly vote?: { readonly accuracy: number; readonly balancedAccuracy: number };
  /** The server's, once the job has a summary (a job still running has none). */
  readonly uncertainty?: StabilityUncertainty;
}

function statOf(values: readonly number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return {
    mean,
    std: values.length > 1 ? Math.sqrt(squares / (values.length - 1)) : 0,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

const scored = (run: SeedRun): boolean => run.state === RunState.RUN_STATE_SUCCEEDED && run.metrics !== undefined;

export function comparisonRow({ label, job }: ComparedJob): ComparisonRow {
  const runs = job.runs.filter(scored);
  const metrics = runs.flatMap((run) => (run.metrics === undefined ? [] : [run.metrics]));
  const stepTimes = runs.map((run) => run.meanStepSeconds).filter((seconds) => seconds > 0);
  const peaks = job.runs.map((run) => run.peakMemoryBytes).filter((bytes) => bytes > 0);
  // The server's summary is over the same runs; recomputed here so a job still running has a row too.
  const accuracy = job.summary?.accuracy ?? statOf(metrics.map((m) => m.accuracy));
  const balancedAccuracy = job.summary?.balancedAccuracy ?? statOf(metrics.map((m) => m.balancedAccuracy));
  const ensemble = job.summary?.ensemble;
  return {
    label,
    jobId: job.id,
    runs: metrics.length,
    ...(accuracy === undefined ? {} : { accuracy }),
    ...(balancedAccuracy === undefined ? {} : { balancedAccuracy }),
    collapsed: metrics.filter((m) => m.verdict === Verdict.VERDICT_COLLAPSED).length,
    degenerate: metrics.filter((m) => m.verdict === Verdict.VERDICT_DEGENERATE).length,
    ...(stepTimes.length === 0 ? {} : { meanStepSeconds: stepTimes.reduce((sum, s) => sum + s, 0) / stepTimes.length }),
    ...(peaks.length === 0 ? {} : { peakMemoryBytes: Math.max(...peaks) }),
    remedied: job.runs.filter((run) => run.phases.length > 1).length,
    headline: headlineMetric(metrics),
    ...(ensemble === undefined ? {} : { vote: { accuracy: ensemble.accuracy, balancedAccuracy: ensemble.balancedAccuracy } }),
    ...(job.summary?.uncertainty === undefined ? {} : { uncertainty: job.summary.uncertainty }),
  };
}

/** Row labels: the method as the spec names it, made unique with the job id where two jobs share one. */
export function labelJobs(jobs: readonly Job[]): ComparedJob[] {
  const methods = jobs.map((job) => describeMethod(job.spec?.method));
  return jobs.map((job, index) => {
    const method = methods[index] ?? '-';
    const shared = methods.filter((other) => other === method).length > 1;
    return { label: shared ? `${method} [${job.id.slice(0, 8)}]` : method, job };
  });
}

/** A share in [0, 1] as the paper prints it: percent with two decimals. */
export function percent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : (value * 100).toFixed(2);
}

export function percentStat(stat: Stat | undefined): string {
  return stat === undefined ? '-' : `${percent(stat.mean)} ± ${percent(stat.std)}`;
}

/** Binary units: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes <= 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const power = Math.min(units.length - 1, Math.floor(Math.log2(bytes) / 10));
  const value = bytes / 1024 ** power;
  return `${power === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[power]}`;
}

export function formatStepTime(seconds: number | undefined): string {
  return seconds === undefined ? '-' : `${(seconds * 1000).toFixed(1)} ms`;
}

/** The table leads with balanced accuracy when any row's validation set is imbalanced. */
export function tableHeadline(rows: readonly ComparisonRow[]): HeadlineMetric {
  return rows.some((row) => row.headline === 'balancedAccuracy') ? 'balancedAccuracy' : 'accuracy';
}

/** Headers: the headline's mean ± std first, then the other's, then min and max of the headline. */
export function comparisonHeaders(headline: HeadlineMetric): string[] {
  const metrics =
    headline === 'accuracy'
      ? ['ACC % (mean ± std)', 'BAL ACC % (mean ± std)', 'MIN %', 'MAX %']
      : ['BAL ACC % (mean ± std)', 'ACC % (mean ± std)', 'BAL MIN %', 'BAL MAX %'];
  return ['METHOD', 'RUNS', ...metrics, 'COLLAPSED', 'DEGENERATE', 'STEP TIME', 'PEAK MEMORY'];
}

/** The cells of a row, in comparisonHeaders order (shared by the text table and the HTML report). */
export function comparisonCells(row: ComparisonRow, headline: HeadlineMetric): string[] {
  const [lead, other] = headline === 'accuracy' ? [row.accuracy, row.balancedAccuracy] : [row.balancedAccuracy, row.accuracy];
  return [
    row.label,
    String(row.runs),
    percentStat(lead),
    percentStat(other),
    percent(lead?.min),
    percent(lead?.max),
    String(row.collapsed),
    String(row.degenerate),
    formatStepTime(row.meanStepSeconds),
    formatBytes(row.peakMemoryBytes),
  ];
}

/** A vote row under its method's row: the ensemble's two accuracies, no spread. */
export function voteCells(row: ComparisonRow, headline: HeadlineMetric): string[] | undefined {
  if (row.vote === undefined) return undefined;
  const [lead, other] =
    headline === 'accuracy' ? [row.vote.accuracy, row.vote.balancedAccuracy] : [row.vote.balancedAccuracy, row.vote.accuracy];
  return [`${row.label} vote of ${row.runs}`, '', percent(lead), percent(other), '', '', '', '', '', ''];
}

/** Why the table leads with balanced accuracy, when it does. */
export function headlineNote(headline: HeadlineMetric): string | undefined {
  return headline === 'accuracy'
    ? undefined
    : `balanced accuracy leads (mean, min, max): the validation set is imbalanced (largest class ≥ ${IMBALANCE_RATIO}× the smallest)`;
}

export function comparisonTable(rows: readonly ComparisonRow[]): string {
  const headline = tableHeadline(rows);
  const lines = rows.flatMap((row) => {
    const vote = voteCells(row, headline);
    return [comparisonCells(row, headline), ...(vote === undefined ? [] : [vote])];
  });
  const table = renderTable(comparisonHeaders(headline), lines, {
    align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  const remedied = rows.filter((row) => row.remedied > 0).map((row) => `${row.label} ${row.remedied}`);
  const notes = [
    headlineNote(headline),
    remedied.length === 0 ? undefined : `runs auto-remedy intervened in: ${remedied.join(', ')}`,
    uncertaintyNotes(rows),
  ];
  const present = notes.filter((note): note is string => note !== undefined);
  return present.length === 0 ? table : `${table}\n\n${present.join('\n')}`;
}

/** Every scored run as a point of the stability figure (column = row label). */
export function figureRows(jobs: readonly ComparedJob[]): FigureRow[] {
  return jobs.flatMap(({ label, job }) =>
    job.runs.filter(scored).map((run) => ({
      method: label,
      seed: run.seed,
      accuracy: run.metrics?.accuracy ?? 0,
      verdict: figureVerdict(run.metrics?.verdict),
    })),
  );
}

function figureVerdict(verdict: Verdict | undefined): FigureVerdict {
  if (verdict === Verdict.VERDICT_COLLAPSED) return 'collapsed';
  return verdict === Verdict.VERDICT_DEGENERATE ? 'degenerate' : 'ok';
}
