// Imbalanced training splits as in Cao et al. 2019 (LDAM, "imbalance_cifar.py"), which the
// DSGD paper follows for its imbalanced CIFAR runs:
//  - long-tailed: n_i = floor(n_max * ratio^(-i / (C - 1))) for class i = 0..C-1, so class 0
//    keeps n_max and class C-1 keeps floor(n_max / ratio);
//  - step: the first floor(C / 2) classes keep n_max, the rest floor(n_max / ratio).
// Flooring (not rounding) matches LDAM's int(). Only the training split is resampled; the
// validation split stays balanced, as in the paper.

import type { ExampleSet } from '../engine/tf-free.js';
import { ViolationCollector } from './errors.js';
import { countClasses, selectExamples } from './example-set.js';

export type ImbalanceKind = 'long-tailed' | 'step';

export interface ImbalanceSpec {
  readonly kind: ImbalanceKind;
  /** n_max / n_min, >= 1 (e.g. 100 for 100:1). */
  readonly ratio: number;
  /** Picks which examples each class keeps; an integer in [0, 2^32). */
  readonly seed: number;
  /** n_max; defaults to the smallest class count, so every class can meet its target. */
  readonly maxPerClass?: number;
}

/** Per-class target counts for class ids 0..numClasses-1. */
export function imbalancedClassCounts(kind: ImbalanceKind, numClasses: number, ratio: number, maxPerClass: number): number[] {
  const minority = maxPerClass * (1 / ratio);
  return Array.from({ length: numClasses }, (_, classId) => {
    if (kind === 'step') return Math.floor(classId < Math.floor(numClasses / 2) ? maxPerClass : minority);
    if (numClasses === 1) return maxPerClass;
    // Same expression as LDAM's img_max * (imb_factor ** (cls_idx / (cls_num - 1.0))).
    return Math.floor(maxPerClass * (1 / ratio) ** (classId / (numClasses - 1)));
  });
}

/** mulberry32: a small, fast, well-mixed 32-bit generator; enough for choosing subsets. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` of `items` chosen uniformly by a partial Fisher-Yates shuffle, returned ascending. */
function chooseSorted(items: readonly number[], count: number, random: () => number): number[] {
  const pool = [...items];
  for (let index = 0; index < count; index += 1) {
    const pick = index + Math.floor(random() * (pool.length - index));
    [pool[index], pool[pick]] = [pool[pick] ?? 0, pool[index] ?? 0];
  }
  return pool.slice(0, count).sort((a, b) => a - b);
}

function checkSpec(spec: ImbalanceSpec, violations: ViolationCollector): void {
  if (!(Number.isFinite(spec.ratio) && spec.ratio >= 1)) violations.add('imbalance.ratio', `must be >= 1, got ${spec.ratio}`);
  if (!(Number.isInteger(spec.seed) && spec.seed >= 0 && spec.seed < 2 ** 32)) {
    violations.add('imbalance.seed', `must be an integer in [0, 2^32), got ${spec.seed}`);
  }
  if (spec.maxPerClass !== undefined && !(Number.isInteger(spec.maxPerClass) && spec.maxPerClass >= 1)) {
    violations.add('imbalance.maxPerClass', `must be a positive integer, got ${spec.maxPerClass}`);
  }
  if (spec.kind !== 'long-tailed' && spec.kind !== 'step') {
    violations.add('imbalance.kind', `must be "long-tailed" or "step", got ${JSON.stringify(spec.kind)}`);
  }
}

/**
 * A new training set with each class cut to its imbalanced target count. Kept examples are
 * chosen per class from a generator seeded by (seed, class id), so a class's choice does
 * not depend on the other classes, and they stay in their original order.
 */
export function applyImbalance(train: ExampleSet, spec: ImbalanceSpec): ExampleSet {
  const violations = new ViolationCollector();
  checkSpec(spec, violations);
  violations.throwIfAny('imbalance rejected');
  const available = countClasses(train.labels, train.numClasses);
  const maxPerClass = spec.maxPerClass ?? Math.min(...available);
  const targets = imbalancedClassCounts(spec.kind, train.numClasses, spec.ratio, maxPerClass);
  targets.forEach((target, classId) => {
    if (target > (available[classId] ?? 0)) {
      violations.add(
        'imbalance.maxPerClass',
        `class ${classId} has ${available[classId] ?? 0} training examples; ${spec.kind} ${spec.ratio}:1 needs ${target}`,
      );
    }
  });
  if (targets.some((target) => target === 0)) {
    violations.add('imbalance.ratio', `${spec.ratio}:1 of ${maxPerClass} leaves a class with no examples`);
  }
  violations.throwIfAny('imbalance rejected');

  const indicesByClass: number[][] = Array.from({ length: train.numClasses }, () => []);
  train.labels.forEach((label, index) => indicesByClass[label]?.push(index));
  const kept = indicesByClass.flatMap((indices, classId) => {
    const random = mulberry32((spec.seed ^ Math.imul(classId + 1, 0x9e3779b9)) >>> 0);
    return chooseSorted(indices, targets[classId] ?? 0, random);
  });
  return selectExamples(train, Int32Array.from(kept).sort());
}
