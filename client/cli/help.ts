// Usage text: one section per command (`steadytune COMMAND --help`, `steadytune help COMMAND`)
// and the whole page (`steadytune --help`) assembled from the same sections.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandName } from './args.js';

type HelpTopic = Exclude<CommandName, 'help'>;

const SECTIONS: Record<HelpTopic, string> = {
  start: `  start [flags]            start a fine-tune; prints the job id
      --spec FILE            FineTuneSpec as JSON or YAML (flags below override it)
      --dataset NAME         mnist | fashion-mnist | ds_...  --classes 3,8
      --imbalance K:R[:S]    none | long_tailed:100 | step:10 (ratio R, seed S)
      --method NAME          fft | dsgd | focal | pcgrad | noisytune | lnsr | swa
      --lambda X --schedule linear|cosine|linear_descending|static   (dsgd)
      --gamma X (focal)  --noise X (noisytune, lnsr)  --window N (swa)
      --lr X  --batch-size N  --accumulation N  --epochs N
      --model NAME           mlp (default) | transformer | glove_bag | mobilenet_v2 |
                             layers_model | hf_encoder, with its sizes:
        --hidden 256,128     mlp layers, or the head's hidden layers (glove_bag,
                             mobilenet_v2, layers_model); alone it means an mlp
        --d-model N --heads N --layers N --ff-dim N   (transformer; d-model a multiple of heads)
        --pooling cls|mean   (transformer, hf_encoder)
        --input-size N       (mobilenet_v2: 32..224, a multiple of 32)
        --trainable-blocks N (mobilenet_v2: 0 frozen .. 4)
        --train-embedding    (glove_bag, hf_encoder)  --trainable-layers N (hf_encoder)
        --model-path PATH    under the server data root (layers_model, hf_encoder: required)
        --feature-layer NAME (layers_model)
      --seeds 42,52 | N      explicit seeds, or the first N paper seeds (42, 52, ...)
      --max-examples N  --full-conflict-every K  --ensemble
      --auto-remedy P[:W[:G[:R]]]  remedy collapsed runs: P = restart (next seed) | continue
                             (under dsgd) | escalate (new seed, then focal on imbalanced data,
                             within a compute budget) | default; W steps with gradient norm
                             < G; R remedies per run
      --max-extra-compute X  escalate's budget: extra steps as a fraction of the plain run
                             (default 0.5)
      --ci-width W           the summary says how many seeds bring the 95% interval of mean
                             balanced accuracy to width W, in (0, 1] (default 0.05)
      --delivery D           the model the job delivers, from its healthy seeds only:
                             ensemble (their vote; default) | best (best on validation) | all
      --label k=v (repeatable)  --display-name NAME  --idempotency-key KEY
      --wait                 block until the job ends, then print its results
      --watch                continue as 'watch'
      Numbers may be negative: --lambda -0.5 (the server judges whether the value is valid).`,
  watch: `  watch JOB [--from-sequence N]   live progress, then per-seed results and summary`,
  jobs: `  jobs [--state S] [--label k=v] [--page-size N] [--page-token T] [--all]`,
  get: `  get JOB                  job details, runs, stability summary and the delivered model`,
  cancel: `  cancel JOB               ask a job to stop`,
  eval: `  eval JOB [--ensemble] [--seed N] [--dataset NAME[:SPLIT]] [--classes 3,8]
                           evaluate a finished job's models (every seed and the delivered one)
                           on its validation split or any dataset: mnist:train, ds_...:test`,
  export: `  export JOB --out DIR     write a SUCCEEDED job's model bundle (safetensors weights, model.json,
                           run-card.json; docs/MODEL-BUNDLE.md), each file checked by sha256`,
  predict: `  predict --model DIR --input FILE.jsonl
                           offline, no server: run an exported MLP bundle (each file checked by
                           sha256) on dataset JSONL rows ({"features": [...]}, label optional);
                           one JSON line per example: label, labelName, probabilities (vote
                           shares for an ensemble bundle, as Predict gives them)`,
  compare: `  compare --methods fft,dsgd,... [start's spec flags] [--out report.html] [--out figure.svg]
                           one job per method (default: all seven) with the same spec, followed
                           to the end; prints the paper-style table (ACC ± STD, min, max,
                           collapsed, degenerate, step time, peak memory)
      --compare-id ID        follow the jobs of an earlier compare (idempotency keys derive from it)
      --title TEXT           title of the report and figure`,
  report: `  report JOB... [--out report.html] [--out figure.svg] [--title TEXT]   the same for existing jobs`,
  datasets: `  datasets register --format F --train PATH [--validation PATH] [--test PATH]   register files
                           under the server's data root (idx: --train-images P --train-labels P,
                           ...); a test split is only ever reported on, never trained or chosen on
      --class-names a,b  --validation-fraction X  --seq-len N  --image-size N  --color
      --display-name NAME
  datasets upload --format F --train FILE|DIR [...]   the same from local files (streamed)
  datasets list [--page-size N] [--page-token T]
  datasets get DATASET
  (start --dataset ds_... trains on a registered dataset; its validation split validates, its
   test split, if any, is reported for each seed and the delivered model)`,
};

const GLOBAL_FLAGS = `Global flags:
  --server HOST:PORT       default $STEADYTUNE_ADDRESS or 127.0.0.1:50051
  --token TOKEN            bearer token; default $STEADYTUNE_TOKEN
  --deadline-ms N          deadline of each call
  --connect-timeout-ms N   give up on a server that cannot be reached after N ms (default 3000)
  --json                   machine-readable output
  -h, --help               this text; 'steadytune COMMAND --help' for one command
  --version                the CLI's version`;

const EXIT_CODES = `Exit codes: 0 ok, 1 RPC error, 2 usage error, 3 job ended without succeeding or delivers no
model: no seed is healthy (--wait, watch).`;

export const USAGE = `steadytune — fine-tune classifiers stably with DSGD

Usage: steadytune <command> [flags]

Commands:
${Object.values(SECTIONS).join('\n')}

${GLOBAL_FLAGS}

${EXIT_CODES}
`;

export function isHelpTopic(name: string): name is HelpTopic {
  return Object.hasOwn(SECTIONS, name);
}

/** One command's section with the global flags; the whole page for `help` itself. */
export function helpText(command: CommandName): string {
  if (command === 'help') return USAGE;
  return `Usage: steadytune ${command} [flags]

${SECTIONS[command]}

${GLOBAL_FLAGS}

${EXIT_CODES}
`;
}

let version: string | undefined;

/** The version of the package this CLI ships in: the nearest package.json above this file. */
export function cliVersion(): string {
  if (version !== undefined) return version;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    try {
      const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
        version = parsed.version;
        return version;
      }
    } catch {
      // No package.json here (or not a readable one): look further up.
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
