// `compare`: one job per method with the same spec, followed to the end, then the paper-style
// table and (with --out) an HTML report and/or the figure. `report`: the same for existing jobs.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobState, type FineTuneSpec, type Job } from '../index.js';
import { listFlag, parseLabels, stringFlag, UsageError, type FlagValues } from './args.js';
import { comparisonRow, comparisonTable, figureRows, labelJobs, type ComparedJob } from './comparison.js';
import { EXIT_JOB_UNSUCCESSFUL, EXIT_OK, printJson, printLine, type CommandContext } from './context.js';
import { renderStabilityFigure } from './figure.js';
import { renderHtmlReport } from './html-report.js';
import { runFinishedLine } from './progress.js';
import { describeDataset, describeMethod, jobStateLabel, phaseStartedLine } from './reports.js';
import { remedyGaveUpLine } from './remedy-lines.js';
import { loadSpecFile, METHOD_NAMES, PARAMETER_METHODS, specFromFlags, type MethodName } from './spec-flags.js';

type OutputKind = 'html' | 'svg';

/** `--out report.html --out figure.svg`: the kind of each file from its extension, checked before any work. */
export function outputTargets(flags: FlagValues): { readonly file: string; readonly kind: OutputKind }[] {
  return listFlag(flags, 'out').map((file) => {
    const extension = path.extname(file).toLowerCase();
    if (extension === '.html' || extension === '.htm') return { file, kind: 'html' };
    if (extension === '.svg') return { file, kind: 'svg' };
    throw new UsageError(`--out: '${file}' must end in .html (the report) or .svg (the figure)`);
  });
}

/** `fft,dsgd,focal` → the methods in that order; all seven by default. */
export function parseMethods(text: string | undefined): MethodName[] {
  if (text === undefined) return [...METHOD_NAMES];
  const names = text.split(',').map((name) => name.trim().toLowerCase());
  const methods = names.map((name) => {
    const method = METHOD_NAMES.find((candidate) => candidate === name);
    if (method === undefined) throw new UsageError(`--methods: '${name}' is not one of ${METHOD_NAMES.join(', ')}`);
    return method;
  });
  if (new Set(methods).size !== methods.length) throw new UsageError(`--methods: '${text}' names a method twice`);
  return methods;
}

/**
 * One spec per method: the shared flags and file, the method, and the parameter flags that
 * belong to it (--lambda goes to dsgd only). A parameter flag no listed method takes is an error.
 */
export function methodSpecs(flags: FlagValues, methods: readonly MethodName[], file?: FineTuneSpec): Map<MethodName, FineTuneSpec> {
  for (const [flag, owners] of Object.entries(PARAMETER_METHODS)) {
    if (stringFlag(flags, flag) !== undefined && !owners.some((owner) => methods.includes(owner))) {
      throw new UsageError(`--${flag} applies to ${owners.join(' or ')}, and --methods lists neither`);
    }
  }
  return new Map(
    methods.map((method) => {
      const own: FlagValues = { ...flags, method };
      for (const [flag, owners] of Object.entries(PARAMETER_METHODS)) if (!owners.includes(method)) delete own[flag];
      return [method, specFromFlags(own, file)];
    }),
  );
}

export async function compareCommand(context: CommandContext): Promise<number> {
  const { client, io, flags, signal } = context;
  if (context.positionals.length > 0) throw new UsageError(`compare: unexpected argument(s) ${context.positionals.join(' ')}`);
  const targets = outputTargets(flags);
  const specPath = stringFlag(flags, 'spec');
  const specs = methodSpecs(
    flags,
    parseMethods(stringFlag(flags, 'methods')),
    specPath === undefined ? undefined : await loadSpecFile(specPath),
  );
  const compareId = stringFlag(flags, 'compare-id') ?? randomUUID().slice(0, 8);
  const labels = parseLabels('label', listFlag(flags, 'label'));
  printLine(io.stderr, `compare ${compareId}: ${specs.size} jobs (run again with --compare-id ${compareId} to follow the same jobs)`);

  const started: { method: MethodName; job: Job }[] = [];
  for (const [method, spec] of specs) {
    const response = await client.startFineTune(
      {
        spec,
        // Derived from the compare id: re-running the command finds these jobs instead of starting new ones.
        idempotencyKey: `compare-${compareId}-${method}`,
        displayName: `compare ${compareId} ${method}`,
        labels: { ...labels, compare: compareId, method },
      },
      { signal },
    );
    if (response.job === undefined) throw new Error('StartFineTune returned no job');
    started.push({ method, job: response.job });
    printLine(io.stderr, `  ${method}: job ${response.job.id}${response.created ? '' : ' (already started)'}`);
  }

  // Followed together: the server runs them side by side as workers free up.
  const finished = await Promise.all(
    started.map(async ({ method, job }) => {
      // A phase change is shown from its event; the notice restating it (for older clients) is not.
      const phaseNotices = new Set<string>();
      for await (const event of client.streamMetrics(job.id, { signal })) {
        const body = event.event;
        if (body?.$case === 'runFinished') printLine(io.stderr, `  [${method}] ${runFinishedLine(event.seed, body.value)}`);
        if (body?.$case === 'phaseStarted') {
          phaseNotices.add(body.value.notice);
          printLine(io.stderr, `  [${method}] ${phaseStartedLine(event.seed, body.value)}`);
        }
        if (body?.$case === 'remedyGaveUp') {
          phaseNotices.add(body.value.notice);
          printLine(io.stderr, `  [${method}] ${remedyGaveUpLine(event.seed, body.value)}`);
        }
        if (body?.$case === 'notice' && body.value.message.startsWith('auto-remedy:') && !phaseNotices.has(body.value.message)) {
          printLine(io.stderr, `  [${method}] ${body.value.message}`);
        }
      }
      const done = await client.getJob(job.id, { signal });
      printLine(io.stderr, `  ${method}: job ${done.id} ${jobStateLabel(done)}`);
      // The method with its parameters (dsgd(λ=0.5, cosine)), as `report` labels it.
      return { label: describeMethod(done.spec?.method ?? specs.get(method)?.method), job: done };
    }),
  );
  const title = stringFlag(flags, 'title') ?? defaultTitle(finished, `compare ${compareId}`);
  await present(context, finished, targets, title, { compareId });
  return finished.every(({ job }) => job.state === JobState.JOB_STATE_SUCCEEDED) ? EXIT_OK : EXIT_JOB_UNSUCCESSFUL;
}

export async function reportCommand(context: CommandContext): Promise<number> {
  const { client, flags, signal } = context;
  if (context.positionals.length === 0) throw new UsageError('report: name at least one JOB');
  const targets = outputTargets(flags);
  const jobs: Job[] = [];
  for (const jobId of context.positionals) jobs.push(await client.getJob(jobId, { signal }));
  const compared = labelJobs(jobs);
  await present(context, compared, targets, stringFlag(flags, 'title') ?? defaultTitle(compared, 'report'), {});
  return EXIT_OK;
}

function defaultTitle(jobs: readonly ComparedJob[], fallback: string): string {
  const spec = jobs[0]?.job.spec;
  if (spec === undefined) return `Stability: ${fallback}`;
  const seeds = spec.seeds.length === 0 ? 10 : spec.seeds.length;
  return `Stability over ${seeds} seeds: ${describeDataset(spec.train)}`;
}

/** The table on stdout (or JSON), then the files --out asked for. */
async function present(
  context: CommandContext,
  jobs: readonly ComparedJob[],
  targets: readonly { file: string; kind: OutputKind }[],
  title: string,
  extra: { compareId?: string },
): Promise<void> {
  const { io, json } = context;
  const rows = jobs.map(comparisonRow);
  if (json) printJson(io.stdout, { ...extra, title, rows });
  else printLine(io.stdout, comparisonTable(rows));
  const points = figureRows(jobs);
  // The page has the title already; the standalone SVG carries its own.
  const figure = (withTitle: boolean): string | undefined =>
    points.length === 0 ? undefined : renderStabilityFigure(points, { ...(withTitle ? { title } : {}), yLabel: 'validation accuracy' });
  for (const { file, kind } of targets) {
    const figureSvg = figure(kind === 'svg');
    if (kind === 'svg' && figureSvg === undefined) {
      printLine(io.stderr, `not written: ${file} (no run has validation metrics)`);
      continue;
    }
    const text =
      kind === 'svg'
        ? (figureSvg ?? '')
        : renderHtmlReport({ title, generatedAt: new Date(), rows, jobs, ...(figureSvg === undefined ? {} : { figureSvg }) });
    await writeFile(file, text, 'utf8');
    printLine(io.stderr, `wrote ${file}`);
  }
}
