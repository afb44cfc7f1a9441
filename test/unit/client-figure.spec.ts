// The stability figure: a valid standalone SVG, one marker per seed styled by verdict, and
// box-plot statistics that match numbers worked out by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boxStats, quantile, renderStabilityFigure, wrapLabel, type FigureRow } from '../../client/cli/figure.js';

const SEEDS = [42, 52, 62, 72, 82, 92, 102, 112, 122, 132];

function rowsFor(
  method: string,
  accuracies: readonly number[],
  verdictAt: (index: number) => FigureRow['verdict'] = () => 'ok',
): FigureRow[] {
  return accuracies.map((accuracy, index) => ({ method, seed: SEEDS[index], accuracy, verdict: verdictAt(index) }));
}

const count = (svg: string, pattern: RegExp): number => (svg.match(pattern) ?? []).length;

describe('box statistics', () => {
  it('interpolates quartiles between order statistics (numpy linear)', () => {
    // Sorted 1..10: positions 2.25, 4.5, 6.75 → 3.25, 5.5, 7.75.
    const stats = boxStats([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
    assert.equal(stats.q1, 3.25);
    assert.equal(stats.median, 5.5);
    assert.equal(stats.q3, 7.75);
    assert.equal(stats.whiskerLow, 1);
    assert.equal(stats.whiskerHigh, 10);
  });

  it('stops whiskers at the last point within 1.5 IQR', () => {
    // Sorted [0.1, 0.80, 0.81, 0.82, 0.83]: q1 0.80, q3 0.82, IQR 0.02, fences 0.77 and 0.85.
    const stats = boxStats([0.82, 0.1, 0.8, 0.83, 0.81]);
    assert.ok(Math.abs(stats.q1 - 0.8) < 1e-12);
    assert.ok(Math.abs(stats.q3 - 0.82) < 1e-12);
    assert.equal(stats.median, 0.81);
    assert.equal(stats.whiskerLow, 0.8);
    assert.equal(stats.whiskerHigh, 0.83);
  });

  it('handles one value and rejects none', () => {
    assert.deepEqual(boxStats([0.5]), { median: 0.5, q1: 0.5, q3: 0.5, whiskerLow: 0.5, whiskerHigh: 0.5 });
    assert.throws(() => quantile([], 0.5));
  });
});

describe('stability figure', () => {
  const rows = [
    ...rowsFor('fft', [0.9, 0.1, 0.88, 0.5, 0.91, 0.1, 0.87, 0.9, 0.89, 0.86], (i) =>
      i === 1 || i === 5 ? 'collapsed' : i === 3 ? 'degenerate' : 'ok',
    ),
    ...rowsFor('dsgd', [0.9, 0.91, 0.9, 0.89, 0.92, 0.9, 0.88, 0.9, 0.91, 0.9]),
    ...rowsFor('a<b & "c"', [0.7, 0.8]),
  ];
  const svg = renderStabilityFigure(rows, { title: 'Fashion-MNIST LT 100:1', yLabel: 'balanced accuracy' });

  it('is one well-formed svg element with balanced tags', () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*viewBox="0 0 \d+ \d+"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    for (const tag of ['g', 'text', 'title', 'circle', 'path']) {
      const opened = count(svg, new RegExp(`<${tag}[ >]`, 'g'));
      const closed = count(svg, new RegExp(`</${tag}>`, 'g')) + count(svg, new RegExp(`<${tag}[^>]*/>`, 'g'));
      assert.equal(opened, closed, `<${tag}> opened ${opened}, closed ${closed}`);
    }
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
  });

  it('draws one marker per seed, styled by verdict', () => {
    assert.equal(count(svg, /class="marker /g), rows.length);
    assert.equal(count(svg, /class="marker collapsed"/g), 2);
    assert.equal(count(svg, /class="marker degenerate"/g), 1);
    assert.equal(count(svg, /class="marker ok"/g), rows.length - 3);
    assert.match(svg, /<path class="marker collapsed"[^>]*stroke="#d62728"/);
    assert.match(svg, /<circle class="marker degenerate"[^>]*fill="#ff7f0e"/);
  });

  it('draws one box per method, in order of appearance, with hand-checked quartiles', () => {
    const boxes = [...svg.matchAll(/<g class="box" data-method="([^"]*)" data-median="([^"]*)" data-q1="([^"]*)" data-q3="([^"]*)"/g)];
    assert.deepEqual(
      boxes.map((box) => box[1]),
      ['fft', 'dsgd', 'a&lt;b &amp; &quot;c&quot;'],
    );
    // dsgd sorted: 0.88 0.89 0.9 0.9 0.9 0.9 0.9 0.91 0.91 0.92 → q1 (pos 2.25) 0.9, median 0.9, q3 (pos 6.75) 0.9075.
    const [, , median, q1, q3] = boxes[1];
    assert.ok(Math.abs(Number(median) - 0.9) < 1e-12);
    assert.ok(Math.abs(Number(q1) - 0.9) < 1e-12);
    assert.ok(Math.abs(Number(q3) - 0.9075) < 1e-12);
    assert.match(svg, /n=10, 3 failed/);
  });

  it('escapes labels and is deterministic', () => {
    assert.doesNotMatch(svg, /a<b/);
    assert.equal(renderStabilityFigure(rows, { title: 'Fashion-MNIST LT 100:1', yLabel: 'balanced accuracy' }), svg);
  });

  it('wraps long method labels onto lines that fit the column', () => {
    assert.deepEqual(wrapLabel('dsgd λ=1 linear_descending', 12), ['dsgd λ=1', 'linear_descending']);
    assert.deepEqual(wrapLabel('a b c d', 1, 2), ['a', 'b…']);
    const narrow = renderStabilityFigure(rowsFor('dsgd λ=0.25 linear', [0.5]), { width: 150 });
    assert.equal(count(narrow, /<tspan /g), 3); // 62 px of column: 9 characters a line
  });

  it('keeps a fixed y range and rejects an empty input', () => {
    const fixed = renderStabilityFigure(rowsFor('fft', [0.5, 0.6]), { yRange: [0, 1] });
    assert.match(fixed, />0\.00</);
    assert.match(fixed, />1\.00</);
    assert.throws(() => renderStabilityFigure([]));
  });
});
