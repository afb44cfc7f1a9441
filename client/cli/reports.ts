// Multi-line reports: job lists, job details, per-seed results, stability summaries, evaluations.
import type {
  DatasetRef,
  EvalMetrics,
  EvaluateResponse,
  FineTuneSpec,
  Job,
  MethodSpec,
  RunPhase,
  RunPhaseStarted,
  SeedRun,
  StabilitySummary,
} from '../index.js';
import {
  alphaScheduleToJSON,
  autoRemedy_PolicyToJSON,
  builtinNameToJSON,
  DatasetSplit,
  datasetSplitToJSON,
  Delivery,
  deliveryToJSON,
  isTerminalJobState,
  jobStateToJSON,
  runStateToJSON,
  verdictToJSON,
} from '../index.js';
import { enumLabel, formatDuration, formatNumber, formatStat, formatTimestamp, renderTable } from './format.js';
import { uncertaintyLines } from './uncertainty.js';
import { deliveryLines, hasTestMetrics, metricsLine, trainingSetLabel } from './delivery.js';
import { headlineMetric } from './headline.js';
import { decisionSuffix, phaseDecisionTags, remedyActedOn, remedyBudgetLine } from './remedy-lines.js';

export function jobStateLabel(job: Pick<Job, 'state'>): string {
  return enumLabel(jobStateToJSON(job.state), 'JOB_STATE_');
}

function verdictLabel(metrics: EvalMetrics | undefined): string {
  return metrics === undefined ? '-' : enumLabel(verdictToJSON(metrics.verdict), 'VERDICT_');
}

/** `dsgd(λ=0.5, cosine)`, `focal(γ=2)`, `fft`; parameters left at their defaults are omitted. */
export function describeMethod(method: MethodSpec | undefined): string {
  const chosen = method?.method;
  if (chosen === undefined) return 'dsgd';
  const withParameters = (name: string, parameters: (string | undefined)[]): string => {
    const present = parameters.filter((parameter): parameter is string => parameter !== undefined);
    return present.length === 0 ? name : `${name}(${present.join(', ')})`;
  };
  switch (chosen.$case) {
    case 'dsgd': {
      const schedule = chosen.value.schedule === 0 ? undefined : enumLabel(alphaScheduleToJSON(chosen.value.schedule), 'ALPHA_SCHEDULE_');
      return withParameters('dsgd', [chosen.value.lambda === undefined ? undefined : `λ=${chosen.value.lambda}`, schedule]);
    }
    case 'focal':
      return withParameters('focal', [chosen.value.gamma === undefined ? undefined : `γ=${chosen.value.gamma}`]);
    case 'noisytune':
      return withParameters('noisytune', [chosen.value.noise === undefined ? undefined : `noise=${chosen.value.noise}`]);
    case 'lnsr':
      return withParameters('lnsr', [
        chosen.value.noiseStd === undefined ? undefined : `σ=${chosen.value.noiseStd}`,
        chosen.value.weight === undefined ? undefined : `w=${chosen.value.weight}`,
      ]);
    case 'swa':
      return withParameters('swa', [chosen.value.window === 0 ? undefined : `window=${chosen.value.window}`]);
    default:
      return chosen.$case;
  }
}

/** `mnist[3,8]`, `ds_12`, `ds_12:test`. */
export function describeDataset(dataset: DatasetRef | undefined): string {
  const source = dataset?.source;
  if (dataset === undefined || source === undefined) return '-';
  const split =
    dataset.split === undefined || dataset.split === DatasetSplit.DATASET_SPLIT_UNSPECIFIED
      ? ''
      : `:${enumLabel(datasetSplitToJSON(dataset.split), 'DATASET_SPLIT_')}`;
  const name =
    source.$case === 'builtin'
      ? enumLabel(builtinNameToJSON(source.value.name), 'BUILTIN_NAME_').replace('_', '-')
      : `${source.value}${split}`;
  return dataset.classes.length === 0 ? name : `${name}[${dataset.classes.join(',')}]`;
}

function seedsOf(spec: FineTuneSpec | undefined): string {
  if (spec === undefined || spec.seeds.length === 0) return 'paper×10';
  return spec.seeds.length <= 3 ? spec.seeds.join(',') : `${spec.seeds.length} seeds`;
}

export function jobsTable(jobs: Job[]): string {
  const rows = jobs.map((job) => [
    job.id,
    jobStateLabel(job),
    describeMethod(job.spec?.method),
    describeDataset(job.spec?.train),
    seedsOf(job.spec),
    formatTimestamp(job.createTime),
    job.displayName,
  ]);
  return renderTable(['ID', 'STATE', 'METHOD', 'DATASET', 'SEEDS', 'CREATED', 'NAME'], rows);
}

const METRIC_ALIGN: ('left' | 'right')[] = ['right', 'left', 'right', 'right', 'right', 'right', 'left', 'right'];

export function seedResultsTable(runs: SeedRun[]): string {
  const rows = runs.map((run) => [
    String(run.seed),
    enumLabel(runStateToJSON(run.state), 'RUN_STATE_'),
    `${run.steps}/${run.totalSteps}`,
    formatNumber(run.metrics?.accuracy),
    formatNumber(run.metrics?.balancedAccuracy),
    formatNumber(run.metrics?.macroF1),
    verdictLabel(run.metrics),
    run.duration === undefined ? '-' : formatDuration(run.duration.seconds + run.duration.nanos / 1e9),
  ]);
  const headers = ['SEED', 'STATE', 'STEPS', 'ACC', 'BAL ACC', 'MACRO-F1', 'VERDICT', 'TIME'];
  if (!hasTestMetrics({ runs })) return renderTable(headers, rows, { align: METRIC_ALIGN });
  // The test split is only reported: its columns come after everything validation decided.
  runs.forEach((run, i) => rows[i]?.push(formatNumber(run.testMetrics?.balancedAccuracy), verdictLabel(run.testMetrics)));
  return renderTable([...headers, 'TEST BAL', 'TEST VERDICT'], rows, { align: [...METRIC_ALIGN, 'right', 'left'] });
}

/**
 * The stability summary; balanced accuracy leads when `evaluations` (the runs' metrics) show an
 * imbalanced validation set.
 */
export function summaryLines(summary: StabilitySummary | undefined, evaluations: readonly (EvalMetrics | undefined)[] = []): string {
  if (summary === undefined) return 'summary: not available yet';
  const accuracy = `accuracy  ${formatStat(summary.accuracy)}`;
  const balanced = `bal acc   ${formatStat(summary.balancedAccuracy)}`;
  const imbalanced = headlineMetric([...evaluations, summary.ensemble]) === 'balancedAccuracy';
  const lines = [
    `runs ${summary.runs}  collapsed ${summary.collapsed}  degenerate ${summary.degenerate}`,
    ...(imbalanced ? [`${balanced}  (headline: imbalanced validation set)`, accuracy] : [accuracy, balanced]),
    `macro-F1  ${formatStat(summary.macroF1)}`,
  ];
  if (summary.ensemble !== undefined) lines.push(`ensemble  ${metricsLine(summary.ensemble)}`);
  lines.push(...uncertaintyLines(summary.runs, summary.uncertainty));
  lines.push(...deliveryLines(summary.delivery));
  return lines.join('\n');
}

export function evaluationReport(response: EvaluateResponse): string {
  const row = (label: string, metrics: EvalMetrics | undefined): string[] => [
    label,
    String(metrics?.examples ?? '-'),
    formatNumber(metrics?.loss),
    formatNumber(metrics?.accuracy),
    formatNumber(metrics?.balancedAccuracy),
    formatNumber(metrics?.macroF1),
    formatNumber(metrics?.representationCosine, 3),
    verdictLabel(metrics),
  ];
  const rows = response.evaluations.map((evaluation) => row(String(evaluation.seed), evaluation.metrics));
  if (response.ensemble !== undefined) rows.push(row('vote', response.ensemble));
  const { delivered } = response;
  if (delivered?.metrics !== undefined) rows.push(row('delivered', delivered.metrics));
  const rendered = renderTable(['SEED', 'EXAMPLES', 'LOSS', 'ACC', 'BAL ACC', 'MACRO-F1', 'REP COS', 'VERDICT'], rows, {
    align: ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  });
  // The seeds go under the table: in the SEED column they would widen it for every row.
  const table = delivered?.metrics === undefined ? rendered : `${rendered}\ndelivered = seeds ${delivered.seeds.join(', ')}`;
  const evaluated = [...response.evaluations.map((evaluation) => evaluation.metrics), response.ensemble];
  return response.summary === undefined ? table : `${table}\n\n${summaryLines(response.summary, evaluated)}`;
}

/** Everything `get` shows about one job. */
export function jobDetail(job: Job): string {
  const spec = job.spec;
  const labels = Object.entries(job.labels).map(([key, value]) => `${key}=${value}`);
  const fields: [string, string][] = [
    ['id', job.id],
    ['name', job.displayName || '-'],
    ['state', job.reason === '' ? jobStateLabel(job) : `${jobStateLabel(job)} (${job.reason})`],
    ['created', formatTimestamp(job.createTime)],
    ['method', describeMethod(spec?.method)],
    ['train', describeDataset(spec?.train)],
    ['validation', spec?.validation === undefined ? 'default' : describeDataset(spec.validation)],
    ...testField(job),
    ['train classes', trainingSetLabel(job.trainingSet) ?? '-'],
    [
      'delivery',
      spec?.delivery === undefined || spec.delivery === Delivery.DELIVERY_UNSPECIFIED
        ? 'ensemble (default)'
        : enumLabel(deliveryToJSON(spec.delivery), 'DELIVERY_'),
    ],
    ['seeds', spec === undefined || spec.seeds.length === 0 ? 'paper seeds (10)' : spec.seeds.join(', ')],
    ['backend', job.backend || '-'],
    ['labels', labels.length === 0 ? '-' : labels.join(' ')],
  ];
  if (job.idempotencyKey !== '') fields.push(['idempotency key', job.idempotencyKey]);
  const width = Math.max(...fields.map(([name]) => name.length));
  const sections = [fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n')];
  if (job.transitions.length > 0) {
    const history = job.transitions.map(
      (transition) =>
        `  ${formatTimestamp(transition.time)}  ${jobStateLabel(transition)}${transition.reason ? ` (${transition.reason})` : ''}`,
    );
    sections.push(['transitions', ...history].join('\n'));
  }
  if (job.notices.length > 0) sections.push(['notices', ...job.notices.map((notice) => `  ${notice}`)].join('\n'));
  if (job.runs.length > 0) sections.push(seedResultsTable(job.runs));
  const phases = remedyPhaseLines(job.runs);
  if (phases !== undefined) sections.push(phases);
  const evaluations = job.runs.map((run) => run.metrics);
  if (job.summary !== undefined) sections.push(summaryLines(job.summary, evaluations));
  return sections.join('\n\n');
}

/** The job's test split: the spec's, or by default a registered training dataset's own (built-ins have none). */
function testField(job: Job): [string, string][] {
  const spec = job.spec;
  if (spec?.test !== undefined) return [['test', `${describeDataset(spec.test)} (reported only)`]];
  if (spec?.train?.source?.$case !== 'datasetId') return [];
  if (hasTestMetrics(job)) return [['test', "the training dataset's test split (reported only)"]];
  return [['test', isTerminalJobState(job.state) ? 'none' : "the training dataset's test split, if it has one"]];
}

/**
 * The phases of runs auto-remedy intervened in, one line each, with the escalating policy's
 * decisions and budget; undefined when it did not intervene.
 */
export function remedyPhaseLines(runs: readonly SeedRun[]): string | undefined {
  const remedied = runs.filter(remedyActedOn);
  if (remedied.length === 0) return undefined;
  const phases = remedied.map(
    (run) => `  seed ${run.seed}: ${run.phases.map((phase) => `${phaseLabel(phase)}${phaseDecisionTags(phase)}`).join(' -> ')}`,
  );
  const budget = remedyBudgetLine(runs);
  return ['auto-remedy phases', ...phases, ...(budget === undefined ? [] : [`  ${budget}`])].join('\n');
}

/** `fft@42 steps 0-24 collapsed`. */
function phaseLabel(phase: RunPhase): string {
  const verdict = phase.verdict === 0 ? 'running' : enumLabel(verdictToJSON(phase.verdict), 'VERDICT_');
  return `${describeMethod(phase.method)}@${phase.seed} steps ${phase.startStep}-${phase.endStep} ${verdict}`;
}

/**
 * A phase change from the stream, e.g. `seed 42: auto-remedy restart_next_seed: phase 2
 * fft@1042 from step 0 after fft@42 steps 0-24 collapsed (collapsed at step 24: ...)`.
 */
export function phaseStartedLine(seed: number, started: RunPhaseStarted): string {
  const policy = enumLabel(autoRemedy_PolicyToJSON(started.policy), 'POLICY_');
  const next =
    started.phase === undefined
      ? '?'
      : `${describeMethod(started.phase.method)}@${started.phase.seed} from step ${started.phase.startStep}`;
  const ended =
    started.ended === undefined ? '' : ` after ${phaseLabel(started.ended)}${started.ended.reason ? ` (${started.ended.reason})` : ''}`;
  return `seed ${seed}: auto-remedy ${policy}: phase ${started.phaseIndex + 1} ${next}${ended}${decisionSuffix(started.decision)}`;
}

/** What `watch` and `start --wait` end with: outcome, per-seed results, stability summary. */
export function jobResults(job: Job): string {
  const outcome = `job ${job.id} ${jobStateLabel(job)}${job.reason ? `: ${job.reason}` : ''}`;
  const sections = [outcome];
  if (job.runs.length > 0) sections.push(seedResultsTable(job.runs));
  const phases = remedyPhaseLines(job.runs);
  if (phases !== undefined) sections.push(phases);
  const evaluations = job.runs.map((run) => run.metrics);
  sections.push(summaryLines(job.summary, evaluations));
  return sections.join('\n\n');
}
