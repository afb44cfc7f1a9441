// CLI text output: tables, numbers, durations, progress line, ETA, reports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Job, JobState, RunState, Verdict, specDefaults, type EvalMetrics, type StreamMetricsResponse } from '../../client/index.js';
import { fitToWidth, formatDuration, formatNumber, formatPercent, formatStat, progressBar, renderTable } from '../../client/cli/format.js';
import { epochLine, progressLine, ProgressTracker, runFinishedLine } from '../../client/cli/progress.js';
import { describeDataset, describeMethod, evaluationReport, jobResults, jobsTable, summaryLines } from '../../client/cli/reports.js';

function metrics(accuracy: number, verdict = Verdict.VERDICT_OK): EvalMetrics {
  return {
    examples: 100,
    loss: 0.3,
    accuracy,
    balancedAccuracy: accuracy - 0.01,
    macroF1: accuracy - 0.02,
    perClassRecall: [],
    numClasses: 2,
    confusion: [],
    predictionCounts: [],
    representationCosine: 0.25,
    verdict,
  };
}

function step(seed: number, stepNumber: number, totalSteps: number, stepSeconds: number): StreamMetricsResponse {
  return {
    sequence: stepNumber,
    seed,
    time: undefined,
    event: {
      $case: 'step',
      value: {
        step: stepNumber,
        totalSteps,
        epoch: 0,
        loss: 0.5,
        accuracy: 0.75,
        alpha: 0.25,
        correctFraction: 0.75,
        gradientNorm: 1,
        learningRate: 1e-3,
        headConflictCosine: -0.125,
        fullConflict: undefined,
        stepSeconds,
      },
    },
  };
}

describe('format', () => {
  it('renders aligned tables with a rule under the header', () => {
    const table = renderTable(
      ['SEED', 'ACC'],
      [
        ['42', '0.9'],
        ['132', '0.85'],
      ],
      { align: ['right', 'right'] },
    );
    assert.equal(table, ['SEED   ACC', '----  ----', '  42   0.9', ' 132  0.85'].join('\n'));
  });

  it('formats numbers, shares and missing values', () => {
    assert.equal(formatNumber(0.123456), '0.1235');
    assert.equal(formatNumber(undefined), '-');
    assert.equal(formatNumber(Number.NaN), '-');
    assert.equal(formatPercent(0.9123), '91.2%');
    assert.equal(formatStat({ mean: 0.9, std: 0.01, min: 0.88, max: 0.91 }, 2), '0.90 ± 0.01 [0.88, 0.91]');
  });

  it('formats durations from milliseconds to days', () => {
    assert.equal(formatDuration(0.25), '250ms');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(45), '45s');
    assert.equal(formatDuration(192), '3m12s');
    assert.equal(formatDuration(3900), '1h05m');
    assert.equal(formatDuration(2 * 86400 + 3 * 3600), '2d03h');
    assert.equal(formatDuration(undefined), '-');
  });

  it('draws bars and fits lines to the terminal', () => {
    assert.equal(progressBar(0.5, 10), '#####.....');
    assert.equal(progressBar(2, 4), '####');
    assert.equal(fitToWidth('abcdefghij', 6), 'abcd…');
    assert.equal(fitToWidth('abc', 6), 'abc');
  });
});

describe('progress', () => {
  it('estimates the time left for the current and the pending runs', () => {
    const tracker = new ProgressTracker([42, 52], 3);
    assert.equal(tracker.etaSeconds(), undefined);
    tracker.observe(step(42, 25, 100, 0.2));
    // 75 steps left in seed 42 + 100 in seed 52 (assumed same size) at 0.2 s each.
    assert.equal(tracker.etaSeconds(), 35);
    tracker.observe({ sequence: 30, seed: 42, time: undefined, event: { $case: 'runFinished', value: { run: undefined } } });
    assert.equal(tracker.etaSeconds(), 20);
  });

  it('takes seeds, epochs and totals from the job', () => {
    const job = Job.fromPartial({
      spec: { ...specDefaults(), seeds: [1, 2, 3], epochs: 5 },
      runs: [
        { seed: 1, totalSteps: 10 },
        { seed: 2, totalSteps: 10 },
        { seed: 3, totalSteps: 10 },
      ],
    });
    const tracker = ProgressTracker.forJob(job);
    assert.deepEqual(tracker.seeds, [1, 2, 3]);
    assert.equal(tracker.epochs, 5);
    tracker.observe(step(2, 5, 10, 1));
    assert.equal(tracker.etaSeconds(), 25);
    assert.equal(tracker.runNumber(2), 2);
  });

  it('renders the live progress line', () => {
    const tracker = new ProgressTracker([42, 52], 3);
    assert.match(progressLine(tracker), /waiting/);
    tracker.observe(step(42, 50, 100, 0.5));
    const line = progressLine(tracker);
    assert.match(line, /^seed 42 \(1\/2\) \[#{10}\.{10}\] 50\/100 ep 1\/3 /);
    assert.match(line, /loss 0\.5000 acc 0\.7500 α 0\.250 cos -0\.125 ETA 1m15s$/);
    assert.ok(progressLine(tracker, 40).length <= 40);
  });

  it('prints one line per epoch and per finished run', () => {
    const epoch = epochLine(42, { epoch: 1, step: 200, validation: metrics(0.9) }, 3);
    assert.equal(epoch, 'seed 42 epoch 2/3 step 200: val acc 0.9000 bal 0.8900 f1 0.8800 loss 0.3000 verdict ok');
    const finished = runFinishedLine(42, {
      run: {
        seed: 42,
        state: RunState.RUN_STATE_SUCCEEDED,
        steps: 9,
        totalSteps: 9,
        meanStepSeconds: 0,
        metrics: metrics(0.5, Verdict.VERDICT_COLLAPSED),
        error: '',
        duration: undefined,
        peakMemoryBytes: 0,
        phases: [],
      },
    });
    assert.match(finished, /^seed 42: succeeded acc 0\.5000 .* verdict collapsed$/);
  });
});

describe('reports', () => {
  it('describes methods and datasets compactly', () => {
    const spec = specDefaults();
    assert.equal(describeMethod(spec.method), 'dsgd(λ=1, linear)');
    assert.equal(describeMethod({ method: { $case: 'focal', value: { gamma: 2, classWeights: [] } } }), 'focal(γ=2)');
    assert.equal(describeMethod({ method: { $case: 'pcgrad', value: {} } }), 'pcgrad');
    assert.ok(spec.train);
    assert.equal(describeDataset({ ...spec.train, classes: [3, 8] }), 'mnist[3,8]');
  });

  it('summarises stability and per-seed results', () => {
    const job = Job.fromPartial({
      id: 'job-1',
      state: JobState.JOB_STATE_SUCCEEDED,
      runs: [
        {
          seed: 42,
          state: RunState.RUN_STATE_SUCCEEDED,
          steps: 10,
          totalSteps: 10,
          metrics: metrics(0.9),
          duration: { seconds: 75, nanos: 0 },
        },
        { seed: 52, state: RunState.RUN_STATE_SUCCEEDED, steps: 10, totalSteps: 10, metrics: metrics(0.5, Verdict.VERDICT_COLLAPSED) },
      ],
      summary: { runs: 2, accuracy: { mean: 0.7, std: 0.28, min: 0.5, max: 0.9 }, collapsed: 1, degenerate: 0 },
    });
    const text = jobResults(job);
    assert.match(text, /^job job-1 succeeded/);
    assert.match(text, /\n {2}42 {2}succeeded {2}10\/10 {2}0\.9000 +0\.8900 +0\.8800 {2}ok +1m15s\n/);
    assert.match(text, /collapsed/);
    assert.match(summaryLines(job.summary), /runs 2 +collapsed 1 +degenerate 0\naccuracy +0\.7000 ± 0\.2800 \[0\.5000, 0\.9000\]/);
    assert.equal(summaryLines(undefined), 'summary: not available yet');
  });

  it('leads the stability summary with balanced accuracy on an imbalanced validation set', () => {
    const summary = {
      runs: 1,
      accuracy: { mean: 0.96, std: 0, min: 0.96, max: 0.96 },
      balancedAccuracy: { mean: 0.5, std: 0, min: 0.5, max: 0.5 },
      macroF1: undefined,
      collapsed: 1,
      degenerate: 0,
      ensemble: undefined,
    };
    const majorityOnly = { ...metrics(0.96, Verdict.VERDICT_COLLAPSED), confusion: [96, 0, 4, 0] };
    assert.match(
      summaryLines(summary, [majorityOnly]),
      /\nbal acc +0\.5000 ± 0\.0000 \[0\.5000, 0\.5000\] {2}\(headline: imbalanced validation set\)\naccuracy +0\.9600/,
    );
    const balanced = { ...metrics(0.9), confusion: [45, 5, 5, 45] };
    assert.match(summaryLines(summary, [balanced]), /\naccuracy +0\.9600 .*\nbal acc +0\.5000 ± 0\.0000 \[0\.5000, 0\.5000\]\n/);
  });

  it('tables evaluations with the ensemble vote last', () => {
    const text = evaluationReport({
      evaluations: [{ seed: 42, metrics: metrics(0.9) }],
      ensemble: metrics(0.95),
      summary: undefined,
    });
    const lines = text.split('\n');
    assert.match(lines[0], /^SEED +EXAMPLES +LOSS +ACC/);
    assert.match(lines[2], /^ +42 +100 +0\.3000 +0\.9000/);
    assert.match(lines[3], /^vote +100 +0\.3000 +0\.9500/);
  });

  it('lists jobs one per row', () => {
    const jobs = [Job.fromPartial({ id: 'job-a', state: JobState.JOB_STATE_RUNNING, spec: specDefaults(), displayName: 'demo' })];
    const lines = jobsTable(jobs).split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[2], /^job-a +running +dsgd\(λ=1, linear\) +mnist +10 seeds +- +demo$/);
  });
});
