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
  'connect-timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
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
  model: { type: 'string' },
  hidden: { type: 'string' },
  'd-model': { type: 'string' },
  heads: { type: 'string' },
  layers: { type: 'string' },
  'ff-dim': { type: 'string' },
  pooling: { type: 'string' },
  'input-size': { type: 'string' },
  'trainable-blocks': { type: 'string' },
  'trainable-layers': { type: 'string' },
  'train-embedding': { type: 'boolean' },
  'model-path': { type: 'string' },
  'feature-layer': { type: 'string' },
  'full-conflict-every': { type: 'string' },
  ensemble: { type: 'boolean' },
  'auto-remedy': { type: 'string' },
  'max-extra-compute': { type: 'string' },
  'ci-width': { type: 'string' },
  delivery: { type: 'string' },
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
  eval: { ensemble: { type: 'boolean' }, seed: { type: 'string' }, dataset: { type: 'string' }, classes: { type: 'string' } },
  export: { out: { type: 'string' } },
  predict: { model: { type: 'string' }, input: { type: 'string' } },
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
    test: { type: 'string' },
    'test-images': { type: 'string' },
    'test-labels': { type: 'string' },
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

/** `-0.5`, `-3`, `-.5`, `-1e-3`: a value, not a flag. */
const NEGATIVE_NUMBER = /^-(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;

/**
 * `--lambda -0.5` → `--lambda=-0.5`: parseArgs refuses a value that starts with a dash, but
 * no flag looks like a number, so one after a flag that takes a value is that value.
 */
function attachNegativeNumbers(argv: readonly string[], options: OptionSpecs): string[] {
  const result: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      result.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      result.push(`${arg}=${next}`);
      i++;
    } else {
      result.push(arg);
    }
  }
  return result;
}

/** Global flags may come before or after the command; each command accepts only its own flags. */
export function parseCommandLine(argv: string[]): ParsedCommand {
  const everyOption: OptionSpecs = { ...GLOBAL_OPTIONS };
  for (const options of Object.values(COMMAND_OPTIONS)) Object.assign(everyOption, options);
  const args = attachNegativeNumbers(argv, everyOption);
  // First pass only finds the command; strict parsing would reject flags of the other commands.
  const loose = parseArgs({ args, options: everyOption, allowPositionals: true, strict: false });
  const [name] = loose.positionals;
  if (name !== undefined && !isCommandName(name)) throw new UsageError(`unknown command '${name}'`);
  const command = name ?? 'help';
  try {
    const commandOptions: OptionSpecs = { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[command] };
    const strict = parseArgs({
      args,
      options: commandOptions,
      allowPositionals: true,
      strict: true,
    });
    return { command, positionals: strict.positionals.slice(name === undefined ? 0 : 1), flags: strict.values };
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
