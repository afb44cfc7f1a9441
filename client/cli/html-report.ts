// The comparison as one self-contained HTML page: setup, the paper-style table, the stability
// figure (inline SVG), every run with its phases. No scripts, no external resources: it can
// be mailed, attached to a ticket or opened offline. A pure function from data to text.
import {
  AutoRemedy_Policy,
  autoRemedy_PolicyToJSON,
  imbalanceKindToJSON,
  optimizerKindToJSON,
  runStateToJSON,
  verdictToJSON,
  type FineTuneSpec,
  type RunPhase,
  type SeedRun,
} from '../index.js';
import {
  comparisonCells,
  comparisonHeaders,
  formatBytes,
  formatStepTime,
  headlineNote,
  percent,
  tableHeadline,
  voteCells,
  type ComparedJob,
  type ComparisonRow,
} from './comparison.js';
import { enumLabel, formatTimestamp } from './format.js';
import { describeDataset, describeMethod, jobStateLabel } from './reports.js';
import { phaseDecisionTags, remedyActedOn } from './remedy-lines.js';
import { failureStatement, percentInterval, seedsNeeded, upperPercent } from './uncertainty.js';

export interface HtmlReportInput {
  readonly title: string;
  readonly generatedAt: Date;
  readonly rows: readonly ComparisonRow[];
  readonly jobs: readonly ComparedJob[];
  /** renderStabilityFigure's output; absent when no run has metrics yet. */
  readonly figureSvg?: string;
}

const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #e5e5e5; }
th { background: #f5f5f5; text-align: left; white-space: nowrap; }
td:first-child { white-space: nowrap; }
ul.jobs { font-size: 0.85rem; padding-left: 1.2rem; }
ul.jobs code { color: #444; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.vote td { color: #555; font-style: italic; }
td.bad { color: #b00020; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; font-size: 0.9rem; }
dt { color: #666; }
dd { margin: 0; }
figure { margin: 1rem 0; overflow-x: auto; }
figcaption, .note { color: #666; font-size: 0.85rem; }
code { font-size: 0.85rem; }
`;

/** What the compared jobs share (the spec without its method), from the first job. */
function setupEntries(spec: FineTuneSpec | undefined): [string, string][] {
  if (spec === undefined) return [];
  const imbalance = spec.imbalance;
  const optimizer = spec.optimizer;
  const model = spec.model?.family;
  const remedy = spec.autoRemedy;
  return [
    ['train', describeDataset(spec.train)],
    ['validation', spec.validation === undefined ? 'default' : describeDataset(spec.validation)],
    [
      'imbalance',
      imbalance === undefined ? 'none' : `${enumLabel(imbalanceKindToJSON(imbalance.kind), 'IMBALANCE_KIND_')} ${imbalance.ratio}:1`,
    ],
    [
      'model',
      model === undefined ? 'default' : model.$case === 'mlp' ? `mlp ${model.value.hiddenUnits.join('-') || 'default'}` : model.$case,
    ],
    [
      'optimizer',
      optimizer === undefined
        ? 'default'
        : `${enumLabel(optimizerKindToJSON(optimizer.kind), 'OPTIMIZER_KIND_')} lr ${optimizer.learningRate || 'default'}`,
    ],
    ['batch', `${spec.batchSize || 'default'} × accumulation ${spec.gradientAccumulation || 1}`],
    ['epochs', String(spec.epochs || 'default')],
    ['seeds', spec.seeds.length === 0 ? "the paper's ten" : spec.seeds.join(', ')],
    ['auto-remedy', remedy === undefined ? 'off' : remedyText(remedy)],
  ];
}

/** `restart_next_seed`, or `escalate, at most 50% extra steps`. */
function remedyText(remedy: NonNullable<FineTuneSpec['autoRemedy']>): string {
  const policy = enumLabel(autoRemedy_PolicyToJSON(remedy.policy), 'POLICY_');
  if (remedy.policy !== AutoRemedy_Policy.POLICY_ESCALATE) return policy;
  return `${policy}, at most ${Math.round((remedy.maxExtraCompute || 0.5) * 100)}% extra steps`;
}

function jobsListHtml(jobs: readonly ComparedJob[]): string {
  const items = jobs.map(
    ({ label, job }) =>
      `<li>${escapeHtml(label)}: <code>${escapeHtml(job.id)}</code> ${escapeHtml(jobStateLabel(job))}${job.reason === '' ? '' : ` (${escapeHtml(job.reason)})`}</li>`,
  );
  return `<ul class="jobs">${items.join('')}</ul>`;
}

function tableRow(cells: readonly string[], options: { vote?: boolean; bad?: readonly number[] } = {}): string {
  const tds = cells.map((cell, column) => {
    const classes = [column === 0 ? '' : 'num', options.bad?.includes(column) === true ? 'bad' : ''].filter((c) => c !== '');
    return `<td${classes.length === 0 ? '' : ` class="${classes.join(' ')}"`}>${escapeHtml(cell)}</td>`;
  });
  return `<tr${options.vote === true ? ' class="vote"' : ''}>${tds.join('')}</tr>`;
}

function comparisonTableHtml(rows: readonly ComparisonRow[]): string {
  const headline = tableHeadline(rows);
  const head = `<tr>${comparisonHeaders(headline)
    .map((header) => `<th>${escapeHtml(header)}</th>`)
    .join('')}</tr>`;
  const body = rows.flatMap((row) => {
    const bad = [row.collapsed > 0 ? 6 : -1, row.degenerate > 0 ? 7 : -1];
    const vote = voteCells(row, headline);
    return [tableRow(comparisonCells(row, headline), { bad }), ...(vote === undefined ? [] : [tableRow(vote, { vote: true })])];
  });
  return `<table class="comparison"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

/** Per method: the failure rate's exact bound, bootstrap intervals and seeds needed; undefined when no job has a summary. */
function uncertaintyHtml(rows: readonly ComparisonRow[]): string | undefined {
  const known = rows.filter((row) => row.uncertainty !== undefined);
  const first = known[0]?.uncertainty;
  if (first === undefined) return undefined;
  const headers = [
    'method',
    'failed',
    'failure rate (upper bound)',
    'mean bal acc %',
    'std bal acc %',
    'seeds: mean interval',
    'seeds: std interval',
  ];
  const body = known.map((row) => {
    const u = row.uncertainty;
    if (u === undefined) return '';
    const cells = [
      `<td title="${escapeHtml(failureStatement(row.runs, u))}">${escapeHtml(row.label)}</td>`,
      `<td class="num${u.failed > 0 ? ' bad' : ''}">${u.failed} of ${row.runs}</td>`,
      `<td class="num">≤ ${upperPercent(u.failureRateUpper)}</td>`,
      `<td class="num">${percentInterval(u.balancedAccuracyMean)}</td>`,
      `<td class="num">${percentInterval(u.balancedAccuracyStd)}</td>`,
      `<td class="num">${escapeHtml(seedsNeeded(u.seedsForMeanWidth, row.runs))}</td>`,
      `<td class="num">${escapeHtml(seedsNeeded(u.seedsForStdWidth, row.runs))}</td>`,
    ];
    return `<tr>${cells.join('')}</tr>`;
  });
  const widths = [...new Set(known.map((row) => percent(row.uncertainty?.requestedWidth)))].join(' / ');
  const table = `<table class="uncertainty"><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
  const note =
    `<p class="note">All at ${Math.round(first.confidence * 100)}%. Failed: collapsed or degenerate. ` +
    'Failure rate: exact (Clopper–Pearson) one-sided upper bound, so 0 failures of 10 seeds still allow up to 26%. ' +
    `Intervals: percentile bootstrap over seeds (${first.bootstrapResamples} resamples, fixed seed ${first.bootstrapSeed}); ` +
    'with few seeds they are too narrow rather than too wide. ' +
    `Seeds: how many in all bring the interval to ${escapeHtml(widths)} points wide, planned from the observed std ` +
    "(mean: t interval; std: delta method with the seeds' kurtosis).</p>";
  return `${table}\n${note}`;
}

function phaseText(phase: RunPhase): string {
  const verdict = phase.verdict === 0 ? 'running' : enumLabel(verdictToJSON(phase.verdict), 'VERDICT_');
  return `${describeMethod(phase.method)} seed ${phase.seed}, steps ${phase.startStep}–${phase.endStep}: ${verdict}${phaseDecisionTags(phase)}`;
}

function runRow(label: string, run: SeedRun): string {
  const metrics = run.metrics;
  const verdict = metrics === undefined ? '-' : enumLabel(verdictToJSON(metrics.verdict), 'VERDICT_');
  // A single phase is the run itself, unless auto-remedy gave up in it; more are worth spelling out.
  const phases = remedyActedOn(run) ? run.phases.map(phaseText).join(' → ') : '';
  const cells = [
    `<td>${escapeHtml(label)}</td>`,
    `<td class="num">${run.seed}</td>`,
    `<td>${escapeHtml(enumLabel(runStateToJSON(run.state), 'RUN_STATE_'))}</td>`,
    `<td class="num">${percent(metrics?.accuracy)}</td>`,
    `<td class="num">${percent(metrics?.balancedAccuracy)}</td>`,
    `<td${verdict === 'ok' || verdict === '-' ? '' : ' class="bad"'}>${escapeHtml(verdict)}</td>`,
    `<td class="num">${formatStepTime(run.meanStepSeconds > 0 ? run.meanStepSeconds : undefined)}</td>`,
    `<td class="num">${formatBytes(run.peakMemoryBytes)}</td>`,
    `<td>${escapeHtml(phases || run.error)}</td>`,
  ];
  return `<tr>${cells.join('')}</tr>`;
}

function runsTableHtml(jobs: readonly ComparedJob[]): string {
  const headers = ['method', 'seed', 'state', 'acc %', 'bal acc %', 'verdict', 'step time', 'peak memory', 'phases / error'];
  const rows = jobs.flatMap(({ label, job }) => job.runs.map((run) => runRow(label, run)));
  return `<table class="runs"><thead><tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function renderHtmlReport(input: HtmlReportInput): string {
  const setup = setupEntries(input.jobs[0]?.job.spec)
    .map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  const uncertainty = uncertaintyHtml(input.rows);
  // The SVG is our own output (figure.ts escapes its text): inlined as is.
  const figure =
    input.figureSvg === undefined
      ? '<p class="note">No run has validation metrics yet.</p>'
      : `<figure>${input.figureSvg.replace(/^<\?xml[^>]*>\s*/, '')}<figcaption>Validation accuracy per seed: a dot per run ` +
        '(red cross: collapsed, orange: degenerate) beside a box of the quartiles, whiskers at 1.5 IQR.</figcaption></figure>';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<p class="meta">steadytune stability report, generated ${escapeHtml(formatTimestamp(input.generatedAt))}</p>
<h2>Setup</h2>
<dl>${setup}</dl>
<h2>Methods over seeds</h2>
${comparisonTableHtml(input.rows)}
<p class="note">${escapeHtml(headlineNote(tableHeadline(input.rows)) ?? 'accuracy leads (mean, min, max)')}: on the validation set,
mean ± sample std over the seeds that finished.
Collapsed: one class takes the predictions far beyond its share of the set while the other classes are almost never recalled.
Degenerate: balanced accuracy near chance.
Step time: mean optimizer-step time. Peak memory: the most tensor memory a run's worker held after a step.</p>
${uncertainty === undefined ? '' : `<h2>How sure: failure rate and intervals</h2>\n${uncertainty}\n`}<h2>Stability figure</h2>
${figure}
<h2>Every run</h2>
${runsTableHtml(input.jobs)}
<h2>Jobs</h2>
${jobsListHtml(input.jobs)}
</body>
</html>
`;
}
