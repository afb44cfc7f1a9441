// The stability statement with its uncertainty as the CLI and the HTML report print it:
// `get` (jobDetail), the end of `watch` (jobResults), `compare` (table notes), the report's
// section, and the --ci-width flag.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Job, JobState, RunState, Verdict, type StabilityUncertainty } from '../../client/index.js';
import { parseCommandLine, UsageError } from '../../client/cli/args.js';
import { comparisonRow, comparisonTable, labelJobs } from '../../client/cli/comparison.js';
import { renderHtmlReport } from '../../client/cli/html-report.js';
import { jobDetail, jobResults, summaryLines } from '../../client/cli/reports.js';
import { specFromFlags } from '../../client/cli/spec-flags.js';
import { failureStatement, seedsNeeded, upperPercent } from '../../client/cli/uncertainty.js';

/** What the server sends for 10 seeds, none failed (1 - 0.05^(1/10) = 0.2589). */
const tenSeeds: StabilityUncertainty = {
  confidence: 0.95,
  failed: 0,
  failureRateUpper: 0.2588655508930522,
  balancedAccuracyMean: { low: 0.8012, high: 0.8245 },
  balancedAccuracyStd: { low: 0.012, high: 0.029 },
  bootstrapResamples: 10000,
  bootstrapSeed: 1592598564,
  // Balanced accuracy std 0.02 over 10 seeds, --ci-width 0.02: the mean's t interval needs 18
  // seeds (2 × 2.110 × 0.02 / sqrt(18) = 0.0199), the std's 9 (1.96 × 0.02 × sqrt(2 / 8) = 0.0196).
  requestedWidth: 0.02,
  seedsForMeanWidth: 18,
  seedsForStdWidth: 9,
};

function job(uncertainty: StabilityUncertainty | undefined, runs = 10): Job {
  return Job.fromPartial({
    id: 'job-u',
    state: JobState.JOB_STATE_SUCCEEDED,
    spec: { method: { method: { $case: 'fft', value: {} } }, seeds: Array.from({ length: runs }, (_, i) => 42 + 10 * i) },
    runs: Array.from({ length: runs }, (_, i) => ({
      seed: 42 + 10 * i,
      state: RunState.RUN_STATE_SUCCEEDED,
      metrics: { accuracy: 0.81, balancedAccuracy: 0.81, numClasses: 2, verdict: Verdict.VERDICT_OK },
    })),
    summary: {
      runs,
      accuracy: { mean: 0.81, std: 0.02, min: 0.78, max: 0.84 },
      balancedAccuracy: { mean: 0.81, std: 0.02, min: 0.78, max: 0.84 },
      ...(uncertainty === undefined ? {} : { uncertainty }),
    },
  });
}

describe('the stability statement in words', () => {
  it('rounds an upper bound up to a whole percent, so the printed bound still holds', () => {
    assert.deepEqual(
      [upperPercent(0.2588655508930522), upperPercent(0.39416330243650466), upperPercent(0.6066242161054123), upperPercent(1)],
      ['26%', '40%', '61%', '100%'],
    );
    assert.equal(upperPercent(0.26), '26%');
    assert.equal(failureStatement(10, tenSeeds), '0 of 10 seeds failed: failure rate ≤ 26% at 95%');
    assert.equal(failureStatement(1, { ...tenSeeds, failed: 1, failureRateUpper: 1 }), '1 of 1 seed failed: failure rate ≤ 100% at 95%');
  });

  it('says how many more seeds, or that there are enough, or nothing when not estimated', () => {
    assert.deepEqual([seedsNeeded(18, 10), seedsNeeded(9, 10), seedsNeeded(0, 1)], ['18 (8 more)', '9 (enough already)', '-']);
  });

  it('get and the end of watch print the failure bound, the intervals and the seeds needed', () => {
    for (const text of [jobDetail(job(tenSeeds)), jobResults(job(tenSeeds))]) {
      assert.match(text, /uncertainty \(95%\):/);
      assert.match(
        text,
        /failures {2}0 of 10 seeds failed: failure rate ≤ 26% at 95% \(exact binomial bound; failed = collapsed or degenerate\)/,
      );
      assert.match(
        text,
        /mean in \[0\.8012, 0\.8245\], std in \[0\.0120, 0\.0290\] \(bootstrap over seeds: 10000 resamples, seed 1592598564\)/,
      );
      assert.match(text, /for intervals 0\.020 wide: mean 18 \(8 more\), std 9 \(enough already\)/);
    }
  });

  it('one run: the bound, and why there are no intervals; an old summary: nothing extra', () => {
    const one = {
      ...tenSeeds,
      failureRateUpper: 0.95,
      balancedAccuracyMean: undefined,
      balancedAccuracyStd: undefined,
      seedsForMeanWidth: 0,
      seedsForStdWidth: 0,
    };
    const text = summaryLines(job(one, 1).summary);
    assert.match(text, /0 of 1 seed failed: failure rate ≤ 95% at 95%/);
    assert.match(text, /intervals need at least two runs/);
    assert.doesNotMatch(summaryLines(job(undefined).summary), /uncertainty/);
  });

  it('compare: a note per job under the table; the HTML report: a section with the same figures', () => {
    const rows = labelJobs([job(tenSeeds)]).map(comparisonRow);
    assert.deepEqual(rows[0]?.uncertainty, tenSeeds);
    const table = comparisonTable(rows);
    assert.match(table, /uncertainty \(exact binomial bound; bootstrap over seeds\):/);
    assert.match(
      table,
      /fft: 0 of 10 seeds failed: failure rate ≤ 26% at 95%; bal acc % mean \[80\.12, 82\.45\], std \[1\.20, 2\.90\]; seeds for a mean interval 2\.00 points wide: 18 \(8 more\)/,
    );
    const html = renderHtmlReport({ title: 't', generatedAt: new Date(0), rows, jobs: labelJobs([job(tenSeeds)]) });
    assert.match(html, /<h2>How sure: failure rate and intervals<\/h2>/);
    assert.match(
      html,
      /<td class="num">0 of 10<\/td><td class="num">≤ 26%<\/td><td class="num">\[80\.12, 82\.45\]<\/td><td class="num">\[1\.20, 2\.90\]<\/td>/,
    );
    assert.match(html, /10000 resamples, fixed seed 1592598564/);
    const without = labelJobs([job(undefined)]).map(comparisonRow);
    assert.doesNotMatch(comparisonTable(without), /uncertainty/);
    assert.doesNotMatch(
      renderHtmlReport({ title: 't', generatedAt: new Date(0), rows: without, jobs: labelJobs([job(undefined)]) }),
      /How sure/,
    );
  });
});

describe('--ci-width', () => {
  it('sets the spec field; the default spec says 0.05; out of (0, 1] is a usage error', () => {
    assert.equal(specFromFlags(parseCommandLine(['start', '--ci-width', '0.02']).flags).ciWidth, 0.02);
    assert.equal(specFromFlags(parseCommandLine(['start']).flags).ciWidth, 0.05);
    assert.equal(specFromFlags(parseCommandLine(['compare', '--ci-width', '0.1']).flags).ciWidth, 0.1);
    for (const bad of ['0', '-0.1', '1.5', 'wide']) {
      assert.throws(() => specFromFlags(parseCommandLine(['start', '--ci-width', bad]).flags), UsageError, bad);
    }
  });
});
