// Traces of a real DSGD job on the composition root main.ts runs, collected in memory: the
// SDK starts before the server exists (as main() does), a tiny two-epoch job trains on a real
// worker thread with a checkpoint every few steps, and its phase spans must hang where they
// belong: queue wait, data load and the run under the StartFineTune server span; epochs and
// checkpoints under the run; each evaluation under the epoch it closes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, type HrTime } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { JobState } from '../../client/index.js';
import { startTracing, type RunningTracing } from '../../server/observability/index.js';
import { collect, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

const CHECKPOINT_EVERY_STEPS = 4;
const CLOCK_SLACK_MS = 5;

describe('job phase spans of a real fine-tune', () => {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  let tracing: RunningTracing;
  let server: TestServer;

  before(async () => {
    // First: the gRPC instrumentation must see the server register its services.
    tracing = startTracing({ spanProcessors: [processor] });
    server = await startTestServer({
      concurrency: 1,
      durability: { store: 'sqlite', checkpointEverySteps: CHECKPOINT_EVERY_STEPS, checkpointsKept: 2 },
    });
  });

  after(async () => {
    await server?.stop();
    await tracing?.shutdown();
  });

  it('hangs queue wait, data load, run, epochs, evaluations and checkpoints off the StartFineTune span', async (t) => {
    const { client } = server;
    const started = await client.startFineTune({ spec: tinySpec({ seeds: [3], epochs: 2 }) });
    const jobId = started.job?.id ?? assert.fail('no job id');
    await collect(client.streamMetrics(jobId));
    assert.equal((await client.getJob(jobId)).state, JobState.JOB_STATE_SUCCEEDED);

    await processor.forceFlush();
    const spans = exporter.getFinishedSpans();
    for (const line of spanTree(spans)) t.diagnostic(line);

    const rpc = only(
      spans.filter((s) => s.kind === SpanKind.SERVER && s.name.endsWith('steadytune.v1.Trainer/StartFineTune')),
      'StartFineTune server span',
    );
    const { traceId } = rpc.spanContext();
    const phases = spans.filter((s) => s.name.startsWith('job.'));
    for (const phase of phases) {
      assert.equal(phase.spanContext().traceId, traceId, `${phase.name} is in the StartFineTune trace`);
      assert.equal(phase.attributes['steadytune.job_id'], jobId, `${phase.name} names its job`);
    }

    const queueWait = only(named(phases, 'job.queue_wait'), 'job.queue_wait');
    const dataLoad = only(named(phases, 'job.data_load'), 'job.data_load');
    const run = only(named(phases, 'job.run'), 'job.run');
    for (const span of [queueWait, dataLoad, run])
      assert.equal(parentOf(span), rpc.spanContext().spanId, `${span.name} under StartFineTune`);
    assert.equal(run.attributes['steadytune.seed'], 3);
    assert.equal(run.attributes['steadytune.run_state'], 'SUCCEEDED');
    // One after the other: the queue wait ends as the worker starts loading; training follows the
    // load. A span's start is read from Date.now() and its end from the monotonic clock, so the
    // two may disagree by a millisecond or two.
    assert.ok(endOf(queueWait) <= startOf(dataLoad) + CLOCK_SLACK_MS, 'queue wait, then data load');
    assert.ok(endOf(dataLoad) <= startOf(run) + CLOCK_SLACK_MS, 'data load, then run');

    const epochs = named(phases, 'job.epoch');
    assert.deepEqual(epochs.map((e) => e.attributes['steadytune.epoch']).sort(), [0, 1]);
    for (const epoch of epochs) assert.equal(parentOf(epoch), run.spanContext().spanId, 'epoch under run');

    const evaluations = named(phases, 'job.evaluation');
    assert.equal(evaluations.length, 2, 'one validation pass per epoch');
    for (const evaluation of evaluations) {
      const epoch = epochs.find((e) => e.spanContext().spanId === parentOf(evaluation)) ?? assert.fail('evaluation under an epoch');
      assert.equal(evaluation.attributes['steadytune.epoch'], epoch.attributes['steadytune.epoch']);
      assert.equal(typeof evaluation.attributes['steadytune.validation_accuracy'], 'number');
    }

    const checkpoints = named(phases, 'job.checkpoint');
    const steps = checkpoints.map((c) => Number(c.attributes['steadytune.step']));
    assert.ok(steps.includes(CHECKPOINT_EVERY_STEPS), `a checkpoint every ${CHECKPOINT_EVERY_STEPS} steps: ${steps.join(', ')}`);
    for (const checkpoint of checkpoints) {
      assert.equal(parentOf(checkpoint), run.spanContext().spanId, 'checkpoint under run');
      assert.notEqual(checkpoint.status.code, SpanStatusCode.ERROR, 'the write succeeded');
    }
  });
});

function named(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name);
}

function only(spans: readonly ReadableSpan[], what: string): ReadableSpan {
  assert.equal(spans.length, 1, `exactly one ${what}; got ${spans.length}`);
  return spans[0] ?? assert.fail('unreachable');
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

const milliseconds = ([seconds, nanos]: HrTime): number => seconds * 1000 + nanos / 1e6;
const startOf = (span: ReadableSpan): number => milliseconds(span.startTime);
const endOf = (span: ReadableSpan): number => milliseconds(span.endTime);

/** The spans as an indented tree (for the test's diagnostics), children by start time. */
function spanTree(spans: readonly ReadableSpan[]): string[] {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const children = (parent: string | undefined): ReadableSpan[] =>
    spans
      .filter((s) => (parent === undefined ? !ids.has(parentOf(s) ?? '') : parentOf(s) === parent))
      .sort((a, b) => startOf(a) - startOf(b));
  const lines: string[] = [];
  const walk = (span: ReadableSpan, depth: number): void => {
    const attributes = ['steadytune.seed', 'steadytune.epoch', 'steadytune.step']
      .filter((key) => span.attributes[key] !== undefined)
      .map((key) => `${key.replace('steadytune.', '')}=${String(span.attributes[key])}`);
    lines.push(`${'  '.repeat(depth)}${span.name} ${(endOf(span) - startOf(span)).toFixed(1)} ms ${attributes.join(' ')}`.trimEnd());
    for (const child of children(span.spanContext().spanId)) walk(child, depth + 1);
  };
  for (const root of children(undefined)) walk(root, 0);
  return lines;
}
