// The stability summary's uncertainty math against values computed by hand or by an
// independent route: SciPy 1.17 (scipy.stats.beta.ppf(0.95, k + 1, n - k) is the exact
// Clopper–Pearson upper bound; scipy.stats.t.ppf(0.975, df) the t critical value), and
// a bisection on a directly summed binomial CDF written here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOTSTRAP_SEED,
  binomialCdf,
  bootstrapMeanAndStd,
  excessKurtosis,
  failureRateUpperBound,
  quantile,
  seededUniforms,
  seedsForMeanWidth,
  seedsForStdWidth,
  studentT95,
} from '../../server/jobs/uncertainty.js';

function closeTo(actual: number, expected: number, tolerance: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: ${actual} vs ${expected}`);
}

/** The test's own route: P(X <= k) summed term by term with exact binomial coefficients. */
function directCdf(k: number, n: number, p: number): number {
  let total = 0;
  let coefficient = 1; // C(n, 0)
  for (let i = 0; i <= k; i += 1) {
    total += coefficient * p ** i * (1 - p) ** (n - i);
    coefficient = (coefficient * (n - i)) / (i + 1);
  }
  return total;
}

/** Upper bound by bisection on directCdf: the p where P(X <= k) falls to 0.05. */
function upperByBisection(k: number, n: number): number {
  if (k >= n) return 1;
  let low = 0;
  let high = 1;
  for (let i = 0; i < 100; i += 1) {
    const mid = (low + high) / 2;
    if (directCdf(k, n, mid) > 0.05) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

describe('exact binomial upper bound on the failure rate (95%)', () => {
  // k of 10 failed → SciPy's Beta(k + 1, 10 - k) 95% quantile.
  const scipy: [number, number][] = [
    [0, 0.2588655508930522],
    [1, 0.39416330243650466],
    [3, 0.6066242161054123],
    [10, 1],
  ];
  for (const [failed, expected] of scipy) {
    test(`${failed} of 10 failed: ≤ ${expected.toFixed(4)}`, () => {
      const bound = failureRateUpperBound(failed, 10);
      closeTo(bound, expected, 1e-12, 'against SciPy');
      closeTo(bound, upperByBisection(failed, 10), 1e-12, 'against the direct-sum bisection');
    });
  }

  test('0 of n has the closed form 1 - 0.05^(1/n); n - 1 of n has 0.95^(1/n)', () => {
    closeTo(failureRateUpperBound(0, 10), 1 - 0.05 ** (1 / 10), 1e-12, '0 of 10');
    closeTo(failureRateUpperBound(0, 32), 1 - 0.05 ** (1 / 32), 1e-12, '0 of 32');
    closeTo(failureRateUpperBound(2, 3), 0.95 ** (1 / 3), 1e-12, '2 of 3');
  });

  test('no trials says nothing (1); the bound grows with failures and falls with trials', () => {
    assert.equal(failureRateUpperBound(0, 0), 1);
    assert.ok(failureRateUpperBound(1, 10) < failureRateUpperBound(2, 10));
    assert.ok(failureRateUpperBound(1, 20) < failureRateUpperBound(1, 10));
  });

  test('binomialCdf: by hand, and no underflow where (1 - p)^n is below the smallest double', () => {
    // (1 + 10 + 45 + 120) / 1024
    closeTo(binomialCdf(3, 10, 0.5), 176 / 1024, 1e-15, 'P(X <= 3), n 10, p 1/2');
    assert.equal(binomialCdf(10, 10, 0.3), 1);
    // P(X <= n - 1) = 1 - p^n, with 0.999^5000 = 0.00672
    closeTo(binomialCdf(4999, 5000, 0.999), 1 - 0.999 ** 5000, 1e-9, 'n 5000');
  });
});

describe('bootstrap intervals over seeds', () => {
  const sample = [0.7, 0.75, 0.8, 0.85, 0.9];
  const mean = 0.8;
  const std = Math.sqrt(0.025 / 4); // squared deviations 0.04 + 0.01 + 0 + 0.01 + 0.04

  test('the mean interval contains the mean, the std interval the std; both within the possible range', () => {
    const intervals = bootstrapMeanAndStd(sample);
    assert.ok(intervals !== undefined);
    assert.ok(intervals.mean.low < mean && mean < intervals.mean.high, JSON.stringify(intervals.mean));
    assert.ok(intervals.mean.low >= 0.7 && intervals.mean.high <= 0.9);
    assert.ok(intervals.std.low < std && std < intervals.std.high, JSON.stringify(intervals.std));
    assert.ok(intervals.std.low >= 0);
  });

  test('deterministic: same values (in any order) and seed give the same intervals', () => {
    const first = bootstrapMeanAndStd(sample);
    assert.deepEqual(bootstrapMeanAndStd(sample), first);
    assert.deepEqual(bootstrapMeanAndStd([0.9, 0.7, 0.85, 0.75, 0.8]), first);
    assert.deepEqual(bootstrapMeanAndStd(sample, { seed: BOOTSTRAP_SEED }), first);
    // Five values on a 0.05 grid put the endpoints on a grid too, the same under any seed;
    // off the grid, another seed moves an endpoint a little (Monte-Carlo noise).
    const offGrid = [0.712, 0.748, 0.803, 0.861, 0.897, 0.655];
    const other = bootstrapMeanAndStd(offGrid, { seed: 1 });
    const fixed = bootstrapMeanAndStd(offGrid);
    assert.ok(other !== undefined && fixed !== undefined);
    assert.notDeepEqual(other, fixed);
    closeTo(other.std.high, fixed.std.high, 0.002, 'seed-to-seed noise of an endpoint');
  });

  test('more seeds with the same spread: a narrower mean interval, about 1/sqrt(n)', () => {
    const width = (values: number[]): number => {
      const intervals = bootstrapMeanAndStd(values);
      assert.ok(intervals !== undefined);
      return intervals.mean.high - intervals.mean.low;
    };
    const five = width(sample);
    const ten = width([...sample, ...sample]);
    const twenty = width([...sample, ...sample, ...sample, ...sample]);
    assert.ok(ten < five && twenty < ten, `${five} ${ten} ${twenty}`);
    // The bootstrap sd of the mean is the plug-in sd / sqrt(n): 0.0707 / sqrt(20) = 0.0158,
    // so the 95% interval is close to 3.92 × 0.0158 = 0.062 wide.
    closeTo(twenty, 2 * 1.96 * Math.sqrt(0.005 / 20), 0.006, 'n 20 against the normal width');
  });

  test('fewer than two values: no interval', () => {
    assert.equal(bootstrapMeanAndStd([0.8]), undefined);
    assert.equal(bootstrapMeanAndStd([]), undefined);
  });

  test('the resampling stream: reproducible, in [0, 1), mean near 1/2', () => {
    const a = seededUniforms(7);
    const b = seededUniforms(7);
    let sum = 0;
    for (let i = 0; i < 100_000; i += 1) {
      const u = a();
      assert.equal(u, b());
      assert.ok(u >= 0 && u < 1);
      sum += u;
    }
    closeTo(sum / 100_000, 0.5, 0.005, 'mean');
  });

  test('quantile interpolates between order statistics (type 7)', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
    assert.equal(quantile([1, 2, 3, 4], 1), 4);
  });
});

describe('seeds for a requested interval width', () => {
  test("Student's t 97.5% quantiles match SciPy (closed forms to df 200, Cornish–Fisher beyond)", () => {
    const scipy: [number, number][] = [
      [1, 12.706204736174694],
      [2, 4.302652729749462],
      [3, 3.1824463052837078],
      [9, 2.262157162798205],
      [30, 2.0422724563012378],
      [100, 1.9839715185235518],
      [301, 1.9678765312856952],
      [1000, 1.9623390808264083],
    ];
    for (const [df, expected] of scipy) closeTo(studentT95(df), expected, 1e-6, `df ${df}`);
  });

  test('mean: std 0.05, width 0.05 → 18 seeds (the normal formula alone says 16)', () => {
    // Least n with 2 t(0.975, n - 1) s / sqrt(n) <= w. By hand with SciPy's t:
    // n 16: 2 × 2.1314 × 0.05 / 4 = 0.0533; n 17: 2 × 2.1199 × 0.05 / 4.1231 = 0.0514;
    // n 18: 2 × 2.1098 × 0.05 / 4.2426 = 0.0497 <= 0.05. Normal: ceil((2 × 1.96 × 0.05 / 0.05)²) = ceil(15.37) = 16.
    assert.equal(seedsForMeanWidth(0.05, 0.05), 18);
    // Half the width, four times the seeds, nearly: ceil(61.5) = 62 by the normal formula, 64 with t.
    assert.equal(seedsForMeanWidth(0.05, 0.025), 64);
    assert.equal(seedsForMeanWidth(0, 0.05), 2);
  });

  test('std: std 0.05, width 0.05 → 9 seeds for normal seeds, 20 with excess kurtosis 3', () => {
    // 1.96 × 0.05 × sqrt(2 / (n - 1) + κ / n) <= 0.05 ⇔ 2 / (n - 1) + κ / n <= 0.2603.
    // κ 0: n - 1 >= 7.68 → 9.  κ 3: n 19 gives 0.1111 + 0.1579 = 0.269, n 20 gives 0.1053 + 0.15 = 0.255 → 20.
    assert.equal(seedsForStdWidth(0.05, 0, 0.05), 9);
    assert.equal(seedsForStdWidth(0.05, 3, 0.05), 20);
  });

  test('excess kurtosis by moments: -2 for a two-point set, 0 without spread', () => {
    // [0, 0, 1, 1]: m2 = 1/4, m4 = 1/16 → 1 - 3.
    closeTo(excessKurtosis([0, 0, 1, 1]), -2, 1e-12, 'two points');
    assert.equal(excessKurtosis([0.5, 0.5, 0.5]), 0);
  });
});
