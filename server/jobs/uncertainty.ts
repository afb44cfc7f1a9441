// The uncertainty of a stability summary: an exact bound on the failure rate, bootstrap
// intervals over seeds, and how many seeds a requested interval width takes. Pure arithmetic
// on numbers (no I/O, no clock, no Math.random), so every figure is reproducible and tested
// against values computed by hand or by an independent library.
import type { Interval } from './types.js';

/** Every interval and bound here is at this level. */
export const CONFIDENCE = 0.95;
/** The standard normal's 97.5% quantile: the two-sided 95% critical value. */
export const Z_95 = 1.959963984540054;

/**
 * Resamples per bootstrap. With 10,000, each 2.5% tail holds 250 resamples and the Monte-Carlo
 * standard error of an endpoint is about 0.7% of the interval's width (for a near-normal
 * bootstrap distribution: sqrt(0.025 * 0.975 / 10000) / phi(1.96) = 0.027 bootstrap sds, of a
 * width of 3.92), while 32 seeds cost 320,000 draws: a few milliseconds.
 */
export const BOOTSTRAP_RESAMPLES = 10_000;
/** Fixed, so the same seeds' results always give the same intervals. */
export const BOOTSTRAP_SEED = 0x5eed_2024;

/**
 * P(X <= k) for X ~ Binomial(n, p), summed in log space so that no term underflows before the
 * others are added (n log(1 - p) is far below the smallest double for large n and p near 1).
 */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k >= n || p <= 0) return 1;
  if (k < 0) return 0;
  if (p >= 1) return 0;
  const logOdds = Math.log(p) - Math.log1p(-p);
  let logTerm = n * Math.log1p(-p); // log P(X = 0)
  const logTerms = [logTerm];
  for (let i = 0; i < k; i += 1) {
    logTerm += Math.log((n - i) / (i + 1)) + logOdds;
    logTerms.push(logTerm);
  }
  const largest = Math.max(...logTerms);
  const sum = logTerms.reduce((total, t) => total + Math.exp(t - largest), 0);
  return Math.min(1, Math.exp(largest) * sum);
}

/**
 * Exact (Clopper–Pearson) one-sided upper confidence bound on a failure rate after `failures`
 * of `trials`: the largest p under which seeing at most `failures` still has probability
 * 1 - confidence, i.e. the root of binomialCdf(failures, trials, p) = 1 - confidence, found by
 * bisection (the CDF falls monotonically in p). 0 failures gives 1 - (1 - confidence)^(1/n);
 * all failed, or no trials, gives 1.
 */
export function failureRateUpperBound(failures: number, trials: number, confidence = CONFIDENCE): number {
  if (trials <= 0 || failures >= trials) return 1;
  const alpha = 1 - confidence;
  let low = 0;
  let high = 1;
  // 60 halvings bring the bracket below 1e-18: past double precision near the root.
  for (let i = 0; i < 60; i += 1) {
    const mid = (low + high) / 2;
    if (binomialCdf(failures, trials, mid) > alpha) low = mid;
    else high = mid;
  }
  return high;
}

/**
 * A deterministic stream of uniforms in [0, 1): a Weyl sequence (step 0x9e3779b9) through the
 * MurmurHash3 32-bit finalizer. Statistically adequate for resampling indices, and the same
 * seed gives the same stream on every platform (only 32-bit integer arithmetic).
 */
export function seededUniforms(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

/** The q-quantile of ascending `sorted` by linear interpolation between order statistics (R's type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const lower = sorted[below] ?? Number.NaN;
  const upper = sorted[Math.min(sorted.length - 1, below + 1)] ?? lower;
  return lower + (position - below) * (upper - lower);
}

export interface BootstrapOptions {
  readonly resamples?: number;
  readonly seed?: number;
  readonly confidence?: number;
}

/**
 * Percentile-bootstrap intervals for the mean and the sample standard deviation (n - 1) of
 * `values`: resample n values with replacement `resamples` times, take the central
 * `confidence` share of each statistic. The values are sorted first, so the intervals depend
 * on the multiset of results, not on seed order. Undefined for fewer than two values. With
 * few seeds the percentile bootstrap is known to be too narrow (it cannot see beyond the
 * observed range); read it as a lower bound on the uncertainty.
 */
export function bootstrapMeanAndStd(
  values: readonly number[],
  options: BootstrapOptions = {},
): { readonly mean: Interval; readonly std: Interval } | undefined {
  const n = values.length;
  if (n < 2) return undefined;
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const confidence = options.confidence ?? CONFIDENCE;
  const sorted = [...values].sort((a, b) => a - b);
  const uniform = seededUniforms(options.seed ?? BOOTSTRAP_SEED);
  const means: number[] = new Array(resamples);
  const stds: number[] = new Array(resamples);
  const draw = new Float64Array(n);
  for (let r = 0; r < resamples; r += 1) {
    let sum = 0;
    for (let i = 0; i < n; i += 1) {
      const value = sorted[Math.floor(uniform() * n)] ?? 0;
      draw[i] = value;
      sum += value;
    }
    const mean = sum / n;
    let squares = 0;
    for (const value of draw) squares += (value - mean) ** 2;
    means[r] = mean;
    stds[r] = Math.sqrt(squares / (n - 1));
  }
  const tail = (1 - confidence) / 2;
  const interval = (statistics: number[]): Interval => {
    statistics.sort((a, b) => a - b);
    return { low: quantile(statistics, tail), high: quantile(statistics, 1 - tail) };
  };
  return { mean: interval(means), std: interval(stds) };
}

/**
 * P(|T| <= t) for Student's t with `df` degrees of freedom, by the closed forms for integer df
 * (Abramowitz & Stegun 26.7.3 and 26.7.4): finite sums in cos(theta), theta = atan(t / sqrt(df)).
 */
export function studentTCentralMass(t: number, df: number): number {
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const sin = Math.sin(theta);
  const cos2 = Math.cos(theta) ** 2;
  if (df % 2 === 0) {
    // sin θ · Σ_{j=0}^{(df-2)/2} b_j cos^{2j} θ, b_0 = 1, b_j = b_{j-1} (2j - 1) / (2j).
    let term = 1;
    let sum = 1;
    for (let j = 1; j <= (df - 2) / 2; j += 1) {
      term *= (cos2 * (2 * j - 1)) / (2 * j);
      sum += term;
    }
    return sin * sum;
  }
  if (df === 1) return (2 * theta) / Math.PI;
  // (2/π) (θ + sin θ cos θ · Σ_{j=0}^{(df-3)/2} a_j cos^{2j} θ), a_0 = 1, a_j = a_{j-1} 2j / (2j + 1).
  let term = 1;
  let sum = 1;
  for (let j = 1; j <= (df - 3) / 2; j += 1) {
    term *= (cos2 * 2 * j) / (2 * j + 1);
    sum += term;
  }
  return (2 / Math.PI) * (theta + sin * Math.sqrt(cos2) * sum);
}

/**
 * The two-sided 95% critical value of Student's t with integer `df` >= 1 (2.262 for df 9):
 * bisection on studentTCentralMass up to df 200; beyond, the Cornish–Fisher expansion
 * z + (z³ + z) / (4 df) + (5z⁵ + 16z³ + 3z) / (96 df²), whose next term is below 1e-6 there.
 */
export function studentT95(df: number): number {
  if (df > 200) {
    const z = Z_95;
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
  }
  let low = Z_95;
  let high = 2 * Z_95;
  while (studentTCentralMass(high, df) < CONFIDENCE) high *= 2;
  for (let i = 0; i < 60; i += 1) {
    const mid = (low + high) / 2;
    if (studentTCentralMass(mid, df) < CONFIDENCE) low = mid;
    else high = mid;
  }
  return high;
}

/** Beyond this the answer is "more seeds than anyone will run". */
export const MAX_SEEDS_ESTIMATE = 1_000_000;

/**
 * Seeds (in all, not more) for the t interval of the mean to be at most `width` wide, planning
 * with the observed sample std s: the least n >= 2 with 2 · t(0.975, n - 1) · s / sqrt(n) <= width.
 * The search starts at the normal answer ceil((2 · 1.96 · s / width)²), a lower bound since
 * t > z. s is itself an estimate: with few seeds the figure is a guide, not a guarantee.
 */
export function seedsForMeanWidth(std: number, width: number): number {
  const normal = Math.ceil(((2 * Z_95 * std) / width) ** 2);
  for (let n = Math.max(2, normal); n < MAX_SEEDS_ESTIMATE; n += 1) {
    if ((2 * studentT95(n - 1) * std) / Math.sqrt(n) <= width) return n;
  }
  return MAX_SEEDS_ESTIMATE;
}

/** Sample excess kurtosis by moments, m4 / m2² - 3 (0 for a normal, >= -2 always; 0 with no spread). */
export function excessKurtosis(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const m2 = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / n;
  const m4 = values.reduce((sum, v) => sum + (v - mean) ** 4, 0) / n;
  return m2 === 0 ? 0 : m4 / m2 ** 2 - 3;
}

/**
 * Seeds (in all) for a 95% interval of the standard deviation at most `width` wide, by the
 * delta method: Var(s²) ≈ σ⁴ (2 / (n - 1) + κ / n) with κ the excess kurtosis, so the
 * interval is about 2 · 1.96 · (s / 2) · sqrt(2 / (n - 1) + κ / n) wide; the least n >= 2 that
 * brings it to `width`. κ is taken from the seeds, because a few collapsed seeds make the
 * distribution far from normal (κ = 0 would understate the seeds needed).
 */
export function seedsForStdWidth(std: number, kurtosis: number, width: number): number {
  const excess = Math.max(-2, kurtosis);
  for (let n = 2; n < MAX_SEEDS_ESTIMATE; n += 1) {
    if (Z_95 * std * Math.sqrt(2 / (n - 1) + excess / n) <= width) return n;
  }
  return MAX_SEEDS_ESTIMATE;
}
