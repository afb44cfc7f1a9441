// TurnBatches: the calls of one event-loop turn handled together, in slices of at most the cap,
// a turn apart; each call gets its own outcome, and a handler that throws refuses its batch only.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TurnBatches } from '../../server/jobs/persistence/turn-batches.js';

describe('TurnBatches', () => {
  test('one turn of calls in slices of the cap, in order, each with its own outcome', async () => {
    const batches: number[][] = [];
    const batcher = new TurnBatches<number, number>((inputs) => {
      batches.push([...inputs]);
      return inputs.map((n) => (n === 4 ? { error: new Error('four is refused') } : { value: n * 10 }));
    }, 3);
    const outcomes = await Promise.allSettled([1, 2, 3, 4, 5, 6, 7].map((n) => batcher.submit(n)));
    assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6], [7]]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : String(o.reason))),
      [10, 20, 30, 'Error: four is refused', 50, 60, 70],
    );
  });

  test('a slice is answered before the next one is handled', async () => {
    const events: string[] = [];
    const batcher = new TurnBatches<number, number>((inputs) => {
      events.push(`batch ${inputs.join(',')}`);
      return inputs.map((value) => ({ value }));
    }, 2);
    await Promise.all([1, 2, 3].map((n) => batcher.submit(n).then(() => events.push(`answered ${n}`))));
    assert.deepEqual(events, ['batch 1,2', 'answered 1', 'answered 2', 'batch 3', 'answered 3']);
  });

  test('a handler that throws refuses its own batch; the next batch is handled as usual', async () => {
    let calls = 0;
    const batcher = new TurnBatches<number, number>((inputs) => {
      calls += 1;
      if (calls === 1) throw new Error('disk full');
      return inputs.map((value) => ({ value }));
    }, 2);
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => batcher.submit(n)));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'fulfilled'],
    );
    assert.equal(await batcher.submit(4), 4, 'a later turn starts a new batch');
  });
});
