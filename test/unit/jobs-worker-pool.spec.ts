// The pool's own contract, with a fixture worker that misbehaves on request (no TF.js here:
// the real worker is exercised end to end in jobs-service.spec.ts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../server/common/errors.js';
import { WorkerPool } from '../../server/jobs/worker-pool.js';
import type { TrainProgress, TrainRequest } from '../../server/jobs/worker/protocol.js';
import type { JobLogger } from '../../server/jobs/types.js';
import { optimizerSpec } from '../fixtures/optimizer-spec.js';

const quiet: JobLogger = { info: () => {}, warn: () => {}, error: () => {} };

function trainRequest(seed: number): TrainRequest {
  const selection = { source: { kind: 'builtin', name: 'mnist', split: 'train' }, classes: [], maxExamples: 0 } as const;
  return {
    kind: 'train',
    train: { selection },
    validation: { selection },
    imbalance: { kind: 'none', ratio: 1, seed: 0 },
    run: {
      model: { family: 'mlp', hiddenUnits: [], dropout: 0 },
      method: { kind: 'fft' },
      optimizer: optimizerSpec({ kind: 'sgd', learningRate: 0.1 }),
      batchSize: 1,
      gradientAccumulation: 1,
      epochs: 1,
      seed,
      fullConflictEvery: 0,
    },
  };
}

describe('WorkerPool', () => {
  const pool = new WorkerPool({
    size: 2,
    config: {},
    logger: quiet,
    maxOldGenerationSizeMb: 32,
    cancelGraceMs: 300,
    workerUrl: new URL('../fixtures/jobs-fixture-worker.ts', import.meta.url),
  });
  after(() => pool.close());

  test('starts its workers and runs a task, forwarding progress in order', async () => {
    await pool.start();
    assert.equal(pool.ready(), true);
    const seen: TrainProgress[] = [];
    const result = await pool.run(trainRequest(1), (p) => seen.push(p)).result;
    assert.equal(result.steps, 5);
    assert.deepEqual(
      seen.map((p) => (p.kind === 'step' ? p.telemetry.step : -1)),
      [1, 2, 3, 4, 5],
    );
  });

  test('a worker that throws, runs out of memory or exits fails only its task; the pool carries on', async () => {
    const outcomes = await Promise.allSettled([2, 3, 4].map((seed) => pool.run(trainRequest(seed)).result));
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(hasCode(outcome.reason, 'INTERNAL'), String(outcome.reason));
    }
    const [thrown, oom, exited] = outcomes.map((o) => (o.status === 'rejected' ? String(o.reason.message) : ''));
    assert.match(thrown ?? '', /fixture crash/);
    assert.match(oom ?? '', /memory/i);
    assert.match(exited ?? '', /code 7/);
    assert.equal((await pool.run(trainRequest(1)).result).steps, 5);
  });

  test('cancel stops a running task at its next step and drops a queued one', async () => {
    // Both workers busy (each has reported a step), a third task waits in the queue.
    const stepping: Promise<void>[] = [];
    const running = [0, 1].map(() => {
      let stepped: () => void = () => {};
      stepping.push(new Promise((resolve) => (stepped = resolve)));
      return pool.run(trainRequest(5), () => stepped());
    });
    const queued = pool.run(trainRequest(1));
    await Promise.all(stepping);
    queued.cancel();
    for (const handle of running) handle.cancel();
    await assert.rejects(queued.result, (error: unknown) => hasCode(error, 'CANCELLED'));
    for (const handle of running) {
      const result = await handle.result;
      assert.equal(result.stopped, true);
      assert.ok(result.steps > 0);
    }
  });

  test('a task that ignores cancel is terminated after the grace period', async () => {
    const stuck = pool.run(trainRequest(6));
    await new Promise((resolve) => setTimeout(resolve, 50));
    stuck.cancel();
    await assert.rejects(stuck.result, /did not reach a step boundary/);
    assert.equal((await pool.run(trainRequest(1)).result).steps, 5);
  });
});
