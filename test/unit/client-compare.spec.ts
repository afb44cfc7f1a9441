// `steadytune compare` / `report`: the comparison table's formatting, the HTML report, the
// flag handling, and the whole command against a scripted fake trainer.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoRemedy_Policy, Job, JobState, RunState, Verdict, type SeedRun } from '../../client/index.js';
import type { StartFineTuneRequest } from '../../client/gen/steadytune/v1/trainer.js';
import { parseCommandLine, UsageError } from '../../client/cli/args.js';
import { methodSpecs, outputTargets, parseMethods } from '../../client/cli/compare.js';
import { comparisonRow, comparisonTable, figureRows, formatBytes, labelJobs, percentStat } from '../../client/cli/comparison.js';
import { renderHtmlReport } from '../../client/cli/html-report.js';
import { remedyPhaseLines } from '../../client/cli/reports.js';
import { runCli } from '../../client/cli/run.js';
import { parseAutoRemedy, withMaxExtraCompute } from '../../client/cli/spec-flags.js';
import { startFakeTrainer, type FakeTrainer } from '../fixtures/client-fake-trainer.js';

function run(seed: number, accuracy: number, verdict: Verdict, extra: Partial<SeedRun> = {}): Partial<SeedRun> {
  return {
    seed,
    state: RunState.RUN_STATE_SUCCEEDED,
    meanStepSeconds: 0.01,
    peakMemoryBytes: 3 * 1024 * 1024,
    metrics: {
      examples: 100,
      loss: 0,
      accuracy,
      balancedAccuracy: accuracy - 0.01,
      macroF1: 0,
      perClassRecall: [],
      numClasses: 2,
      confusion: [],
      predictionCounts: [],
      representationCosine: 0,
      verdict,
    },
    ...extra,
  };
}

/** Two hand-made jobs: fft with one collapsed run (and one remedied), dsgd with a vote. */
function jobs(): Job[] {
  const remedied = {
    phases: [
      {
        seed: 62,
        method: { method: { $case: 'fft' as const, value: {} } },
        startStep: 0,
        endStep: 8,
        verdict: Verdict.VERDICT_COLLAPSED,
        reason: 'collapsed at step 8',
      },
      {
        seed: 1062,
        method: { method: { $case: 'fft' as const, value: {} } },
        startStep: 0,
        endStep: 20,
        verdict: Verdict.VERDICT_OK,
        reason: '',
      },
    ],
  };
  return [
    Job.fromPartial({
      id: 'job-fft',
      state: JobState.JOB_STATE_SUCCEEDED,
      spec: { method: { method: { $case: 'fft', value: {} } }, seeds: [42, 52, 62] },
      runs: [
        run(42, 0.8, Verdict.VERDICT_OK),
        run(52, 0.5, Verdict.VERDICT_COLLAPSED, { meanStepSeconds: 0.02 }),
        run(62, 0.9, Verdict.VERDICT_OK, remedied),
      ],
      summary: {
        runs: 3,
        accuracy: { mean: 0.7333333, std: 0.2081666, min: 0.5, max: 0.9 },
        balancedAccuracy: { mean: 0.7233333, std: 0.2081666, min: 0.49, max: 0.89 },
      },
    }),
    Job.fromPartial({
      id: 'job-dsgd',
      state: JobState.JOB_STATE_SUCCEEDED,
      spec: { method: { method: { $case: 'dsgd', value: { lambda: 1 } } }, seeds: [42, 52, 62] },
      runs: [
        run(42, 0.85, Verdict.VERDICT_OK),
        run(52, 0.84, Verdict.VERDICT_DEGENERATE, { peakMemoryBytes: 1536 }),
        run(62, 0.86, Verdict.VERDICT_OK),
      ],
      summary: {
        runs: 3,
        accuracy: { mean: 0.85, std: 0.01, min: 0.84, max: 0.86 },
        balancedAccuracy: { mean: 0.84, std: 0.01, min: 0.83, max: 0.85 },
        ensemble: { accuracy: 0.87, balancedAccuracy: 0.865 },
      },
    }),
  ];
}

describe('comparison table', () => {
  it('prints the paper-style table: ACC ± STD, balanced accuracy, min, max, failures, cost', () => {
    const rows = labelJobs(jobs()).map(comparisonRow);
    assert.equal(
      comparisonTable(rows),
      [
        'METHOD               RUNS  ACC % (mean ± std)  BAL ACC % (mean ± std)  MIN %  MAX %  COLLAPSED  DEGENERATE  STEP TIME  PEAK MEMORY',
        '-------------------  ----  ------------------  ----------------------  -----  -----  ---------  ----------  ---------  -----------',
        'fft                     3       73.33 ± 20.82           72.33 ± 20.82  50.00  90.00          1           0    13.3 ms     3.00 MiB',
        'dsgd(λ=1)               3        85.00 ± 1.00            84.00 ± 1.00  84.00  86.00          0           1    10.0 ms     3.00 MiB',
        'dsgd(λ=1) vote of 3                     87.00                   86.50',
        '',
        'runs auto-remedy intervened in: fft 1',
      ].join('\n'),
    );
  });

  it('leads with balanced accuracy, min and max included, when the validation set is imbalanced', () => {
    // A 96:4 validation set: the majority-only run scores 96% accuracy and 50% balanced.
    const on96to4 = (seed: number, confusion: number[], accuracy: number, balancedAccuracy: number, verdict: Verdict): Partial<SeedRun> => {
      const base = run(seed, accuracy, verdict);
      return base.metrics === undefined ? base : { ...base, metrics: { ...base.metrics, balancedAccuracy, confusion } };
    };
    const job = Job.fromPartial({
      id: 'job-focal',
      state: JobState.JOB_STATE_SUCCEEDED,
      spec: { method: { method: { $case: 'focal', value: {} } }, seeds: [42, 52] },
      runs: [on96to4(42, [96, 0, 4, 0], 0.96, 0.5, Verdict.VERDICT_COLLAPSED), on96to4(52, [94, 2, 1, 3], 0.97, 0.865, Verdict.VERDICT_OK)],
    });
    const rows = labelJobs([job]).map(comparisonRow);
    assert.equal(rows[0]?.headline, 'balancedAccuracy');
    assert.equal(
      comparisonTable(rows),
      [
        'METHOD  RUNS  BAL ACC % (mean ± std)  ACC % (mean ± std)  BAL MIN %  BAL MAX %  COLLAPSED  DEGENERATE  STEP TIME  PEAK MEMORY',
        '------  ----  ----------------------  ------------------  ---------  ---------  ---------  ----------  ---------  -----------',
        'focal      2           68.25 ± 25.81        96.50 ± 0.71      50.00      86.50          1           0    10.0 ms     3.00 MiB',
        '',
        'balanced accuracy leads (mean, min, max): the validation set is imbalanced (largest class ≥ 1.5× the smallest)',
      ].join('\n'),
    );
    const html = renderHtmlReport({ title: 't', generatedAt: new Date(0), rows, jobs: labelJobs([job]), figureSvg: '<svg/>' });
    assert.match(html, /<th>BAL ACC % \(mean ± std\)<\/th><th>ACC % \(mean ± std\)<\/th><th>BAL MIN %<\/th>/);
    assert.match(html, /balanced accuracy leads/);
  });

  it('formats shares, spreads and sizes', () => {
    assert.equal(percentStat({ mean: 0.85781, std: 0.01424, min: 0, max: 1 }), '85.78 ± 1.42');
    assert.equal(percentStat(undefined), '-');
    assert.deepEqual(
      [formatBytes(512), formatBytes(1536), formatBytes(250 * 1024 * 1024), formatBytes(0)],
      ['512 B', '1.50 KiB', '250.0 MiB', '-'],
    );
  });

  it('computes a row from the runs when the job has no summary yet', () => {
    const [fft] = jobs();
    assert.ok(fft);
    const row = comparisonRow({ label: 'fft', job: { ...fft, summary: undefined } });
    assert.ok(Math.abs((row.accuracy?.mean ?? 0) - 0.7333333333) < 1e-9);
    assert.ok(Math.abs((row.accuracy?.std ?? 0) - 0.2081665999) < 1e-9);
    assert.deepEqual([row.runs, row.collapsed, row.remedied, row.peakMemoryBytes], [3, 1, 1, 3 * 1024 * 1024]);
  });

  it('labels jobs by method, telling apart two jobs of the same method', () => {
    const [fft] = jobs();
    assert.ok(fft);
    const labels = labelJobs([fft, { ...fft, id: 'job-fft-2' }, ...jobs().slice(1)]).map((j) => j.label);
    assert.deepEqual(labels, ['fft [job-fft]', 'fft [job-fft-]', 'dsgd(λ=1)']);
    assert.deepEqual(
      figureRows(labelJobs(jobs())).map((r) => `${r.method}/${r.seed}/${r.verdict}`),
      ['fft/42/ok', 'fft/52/collapsed', 'fft/62/ok', 'dsgd(λ=1)/42/ok', 'dsgd(λ=1)/52/degenerate', 'dsgd(λ=1)/62/ok'],
    );
  });
});

describe('phases in get/watch output', () => {
  it('lists the phases of remedied runs only', () => {
    const [fft, dsgd] = jobs();
    assert.equal(remedyPhaseLines(dsgd?.runs ?? []), undefined);
    assert.equal(remedyPhaseLines(fft?.runs ?? []), 'auto-remedy phases\n  seed 62: fft@62 steps 0-8 collapsed -> fft@1062 steps 0-20 ok');
  });
});

describe('HTML report', () => {
  it('is one self-contained page: table, inline figure, every run with its phases', () => {
    const compared = labelJobs(jobs());
    const html = renderHtmlReport({
      title: 'A <b>title</b>',
      generatedAt: new Date(2026, 0, 2, 3, 4, 5),
      rows: compared.map(comparisonRow),
      jobs: compared,
      figureSvg: '<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>\n',
    });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<title>A &lt;b&gt;title&lt;\/b&gt;<\/title>/);
    assert.match(html, /<figure><svg xmlns=/);
    assert.match(html, /<td class="num bad">1<\/td>/, 'collapsed counts stand out');
    assert.match(html, /fft seed 62, steps 0–8: collapsed → fft seed 1062, steps 0–20: ok/);
    assert.match(html, /<tr class="vote"><td>dsgd\(λ=1\) vote of 3<\/td>/);
    assert.doesNotMatch(html, /<script|<link|src="http|href="http/);
  });
});

describe('compare flags', () => {
  const flags = (...argv: string[]) => parseCommandLine(['compare', ...argv]).flags;

  it("takes start's spec flags, and gives each method the parameters that are its own", () => {
    const specs = methodSpecs(
      flags('--dataset', 'mnist', '--epochs', '2', '--lambda', '0.5', '--gamma', '3', '--seeds', '3'),
      parseMethods('fft,dsgd,focal'),
    );
    assert.deepEqual([...specs.keys()], ['fft', 'dsgd', 'focal']);
    assert.deepEqual(specs.get('fft')?.method?.method, { $case: 'fft', value: {} });
    assert.deepEqual(specs.get('dsgd')?.method?.method, { $case: 'dsgd', value: { lambda: 0.5, schedule: 1 } });
    assert.deepEqual(specs.get('focal')?.method?.method, { $case: 'focal', value: { gamma: 3, classWeights: [] } });
    for (const spec of specs.values()) assert.deepEqual([spec.epochs, spec.seeds], [2, [42, 52, 62]]);
    assert.throws(
      () => methodSpecs(flags('--window', '3'), parseMethods('fft,dsgd')),
      /--window applies to swa, and --methods lists neither/,
    );
  });

  it('defaults to all seven methods and rejects unknown or repeated ones, and --method', () => {
    assert.deepEqual(parseMethods(undefined), ['fft', 'dsgd', 'focal', 'pcgrad', 'noisytune', 'lnsr', 'swa']);
    assert.throws(() => parseMethods('fft,adam'), UsageError);
    assert.throws(() => parseMethods('fft,fft'), /twice/);
    assert.throws(() => parseCommandLine(['compare', '--method', 'fft']), UsageError);
  });

  it('writes .html reports and .svg figures, nothing else', () => {
    assert.deepEqual(outputTargets(flags('--out', 'r.html', '--out', 'f.SVG')), [
      { file: 'r.html', kind: 'html' },
      { file: 'f.SVG', kind: 'svg' },
    ]);
    assert.throws(() => outputTargets(flags('--out', 'r.pdf')), /must end in .html/);
  });

  it('reads --auto-remedy POLICY[:WINDOW[:MIN_GRADIENT_NORM[:MAX_RESTARTS]]]', () => {
    // The escalating policy's limits stay at the server's defaults (0) unless --max-extra-compute says otherwise.
    const unset = { maxExtraCompute: 0, escalateAfterRunFailures: 0, escalateAfterFailedSeeds: 0 };
    assert.deepEqual(parseAutoRemedy('restart'), {
      policy: AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED,
      windowSteps: 0,
      minGradientNorm: 0,
      maxRestarts: 0,
      ...unset,
    });
    assert.deepEqual(parseAutoRemedy('continue:4:0.02:3'), {
      policy: AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD,
      windowSteps: 4,
      minGradientNorm: 0.02,
      maxRestarts: 3,
      ...unset,
    });
    assert.equal(parseAutoRemedy('default').policy, AutoRemedy_Policy.POLICY_UNSPECIFIED);
    assert.throws(() => parseAutoRemedy('sometimes'), UsageError);
  });

  it('reads --auto-remedy escalate and its budget --max-extra-compute', () => {
    assert.equal(parseAutoRemedy('escalate').policy, AutoRemedy_Policy.POLICY_ESCALATE);
    assert.equal(withMaxExtraCompute(parseAutoRemedy('escalate'), '0.25').maxExtraCompute, 0.25);
    assert.throws(() => withMaxExtraCompute(undefined, '0.25'), /give --auto-remedy escalate/);
    assert.throws(() => withMaxExtraCompute(parseAutoRemedy('escalate'), 'lots'), UsageError);
  });
});

describe('compare and report against a fake trainer', () => {
  const open: FakeTrainer[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const trainer of open) await trainer.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('starts one idempotent job per method, follows them, prints the table and writes the report', async () => {
    const received: StartFineTuneRequest[] = [];
    const finished = new Map(jobs().map((job) => [job.id, job]));
    const trainer = await startFakeTrainer({
      startFineTune: (call, callback) => {
        received.push(call.request);
        const method = call.request.spec?.method?.method?.$case ?? '';
        callback(null, { job: Job.fromPartial({ id: `job-${method}`, state: JobState.JOB_STATE_QUEUED }), created: true });
      },
      streamMetrics: (call) => call.end(),
      getJob: (call, callback) => callback(null, { job: finished.get(call.request.jobId) }),
    });
    open.push(trainer);
    const dir = await mkdtemp(path.join(tmpdir(), 'steadytune-compare-'));
    dirs.push(dir);
    const output = { stdout: '', stderr: '' };
    const io = { stdout: { write: (t: string) => (output.stdout += t) }, stderr: { write: (t: string) => (output.stderr += t) } };
    const report = path.join(dir, 'report.html');
    const code = await runCli(
      [
        '--server',
        trainer.address,
        'compare',
        '--methods',
        'fft,dsgd',
        '--seeds',
        '3',
        '--compare-id',
        'c1',
        '--out',
        report,
        '--out',
        path.join(dir, 'f.svg'),
      ],
      {},
      io,
    );
    assert.equal(code, 0, output.stderr);
    assert.deepEqual(
      received.map((r) => [r.idempotencyKey, r.labels['compare'], r.labels['method'], r.spec?.seeds]),
      [
        ['compare-c1-fft', 'c1', 'fft', [42, 52, 62]],
        ['compare-c1-dsgd', 'c1', 'dsgd', [42, 52, 62]],
      ],
    );
    assert.match(output.stdout, /^METHOD +RUNS +ACC % \(mean ± std\)/);
    assert.match(output.stdout, /\nfft +3 +73\.33 ± 20\.82 /);
    assert.match(output.stderr, /compare c1: 2 jobs/);
    assert.match(await readFile(report, 'utf8'), /<h2>Methods over seeds<\/h2>/);
    assert.match(await readFile(path.join(dir, 'f.svg'), 'utf8'), /^<svg /);
  });

  it('reports existing jobs, and refuses an output it cannot write before calling the server', async () => {
    const finished = new Map(jobs().map((job) => [job.id, job]));
    const trainer = await startFakeTrainer({ getJob: (call, callback) => callback(null, { job: finished.get(call.request.jobId) }) });
    open.push(trainer);
    const output = { stdout: '', stderr: '' };
    const io = { stdout: { write: (t: string) => (output.stdout += t) }, stderr: { write: (t: string) => (output.stderr += t) } };
    assert.equal(await runCli(['--server', trainer.address, 'report', 'job-fft', 'job-dsgd'], {}, io), 0);
    assert.match(output.stdout, /\ndsgd\(λ=1\) vote of 3 +87\.00 +86\.50\n/);
    assert.equal(await runCli(['--server', trainer.address, 'report', 'job-fft', '--out', 'x.txt'], {}, io), 2);
    assert.equal(trainer.calls.getJob, 2);
  });
});
