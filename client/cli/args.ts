// Command-line grammar: which flags each command takes, and parsers for flag values.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { JobState, jobStateFromJSON, paperSeeds, PAPER_SEEDS } from '../index.js';

/** Bad invocation: reported with exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const GLOBAL_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  'deadline-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies OptionSpecs;

const START_OPTIONS = {
  spec: { type: 'string' },
  dataset: { type: 'string' },
  classes: { type: 'string' },
  'max-examples': { type: 'string' },
  imbalance: { type: 'string' },
  method: { type: 'string' },
  lambda: { type: 'string' },
  schedule: { type: 'string' },
  gamma: { type: 'string' },
  noise: { type: 'string' },
  window: { type: 'string' },
  lr: { type: 'string' },
  'batch-size': { type: 'string' },
  accumulation: { type: 'string' },
  epochs: { type: 'string' },
  seeds: { type: 'string' },
  hidden: { type: 'string' },
  'full-conflict-every': { type: 'string' },
  ensemble: { type: 'boolean' },
  'auto-remedy': { type: 'string' },
  'ci-width': { type: 'string' },
  label: { type: 'string', multiple: true },
  'display-name': { type: 'string' },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean' },
  watch: { type: 'boolean' },
} satisfies OptionSpecs;

/** Where a comparison goes: files by extension (.html report, .svg figure) and the report's title. */
const REPORT_OPTIONS = {
  out: { type: 'string', multiple: true },
  title: { type: 'string' },
} satisfies OptionSpecs;

/** `start`'s spec flags, one job per method instead of --method, and the report outputs. */
const COMPARE_OPTIONS = (() => {
  const { method: _method, 'idempotency-key': _key, 'display-name': _name, wait: _wait, watch: _watch, ...spec } = START_OPTIONS;
  return { ...spec, ...REPORT_OPTIONS, methods: { type: 'string' }, 'compare-id': { type: 'string' } } satisfies OptionSpecs;
})();

export const COMMAND_OPTIONS = {
  start: START_OPTIONS,
  watch: { 'from-sequence': { type: 'string' } },
  jobs: {
    state: { type: 'string' },
    label: { type: 'string', multiple: true },
    'page-size': { type: 'string' },
    'page-token': { type: 'string' },
    all: { type: 'boolean' },
  },
  get: {},
  cancel: {},
  eval: { ensemble: { type: 'boolean' }, seed: { type: 'string' } },
  compare: COMPARE_OPTIONS,
  report: REPORT_OPTIONS,
  datasets: {
    format: { type: 'string' },
    train: { type: 'string' },
    validation: { type: 'string' },
    'train-images': { type: 'string' },
    'train-labels': { type: 'string' },
    'validation-images': { type: 'string' },
    'validation-labels': { type: 'string' },
    'class-names': { type: 'string' },
    'validation-fraction': { type: 'string' },
    'seq-len': { type: 'string' },
    'image-size': { type: 'string' },
    color: { type: 'boolean' },
    'display-name': { type: 'string' },
    'page-size': { type: 'string' },
    'page-token': { type: 'string' },
  },
  help: {},
} satisfies Record<string, OptionSpecs>;

export type CommandName = keyof typeof COMMAND_OPTIONS;

/** Every flag value arrives as a string, a boolean, or (for repeatable flags) a string list. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface ParsedCommand {
  command: CommandName;
  positionals: string[];
  flags: FlagValues;
}

function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_OPTIONS, name);
}

/** Global flags may come before or after the command; each command accepts only its own flags. */
export function parseCommandLine(argv: string[]): ParsedCommand {
  const everyOption: OptionSpecs = { ...GLOBAL_OPTIONS };
  for (const options of Object.values(COMMAND_OPTIONS)) Object.assign(everyOption, options);
  // First pass only finds the command; strict parsing would reject flags of the other commands.
  const loose = parseArgs({ args: argv, options: everyOption, allowPositionals: true, strict: false });
  const [name] = loose.positionals;
  if (name === undefined) return { command: 'help', positionals: [], flags: { help: true } };
  if (!isCommandName(name)) throw new UsageError(`unknown command '${name}'`);
  try {
    const commandOptions: OptionSpecs = { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[name] };
    const strict = parseArgs({
      args: argv,
      options: commandOptions,
      allowPositionals: true,
      strict: true,
    });
    return { command: name, positionals: strict.positionals.slice(1), flags: strict.values };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

export function listFlag(flags: FlagValues, name: string): string[] {
  const value = flags[name];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return typeof value === 'string' ? [value] : [];
}

export function parseNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${flag}: '${text}' is not a number`);
  return value;
}

export function parseCount(flag: string, text: string): number {
  const value = parseNumber(flag, text);
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${flag}: '${text}' is not a whole number`);
  return value;
}

/** `3,8` → [3, 8]. */
export function parseCountList(flag: string, text: string): number[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new UsageError(`--${flag}: '${text}' is not a comma-separated list`);
  return items.map((item) => parseCount(flag, item));
}

/**
 * `42,52` lists seeds; a lone number n ≤ 10 means the first n paper seeds (`--seeds 3` →
 * 42, 52, 62). A lone larger number is a single seed.
 */
export function parseSeeds(text: string): number[] {
  const seeds = parseCountList('seeds', text);
  const [only] = seeds;
  if (seeds.length === 1 && only !== undefined && only >= 1 && only <= PAPER_SEEDS.length) return paperSeeds(only);
  return seeds;
}

/** `--label team=nlp --label run=3` → { team: 'nlp', run: '3' }. */
export function parseLabels(flag: string, pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator <= 0) throw new UsageError(`--${flag}: expected key=value, got '${pair}'`);
    labels[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return labels;
}

/** `running` or `JOB_STATE_RUNNING` → JobState.JOB_STATE_RUNNING. */
export function parseJobState(text: string): JobState {
  const upper = text.toUpperCase();
  const state = jobStateFromJSON(upper.startsWith('JOB_STATE_') ? upper : `JOB_STATE_${upper}`);
  if (state === JobState.UNRECOGNIZED || state === JobState.JOB_STATE_UNSPECIFIED) {
    throw new UsageError(`--state: unknown job state '${text}' (queued, running, cancelling, succeeded, failed, cancelled)`);
  }
  return state;
}

export const USAGE = `steadytune — fine-tune classifiers stably with DSGD

Usage: steadytune <command> [flags]

Commands:
  start [flags]            start a fine-tune; prints the job id
      --spec FILE            FineTuneSpec as JSON or YAML (flags below override it)
      --dataset NAME         mnist | fashion-mnist | ds_...  --classes 3,8
      --imbalance K:R[:S]    none | long_tailed:100 | step:10 (ratio R, seed S)
      --method NAME          fft | dsgd | focal | pcgrad | noisytune | lnsr | swa
      --lambda X --schedule linear|cosine|linear_descending|static   (dsgd)
      --gamma X (focal)  --noise X (noisytune, lnsr)  --window N (swa)
      --lr X  --batch-size N  --accumulation N  --epochs N  --hidden 256,128
      --seeds 42,52 | N      explicit seeds, or the first N paper seeds (42, 52, ...)
      --max-examples N  --full-conflict-every K  --ensemble
      --auto-remedy P[:W[:G[:R]]]  remedy collapsed runs: P = restart (next seed) | continue
                             (under dsgd) | default; W steps with gradient norm < G; R remedies
      --ci-width W           the summary says how many seeds bring the 95% interval of mean
                             balanced accuracy to width W, in (0, 1] (default 0.05)
      --label k=v (repeatable)  --display-name NAME  --idempotency-key KEY
      --wait                 block until the job ends, then print its results
      --watch                continue as 'watch'
  watch JOB [--from-sequence N]   live progress, then per-seed results and summary
  jobs [--state S] [--label k=v] [--page-size N] [--page-token T] [--all]
  get JOB                  job details, runs and stability summary
  cancel JOB               ask a job to stop
  eval JOB [--ensemble] [--seed N]   evaluate a finished job's models
  compare --methods fft,dsgd,... [start's spec flags] [--out report.html] [--out figure.svg]
                           one job per method (default: all seven) with the same spec, followed
                           to the end; prints the paper-style table (ACC ± STD, min, max,
                           collapsed, degenerate, step time, peak memory)
      --compare-id ID        follow the jobs of an earlier compare (idempotency keys derive from it)
      --title TEXT           title of the report and figure
  report JOB... [--out report.html] [--out figure.svg] [--title TEXT]   the same for existing jobs
  datasets register --format F --train PATH [--validation PATH]   register files under the
                           server's data root (idx: --train-images P --train-labels P, ...)
      --class-names a,b  --validation-fraction X  --seq-len N  --image-size N  --color
      --display-name NAME
  datasets upload --format F --train FILE|DIR [...]   the same from local files (streamed)
  datasets list [--page-size N] [--page-token T]
  datasets get DATASET
  (start --dataset ds_... trains on a registered dataset; its validation split validates)

Global flags:
  --server HOST:PORT       default $STEADYTUNE_ADDRESS or 127.0.0.1:50051
  --token TOKEN            bearer token; default $STEADYTUNE_TOKEN
  --deadline-ms N          deadline of each call
  --json                   machine-readable output

Exit codes: 0 ok, 1 RPC error, 2 usage error, 3 job ended without succeeding (--wait, watch).
`;
