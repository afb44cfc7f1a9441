// The "Auto-remedy" section of bench/STABILITY.md, computed from the benchmark's jobs.
import { AutoRemedy_Policy, PAPER_SEEDS, Verdict, type Job, type SeedRun } from '../../client/index.js';
import { DEFAULT_REMEDY } from '../../server/jobs/remedy-policy.js';
import { COLLAPSE_DETECTION } from './collapsing-spec.js';

export interface Arm {
  readonly name: string;
  readonly policy?: AutoRemedy_Policy;
}

export interface ArmResult {
  readonly arm: Arm;
  readonly job: Job;
  readonly wallSeconds: number;
}

export interface ArmSummary {
  readonly result: ArmResult;
  readonly ok: number;
  readonly collapsed: number;
  readonly degenerate: number;
  readonly accuracy: string;
  readonly balancedAccuracy: string;
  readonly remediedRuns: number;
  readonly remedies: number;
  /** Seeds that failed without a remedy and end ok with this arm. */
  readonly recovered: number[];
  /** Seeds that ended ok without a remedy and do not with this arm. */
  readonly broken: number[];
  /** Remedied seeds whose run would have ended ok on its own. */
  readonly premature: number[];
  /** Seeds that ended failed with remedies left: the last collapse came too late to fill the window. */
  readonly tooLate: number[];
  readonly stepsTrained: number;
}

const HEADING = '## Auto-remedy';

const isOk = (run: SeedRun | undefined): boolean => run?.metrics?.verdict === Verdict.VERDICT_OK;

function meanStd(values: readonly number[]): string {
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1));
  return `${(mean * 100).toFixed(2)} ± ${(std * 100).toFixed(2)}`;
}

export function summarizeArm(result: ArmResult, baseline: ArmResult): ArmSummary {
  const { runs } = result.job;
  const metrics = runs.flatMap((run) => (run.metrics === undefined ? [] : [run.metrics]));
  const before = (seed: number): SeedRun | undefined => baseline.job.runs.find((run) => run.seed === seed);
  const remedied = runs.filter((run) => run.phases.length > 1);
  return {
    result,
    ok: metrics.filter((m) => m.verdict === Verdict.VERDICT_OK).length,
    collapsed: metrics.filter((m) => m.verdict === Verdict.VERDICT_COLLAPSED).length,
    degenerate: metrics.filter((m) => m.verdict === Verdict.VERDICT_DEGENERATE).length,
    accuracy: meanStd(metrics.map((m) => m.accuracy)),
    balancedAccuracy: meanStd(metrics.map((m) => m.balancedAccuracy)),
    remediedRuns: remedied.length,
    remedies: runs.reduce((sum, run) => sum + Math.max(0, run.phases.length - 1), 0),
    recovered: runs.filter((run) => isOk(run) && !isOk(before(run.seed))).map((run) => run.seed),
    broken: runs.filter((run) => !isOk(run) && isOk(before(run.seed))).map((run) => run.seed),
    premature: remedied.filter((run) => isOk(before(run.seed))).map((run) => run.seed),
    tooLate:
      result.arm.policy === undefined
        ? []
        : runs
            .filter((run) => !isOk(run) && run.phases.length - 1 < COLLAPSE_DETECTION.maxRestarts && lastPhaseCouldRemedy(run))
            .map((run) => run.seed),
    stepsTrained: runs.reduce((sum, run) => sum + run.phases.reduce((steps, phase) => steps + phase.endStep - phase.startStep, 0), 0),
  };
}

/** A DSGD phase after CONTINUE_UNDER_DSGD is left as it is by design; any other last phase could have been remedied. */
function lastPhaseCouldRemedy(run: SeedRun): boolean {
  return run.phases.length <= 1 || run.phases.at(-1)?.method?.method?.$case !== 'dsgd';
}

const VERDICT_WORDS: Readonly<Record<number, string>> = {
  [Verdict.VERDICT_OK]: 'ok',
  [Verdict.VERDICT_COLLAPSED]: 'collapsed',
  [Verdict.VERDICT_DEGENERATE]: 'degenerate',
};

/** `ok 86.50` with its phases: `fft@112 0–29 ✗ → fft@1112 0–30`. */
function runCell(run: SeedRun | undefined): string {
  if (run?.metrics === undefined) return '-';
  const outcome = `${VERDICT_WORDS[run.metrics.verdict] ?? '?'} ${(run.metrics.accuracy * 100).toFixed(2)}`;
  if (run.phases.length <= 1) return outcome;
  const path = run.phases
    .map((phase) => `${phase.method?.method?.$case ?? '?'}@${phase.seed} ${phase.startStep}–${phase.endStep}`)
    .join(' → ');
  return `${outcome} (${path})`;
}

function policyName(policy: AutoRemedy_Policy | undefined): string {
  if (policy === AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED) return 'restart_next_seed';
  return policy === AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD ? 'continue_under_dsgd' : 'none';
}

export function autoRemedySection(input: {
  readonly summaries: readonly ArmSummary[];
  readonly environment: readonly string[];
  readonly minutes: number;
  readonly generated: Date;
}): string {
  const { summaries } = input;
  const [baseline, ...policies] = summaries;
  if (baseline === undefined) throw new Error('no arms');
  const failedBefore = baseline.result.job.runs.filter((run) => !isOk(run)).length;
  const ranked = [...policies].sort((a, b) => b.recovered.length - a.recovered.length || a.broken.length - b.broken.length);
  const [best, second] = ranked;
  const tie =
    best !== undefined &&
    second !== undefined &&
    best.recovered.length === second.recovered.length &&
    best.broken.length === second.broken.length;
  const defaultPolicy = DEFAULT_REMEDY.policy;
  const bestPolicy = policyName(best?.result.arm.policy);
  const lines = [
    HEADING,
    '',
    `Reproduce: \`npm run bench:auto-remedy\` (= \`node --import tsx bench/auto-remedy/run.ts\`). Generated ${input.generated.toISOString().slice(0, 16).replace('T', ' ')} UTC in ${input.minutes.toFixed(1)} min; per-run results in [auto-remedy-runs.json](auto-remedy-runs.json).`,
    '',
    ...input.environment.map((line) => `- ${line}`),
    '',
    '### Protocol',
    '',
    "- Spec (bench/auto-remedy/collapsing-spec.ts, also the integration test's): MNIST digits 3 vs 8 (400 training, 200 validation examples), MLP 784-32-2, FFT, full-batch SGD at learning rate 5 with 10% warmup, linear decay and gradient-norm clip 1, 30 epochs of one step each. Full batch, so a collapsed run's gradient is not held up by mini-batch noise: it falls to ~0.",
    `- Collapse (remedy-policy.ts): the engine's verdict at an epoch-end validation is collapsed (one class takes ≥ 95% of the predictions) AND the gradient norm stayed below ${COLLAPSE_DETECTION.minGradientNorm} for ${COLLAPSE_DETECTION.windowSteps} consecutive steps; at most ${COLLAPSE_DETECTION.maxRestarts} remedies per run.`,
    '- RESTART_NEXT_SEED: start over under seed + 1000 k (k = 1, 2, ...), same method. CONTINUE_UNDER_DSGD: go back to the newest checkpoint taken while the run was healthy (no collapsed verdict, gradient not below the minimum; checkpoints every window of steps) and continue under DSGD (λ 1, linear) to the planned end; a DSGD run that collapses again is left as it is.',
    `- Seeds: the paper's ten (${PAPER_SEEDS.join(', ')}); one job per arm, ten runs on ${2} worker threads, arms one after another. Verdicts and accuracy are those of each run's final model (its last phase) on the validation set.`,
    '',
    '### Results',
    '',
    `| arm | ok | collapsed | degenerate | acc % (mean ± std) | bal. acc % | runs remedied | remedies | recovered (of ${failedBefore} failed without) | broken | remedied though it would have recovered | steps trained | wall s |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...summaries.map((s, index) => {
      const seeds = (list: readonly number[]): string => (list.length === 0 ? '0' : `${list.length} (${list.join(', ')})`);
      const vsBaseline = index === 0 ? ['-', '-', '-'] : [seeds(s.recovered), seeds(s.broken), seeds(s.premature)];
      return `| ${s.result.arm.name} | ${s.ok} | ${s.collapsed} | ${s.degenerate} | ${s.accuracy} | ${s.balancedAccuracy} | ${s.remediedRuns} | ${s.remedies} | ${vsBaseline.join(' | ')} | ${s.stepsTrained} | ${s.result.wallSeconds.toFixed(1)} |`;
    }),
    '',
    `| seed | ${summaries.map((s) => s.result.arm.name).join(' | ')} |`,
    `| --- | ${summaries.map(() => '---').join(' | ')} |`,
    ...PAPER_SEEDS.map(
      (seed) => `| ${seed} | ${summaries.map((s) => runCell(s.result.job.runs.find((run) => run.seed === seed))).join(' | ')} |`,
    ),
    '',
    '### Findings',
    '',
    best === undefined
      ? '- No policy arm ran.'
      : tie
        ? `- The policies tied: each recovered ${best.recovered.length} of the ${failedBefore} runs that failed without a remedy.`
        : `- ${best.result.arm.name} recovered more runs: ${best.recovered.length} of the ${failedBefore} that failed without a remedy, against ${second?.recovered.length ?? 0} for ${second?.result.arm.name ?? '-'}; it broke ${best.broken.length} run(s) that were fine without a remedy, ${second?.result.arm.name ?? '-'} ${second?.broken.length ?? 0}.`,
    ...policies.map(
      (s) =>
        `- ${s.result.arm.name}: ${s.remedies} remedies over ${s.remediedRuns} runs, ${s.stepsTrained} optimizer steps in all (${(s.stepsTrained / Math.max(1, baseline.stepsTrained)).toFixed(2)}× the steps without a remedy); ${s.premature.length} remedied run(s) would have ended ok on their own (a transient collapse that passed the detector); ${s.tooLate.length} run(s) ended failed with remedies to spare${s.tooLate.length === 0 ? '' : ` (${s.tooLate.join(', ')}): their last phase collapsed too close to the planned end to fill the window`}.`,
    ),
    '- Scope: one spec, ten seeds, a toy model: the counts say which policy helped here, not in general. After a CONTINUE_UNDER_DSGD remedy the run resumes at the point of the learning-rate schedule where FFT collapsed, while a new seed starts over with the warm-up: a likely reason for the gap, not one this benchmark isolates.',
    `- Default: an AutoRemedy without a policy uses ${defaultPolicy} (server/jobs/remedy-policy.ts DEFAULT_REMEDY)${tie || bestPolicy === defaultPolicy ? ', the policy that recovered more runs here.' : `. **This run favoured ${bestPolicy}: reconsider the default.**`}`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** A regenerated report (bench/stability) keeps the "Auto-remedy" section of the one it replaces. */
export function keepSection(regenerated: string, previous: string): string {
  const at = previous.indexOf(`\n${HEADING}\n`);
  return at < 0 ? regenerated : replaceSection(regenerated, previous.slice(at + 1));
}

/** The report with its "Auto-remedy" section (the file's last) replaced, or appended when absent. */
export function replaceSection(report: string, section: string): string {
  const at = report.indexOf(`\n${HEADING}\n`);
  const kept = at < 0 ? report.trimEnd() : report.slice(0, at).trimEnd();
  return `${kept}\n\n${section}`;
}
