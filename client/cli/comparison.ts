// The paper-style comparison of methods (one job each, same spec): rows of statistics over
// seeds, as a text table and as the stability figure's points. Pure functions, no I/O.
import { RunState, Verdict, type Job, type SeedRun, type Stat } from '../index.js';
import type { FigureRow, FigureVerdict } from './figure.js';
import { renderTable } from './format.js';
import { describeMethod } from './reports.js';

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
  /** The majority vote of the seeds' models, when the job asked for it. */
  readonly vote?: { readonly accuracy: number; readonly balancedAccuracy: number };
}

function statOf(values: readonly number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return { mean, std: values.length > 1 ? Math.sqrt(squares / (values.length - 1)) : 0, min: Math.min(...values), max: Math.max(...values) };
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
    ...(ensemble === undefined ? {} : { vote: { accuracy: ensemble.accuracy, balancedAccuracy: ensemble.balancedAccuracy } }),
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

export const COMPARISON_HEADERS = [
  'METHOD', 'RUNS', 'ACC % (mean ± std)', 'BAL ACC % (mean ± std)', 'MIN %', 'MAX %',
  'COLLAPSED', 'DEGENERATE', 'STEP TIME', 'PEAK MEMORY',
] as const;

/** The cells of a row, in COMPARISON_HEADERS order (shared by the text table and the HTML report). */
export function comparisonCells(row: ComparisonRow): string[] {
  return [
    row.label,
    String(row.runs),
    percentStat(row.accuracy),
    percentStat(row.balancedAccuracy),
    percent(row.accuracy?.min),
    percent(row.accuracy?.max),
    String(row.collapsed),
    String(row.degenerate),
    formatStepTime(row.meanStepSeconds),
    formatBytes(row.peakMemoryBytes),
  ];
}

/** A vote row under its method's row: accuracy of the ensemble, no spread. */
export function voteCells(row: ComparisonRow): string[] | undefined {
  if (row.vote === undefined) return undefined;
  return [`${row.label} vote of ${row.runs}`, '', percent(row.vote.accuracy), percent(row.vote.balancedAccuracy), '', '', '', '', '', ''];
}

export function comparisonTable(rows: readonly ComparisonRow[]): string {
  const lines = rows.flatMap((row) => [comparisonCells(row), ...(voteCells(row) === undefined ? [] : [voteCells(row) ?? []])]);
  const table = renderTable([...COMPARISON_HEADERS], lines, {
    align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  const remedied = rows.filter((row) => row.remedied > 0).map((row) => `${row.label} ${row.remedied}`);
  return remedied.length === 0 ? table : `${table}\n\nruns auto-remedy intervened in: ${remedied.join(', ')}`;
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
