import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { EventLog } from '../../server/jobs/event-log.js';
import type { JobEvent } from '../../server/jobs/types.js';
import { PERSISTENCE_KINDS } from '../fixtures/jobs-persistence-fixtures.js';

const JOB = 'job-1';

async function collect(events: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const seen: JobEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

function sequences(events: readonly JobEvent[]): number[] {
  return events.map((e) => e.sequence);
}

for (const kind of PERSISTENCE_KINDS)
  describe(`EventLog (${kind.name})`, () => {
    after(() => kind.cleanup());
    function newLog(): EventLog {
      let tick = 1_000;
      return kind.open(() => (tick += 1)).eventLog;
    }

    test('assigns dense sequences from 1 and time-stamps with the clock', async () => {
      const log = newLog();
      const first = await log.append(JOB, 0, { kind: 'notice', message: 'a' });
      const second = await log.append(JOB, 7, { kind: 'notice', message: 'b' });
      assert.deepEqual([first.sequence, second.sequence], [1, 2]);
      assert.equal(second.seed, 7);
      assert.ok(second.time > first.time);
      assert.equal(await log.lastSequence(JOB), 2);
      assert.equal(await log.lastSequence('other'), 0);
      // Separate jobs have separate sequences.
      assert.equal((await log.append('job-2', 0, { kind: 'notice', message: 'c' })).sequence, 1);
    });

    test('read is inclusive of `from`; 0 and 1 both mean the start', async () => {
      const log = newLog();
      for (const message of ['a', 'b', 'c']) await log.append(JOB, 0, { kind: 'notice', message });
      assert.deepEqual(sequences(await log.read(JOB, 0)), [1, 2, 3]);
      assert.deepEqual(sequences(await log.read(JOB, 1)), [1, 2, 3]);
      assert.deepEqual(sequences(await log.read(JOB, 3)), [3]);
      assert.deepEqual(sequences(await log.read(JOB, 4)), []);
    });

    test('a terminal state_changed closes the log: followers end, later appends are refused', async () => {
      const log = newLog();
      await log.append(JOB, 0, { kind: 'state_changed', state: 'RUNNING', reason: '' });
      await log.append(JOB, 0, { kind: 'state_changed', state: 'SUCCEEDED', reason: '' });
      assert.deepEqual(sequences(await collect(log.follow(JOB, 0, new AbortController().signal))), [1, 2]);
      assert.deepEqual(sequences(await collect(log.follow(JOB, 2, new AbortController().signal))), [2]);
      assert.deepEqual(sequences(await collect(log.follow(JOB, 9, new AbortController().signal))), []);
      await assert.rejects(log.append(JOB, 0, { kind: 'notice', message: 'late' }), /closed/);
    });

    test('replay then follow loses and duplicates nothing when appends race the subscription', async () => {
      const log = newLog();
      for (let i = 0; i < 5; i += 1) await log.append(JOB, 1, { kind: 'notice', message: `pre-${i}` });
      const controller = new AbortController();
      // Several followers subscribe at different points while a producer appends in bursts,
      // some appends landing in the same turn as the subscription, some between yields.
      const followers: Promise<JobEvent[]>[] = [collect(log.follow(JOB, 0, controller.signal))];
      for (let burst = 0; burst < 20; burst += 1) {
        if (burst % 4 === 0) followers.push(collect(log.follow(JOB, burst + 1, controller.signal)));
        for (let i = 0; i < 3; i += 1) await log.append(JOB, 1, { kind: 'notice', message: `b${burst}-${i}` });
        if (burst % 3 === 0) await nextTurn();
      }
      await log.append(JOB, 0, { kind: 'state_changed', state: 'CANCELLED', reason: 'asked' });
      const total = await log.lastSequence(JOB);
      assert.equal(total, 5 + 60 + 1);
      const results = await Promise.all(followers);
      assert.deepEqual(
        sequences(results[0] ?? []),
        Array.from({ length: total }, (_, i) => i + 1),
      );
      results.slice(1).forEach((events, k) => {
        const from = k * 4 + 1;
        assert.deepEqual(
          sequences(events),
          Array.from({ length: total - from + 1 }, (_, i) => from + i),
        );
      });
    });

    test('a slow consumer still sees every event in order', async () => {
      const log = newLog();
      const controller = new AbortController();
      const seen: number[] = [];
      const consumer = (async () => {
        for await (const event of log.follow(JOB, 0, controller.signal)) {
          seen.push(event.sequence);
          await nextTurn();
        }
      })();
      for (let i = 0; i < 30; i += 1) await log.append(JOB, 0, { kind: 'notice', message: String(i) });
      await log.append(JOB, 0, { kind: 'state_changed', state: 'FAILED', reason: 'x' });
      await consumer;
      assert.deepEqual(
        seen,
        Array.from({ length: 31 }, (_, i) => i + 1),
      );
    });

    test('abort ends a parked follower without an error', async () => {
      const log = newLog();
      await log.append(JOB, 0, { kind: 'notice', message: 'only' });
      const controller = new AbortController();
      const following = collect(log.follow(JOB, 0, controller.signal));
      await nextTurn();
      controller.abort();
      assert.deepEqual(sequences(await following), [1]);
      // An already-aborted signal yields nothing.
      assert.deepEqual(await collect(log.follow(JOB, 0, AbortSignal.abort())), []);
    });
  });
