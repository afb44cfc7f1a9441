// `start`, `jobs`, `get`, `cancel`, `eval`, `export`: one SDK call each, printed as text or JSON.
import { EvaluateResponse, Job, ListJobsResponse, StartFineTuneResponse } from '../index.js';
import { listFlag, parseCount, parseCountList, parseJobState, parseLabels, stringFlag, UsageError } from './args.js';
import { EXIT_OK, printJson, printLine, type CommandContext } from './context.js';
import { evaluationReport, jobDetail, jobResults, jobsTable, jobStateLabel } from './reports.js';
import { loadSpecFile, parseDatasetRef, specFromFlags } from './spec-flags.js';
import { jobOutcome, watchJob } from './watch.js';

/** The single JOB argument of commands that act on one job. */
export function jobIdArgument(context: CommandContext, command: string): string {
  const [jobId, ...extra] = context.positionals;
  if (jobId === undefined) throw new UsageError(`${command}: missing JOB argument`);
  if (extra.length > 0) throw new UsageError(`${command}: unexpected argument(s) ${extra.join(' ')}`);
  return jobId;
}

function noArguments(context: CommandContext, command: string): void {
  if (context.positionals.length > 0) throw new UsageError(`${command}: unexpected argument(s) ${context.positionals.join(' ')}`);
}

export async function startCommand(context: CommandContext): Promise<number> {
  const { client, io, flags, json } = context;
  noArguments(context, 'start');
  if (flags['wait'] === true && flags['watch'] === true) throw new UsageError('start: use either --wait or --watch');
  const specPath = stringFlag(flags, 'spec');
  const spec = specFromFlags(flags, specPath === undefined ? undefined : await loadSpecFile(specPath));
  const response = await client.startFineTune(
    {
      spec,
      idempotencyKey: stringFlag(flags, 'idempotency-key'),
      displayName: stringFlag(flags, 'display-name'),
      labels: parseLabels('label', listFlag(flags, 'label')),
    },
    { signal: context.signal },
  );
  const job = response.job;
  if (job === undefined) throw new Error('StartFineTune returned no job');
  if (json) printJson(io.stdout, StartFineTuneResponse.toJSON(response), !(flags['watch'] === true));
  else printLine(io.stdout, job.id);
  if (!response.created) printLine(io.stderr, `note: idempotency key matched existing job ${job.id}`);

  if (flags['watch'] === true) return watchJob(context, job.id);
  if (flags['wait'] === true) {
    const finished = await client.waitForJob(job.id, { signal: context.signal });
    if (json) printJson(io.stdout, Job.toJSON(finished));
    else printLine(io.stdout, `\n${jobResults(finished)}`);
    return jobOutcome(finished);
  }
  return EXIT_OK;
}

export async function watchCommand(context: CommandContext): Promise<number> {
  const jobId = jobIdArgument(context, 'watch');
  const from = stringFlag(context.flags, 'from-sequence');
  return watchJob(context, jobId, from === undefined ? 0 : parseCount('from-sequence', from));
}

export async function jobsCommand(context: CommandContext): Promise<number> {
  const { client, io, flags, json } = context;
  noArguments(context, 'jobs');
  const stateText = stringFlag(flags, 'state');
  const pageSizeText = stringFlag(flags, 'page-size');
  const filter = {
    state: stateText === undefined ? undefined : parseJobState(stateText),
    labelSelector: parseLabels('label', listFlag(flags, 'label')),
    pageSize: pageSizeText === undefined ? undefined : parseCount('page-size', pageSizeText),
  };
  let page: ListJobsResponse;
  if (flags['all'] === true) {
    const jobs: Job[] = [];
    for await (const job of client.listAllJobs(filter, { signal: context.signal })) jobs.push(job);
    page = { jobs, nextPageToken: '' };
  } else {
    page = await client.listJobs({ ...filter, pageToken: stringFlag(flags, 'page-token') }, { signal: context.signal });
  }
  if (json) {
    printJson(io.stdout, ListJobsResponse.toJSON(page));
    return EXIT_OK;
  }
  printLine(io.stdout, page.jobs.length === 0 ? 'no jobs' : jobsTable(page.jobs));
  // On stderr so that stdout stays a clean table for scripts.
  if (page.nextPageToken !== '') printLine(io.stderr, `more: steadytune jobs --page-token ${page.nextPageToken}`);
  return EXIT_OK;
}

export async function getCommand(context: CommandContext): Promise<number> {
  const job = await context.client.getJob(jobIdArgument(context, 'get'), { signal: context.signal });
  if (context.json) printJson(context.io.stdout, Job.toJSON(job));
  else printLine(context.io.stdout, jobDetail(job));
  return EXIT_OK;
}

export async function cancelCommand(context: CommandContext): Promise<number> {
  const job = await context.client.cancelJob(jobIdArgument(context, 'cancel'), { signal: context.signal });
  if (context.json) printJson(context.io.stdout, Job.toJSON(job));
  else printLine(context.io.stdout, `${job.id} ${jobStateLabel(job)}`);
  return EXIT_OK;
}

export async function evalCommand(context: CommandContext): Promise<number> {
  const jobId = jobIdArgument(context, 'eval');
  const seedText = stringFlag(context.flags, 'seed');
  const datasetText = stringFlag(context.flags, 'dataset');
  const classesText = stringFlag(context.flags, 'classes');
  if (classesText !== undefined && datasetText === undefined) throw new UsageError('eval: --classes needs --dataset');
  // Empty classes on the job's own dataset mean the job's training classes (the server applies them).
  const classes = classesText === undefined ? [] : parseCountList('classes', classesText);
  const response = await context.client.evaluate(
    {
      jobId,
      seed: seedText === undefined ? 0 : parseCount('seed', seedText),
      ensemble: context.flags['ensemble'] === true,
      ...(datasetText === undefined ? {} : { dataset: parseDatasetRef('dataset', datasetText, classes) }),
    },
    { signal: context.signal },
  );
  if (context.json) printJson(context.io.stdout, EvaluateResponse.toJSON(response));
  else printLine(context.io.stdout, evaluationReport(response));
  return EXIT_OK;
}

export async function exportCommand(context: CommandContext): Promise<number> {
  const jobId = jobIdArgument(context, 'export');
  const out = stringFlag(context.flags, 'out');
  if (out === undefined || out === '') throw new UsageError('export: --out DIR is required');
  const bundle = await context.client.exportModel(jobId, out, { signal: context.signal });
  if (context.json) printJson(context.io.stdout, bundle);
  else {
    for (const file of bundle.files) printLine(context.io.stdout, `${file.path}  ${file.bytes} bytes  sha256 ${file.sha256}`);
    printLine(context.io.stdout, `wrote ${bundle.files.length} files, ${bundle.totalBytes} bytes, to ${bundle.dir}`);
  }
  return EXIT_OK;
}
