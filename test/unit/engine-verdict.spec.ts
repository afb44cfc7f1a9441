// The run verdict judged against the evaluation set's own class distribution, on hand-built
// confusion matrices (row = true class, column = predicted class).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classificationVerdict, summarizeEvaluation } from '../../server/engine/classification-metrics.js';

/** Flattens rows of a confusion matrix and judges it. */
function verdictOf(rows: readonly (readonly number[])[]): string {
  return classificationVerdict(rows.flat(), rows.length);
}

/** Judges a confusion matrix written as rows separated by ';': '90 10; 15 85'. */
function judged(matrix: string): string {
  return verdictOf(matrix.split(';').map((row) => row.trim().split(/\s+/).map(Number)));
}

/** A row of `n` examples of class `k` out of `classes`: `correct` on the diagonal, the rest predicted as class 0 (the head). */
function rowToHead(k: number, n: number, correct: number, classes: number): number[] {
  const row = new Array<number>(classes).fill(0);
  row[k] += correct;
  row[0] += n - correct;
  return row;
}

/** A row of `n` examples spread as evenly as integers allow over every class. */
function spreadRow(n: number, classes: number): number[] {
  return Array.from({ length: classes }, (_, p) => Math.floor(n / classes) + (p < n % classes ? 1 : 0));
}

describe('verdict on a balanced binary set (100:100)', () => {
  it('a good model is ok', () => assert.equal(judged('90 10; 15 85'), 'ok'));
  it('one class for every input is collapsed', () => assert.equal(judged('100 0; 100 0'), 'collapsed'));
  it('a saturated run letting a few outliers through is still collapsed', () => {
    // 97.5% of the predictions on class 0; class 1 recall 0.05.
    assert.equal(judged('100 0; 95 5'), 'collapsed');
  });
  it('a coin flip and swapped labels are degenerate, not collapsed', () => {
    assert.equal(judged('50 50; 50 50'), 'degenerate');
    assert.equal(judged('0 100; 100 0'), 'degenerate');
  });
});

describe('verdict on a 96:4 set (576 negatives, 24 positives)', () => {
  // The former fixed rule (one class takes >= 95% of the predictions) called all three collapsed.
  it('a good model is ok though it puts more than 95% of its predictions on the majority', () => {
    // 96.5% of predictions negative, positive recall 0.625, balanced accuracy 0.81.
    assert.equal(judged('570 6; 9 15'), 'ok');
    // Exactly the 24 positives predicted positive: 96% negative predictions, a perfect model.
    assert.equal(judged('576 0; 0 24'), 'ok');
    // Half the positives found, no false alarm: 98% negative predictions, balanced accuracy 0.75.
    assert.equal(judged('576 0; 12 12'), 'ok');
  });
  it('a majority-only model is collapsed, with or without a stray positive', () => {
    assert.equal(judged('576 0; 24 0'), 'collapsed');
    assert.equal(judged('575 1; 22 2'), 'collapsed'); // positive recall 0.083
  });
  it('a model that flags at random is degenerate', () => {
    // Half of each class flagged positive: recall 0.5 and 0.5.
    assert.equal(judged('288 288; 12 12'), 'degenerate');
  });
});

describe('verdict on a long-tailed 6-class set (500, 200, 80, 32, 13, 5: ratio 100)', () => {
  const counts = [500, 200, 80, 32, 13, 5];
  const classes = counts.length;

  it('a good model, its errors falling on the head, is ok', () => {
    const correct = [480, 160, 60, 22, 8, 3];
    const rows = counts.map((n, k) => rowToHead(k, n, correct[k], classes));
    rows[0] = [480, 20, 0, 0, 0, 0]; // the head's own errors go to class 1
    assert.equal(verdictOf(rows), 'ok');
  });
  it('a model that predicts only the head class is collapsed, even if it catches two tail examples', () => {
    assert.equal(verdictOf(counts.map((n, k) => rowToHead(k, n, k === 0 ? n : 0, classes))), 'collapsed');
    assert.equal(verdictOf(counts.map((n, k) => rowToHead(k, n, k === 0 ? n : k === 4 ? 2 : 0, classes))), 'collapsed');
  });
  it('a model near chance is degenerate', () => {
    // Every class spread evenly over all six predictions: recall ~1/6 each.
    assert.equal(verdictOf(counts.map((n) => spreadRow(n, classes))), 'degenerate');
  });
  it('a model that learned the head and one tail class is not collapsed', () => {
    // Recall 1 on classes 0 and 1, 0 elsewhere: balanced accuracy 1/3, chance-adjusted 0.2.
    assert.equal(verdictOf(counts.map((n, k) => rowToHead(k, n, k <= 1 ? n : 0, classes))), 'ok');
  });
});

describe('verdict edge cases', () => {
  it('a set with one class present shows neither failure', () => {
    assert.equal(judged('10 0; 0 0'), 'ok');
  });
  it('a class absent from the set that takes every prediction is a collapse', () => {
    assert.equal(judged('0 0 10; 0 0 10; 0 0 0'), 'collapsed');
  });
  it('rejects a confusion matrix of the wrong size', () => {
    assert.throws(() => classificationVerdict([1, 2, 3], 2), /3 cells for 2 classes/);
  });
  it('summarizeEvaluation reports the same verdict from predictions', () => {
    const labels = Int32Array.from([...new Array<number>(96).fill(0), ...new Array<number>(4).fill(1)]);
    const goodModel = Int32Array.from(labels, (label, i) => (i === 0 ? 1 : label)); // one false alarm
    const majorityOnly = new Int32Array(100);
    const good = summarizeEvaluation(labels, goodModel, 2, 0, 0);
    assert.equal(good.verdict, 'ok');
    assert.equal(good.verdict, classificationVerdict(good.confusion, 2));
    assert.equal(summarizeEvaluation(labels, majorityOnly, 2, 0, 0).verdict, 'collapsed');
  });
});
