// JobPhaseTrace without a server or workers: worker progress as plain data, spans collected in
// memory. Covers what the integration test cannot reach cheaply: a run that fails or is
// cancelled mid-epoch, a job with no trace to join, and a tracer that throws.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Evaluation, StepTelemetry } from '../../server/engine/types.js';
import { JobPhaseTrace } from '../../server/observability/job-phase-trace.js';
import type { JobLogger } from '../../server/jobs/types.js';
import type { TrainProgress } from '../../server/jobs/worker/protocol.js';
import { startJobPhaseSpan, startTracing, type RunningTracing } from '../../server/observability/index.js';

/** Throws from onStart while `failing` is set: a broken exporter or processor. */
class BreakableProcessor implements SpanProcessor {
  failing = false;
  onStart(): void {
    if (this.failing) throw new Error('processor broke');
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Only the fields the tracer reads; the rest of a step's telemetry does not matter here. */
function step(step: number, epoch: number): TrainProgress {
  const telemetry: Partial<StepTelemetry> = { step, totalSteps: 4, epoch };
  return { kind: 'step', telemetry: telemetry as StepTelemetry };
}

function epochEnd(epoch: number, step: number): TrainProgress {
  const validation: Partial<Evaluation> = { accuracy: 0.5 };
  return { kind: 'epoch', report: { epoch, step, validation: validation as Evaluation } };
}

function recordingLogger(): JobLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => {}, error: () => {}, warn: (message) => void warnings.push(message) };
}

describe('JobPhaseTrace', () => {
  const exporter = new InMemorySpanExporter();
  // Exports wait for the resource's async attributes: spansOf flushes before reading.
  const exporting = new SimpleSpanProcessor(exporter);
  const breakable = new BreakableProcessor();
  let tracing: RunningTracing;

  before(() => {
    tracing = startTracing({ spanProcessors: [breakable, exporting] });
  });
  after(() => tracing.shutdown());

  const spansOf = async (jobId: string): Promise<ReadableSpan[]> => {
    await exporting.forceFlush();
    return exporter.getFinishedSpans().filter((s) => s.attributes['steadytune.job_id'] === jobId);
  };

  test('two epochs of one seed: phases in order, evaluations under epochs, checkpoints under the run', async () => {
    const rpc = startJobPhaseSpan(undefined, 'run');
    const trace = new JobPhaseTrace('job-a', rpc.traceParent, 2, recordingLogger());
    const progress: TrainProgress[] = [
      { kind: 'loading' },
      { kind: 'started', backend: 'cpu', examples: 8, totalSteps: 4 },
      step(1, 0),
      step(2, 0),
      epochEnd(0, 2),
      step(3, 1),
      step(4, 1),
      epochEnd(1, 4),
    ];
    for (const p of progress) trace.onProgress(7, p);
    await trace.checkpoint(7, 4, async () => undefined);
    trace.runEnded(7, { state: 'SUCCEEDED' });
    trace.close();
    rpc.end();

    const spans = await spansOf('job-a');
    const names = spans.map((s) => s.name);
    assert.deepEqual(names.filter((n) => n === 'job.evaluation').length, 2);
    const byName = (name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
    const [run] = byName('job.run');
    assert.ok(run);
    for (const name of ['job.queue_wait', 'job.data_load', 'job.run']) {
      assert.equal(byName(name)[0]?.parentSpanContext?.spanId, rpc.traceParent?.spanId, `${name} under the call`);
    }
    const epochs = byName('job.epoch');
    assert.deepEqual(
      epochs.map((e) => e.attributes['steadytune.epoch']),
      [0, 1],
    );
    for (const evaluation of byName('job.evaluation')) {
      const parent = epochs.find((e) => e.spanContext().spanId === evaluation.parentSpanContext?.spanId);
      assert.equal(parent?.attributes['steadytune.epoch'], evaluation.attributes['steadytune.epoch']);
    }
    assert.equal(byName('job.checkpoint')[0]?.parentSpanContext?.spanId, run.spanContext().spanId);
    assert.equal(run.attributes['steadytune.run_state'], 'SUCCEEDED');
  });

  test('a failed run is marked failed; a cancelled job closes what is open; without a parent each phase is a root', async () => {
    const trace = new JobPhaseTrace('job-b', undefined, 1, recordingLogger());
    trace.onProgress(1, { kind: 'loading' });
    trace.onProgress(1, { kind: 'started', backend: 'cpu', examples: 8, totalSteps: 4 });
    trace.onProgress(1, step(1, 0));
    trace.onProgress(2, { kind: 'loading' });
    trace.runEnded(1, { state: 'FAILED', error: 'worker ran out of memory' });
    await assert.rejects(
      trace.checkpoint(2, 1, async () => Promise.reject(new Error('disk full'))),
      /disk full/,
    );
    trace.close();

    const spans = await spansOf('job-b');
    const run = spans.find((s) => s.name === 'job.run');
    assert.equal(run?.status.code, SpanStatusCode.ERROR);
    assert.equal(run?.status.message, 'worker ran out of memory');
    assert.ok(
      spans.some((s) => s.name === 'job.epoch'),
      'the open epoch ended with its run',
    );
    const seed2Load = spans.find((s) => s.name === 'job.data_load' && s.attributes['steadytune.seed'] === 2);
    assert.ok(seed2Load, 'close() ended the load of a seed that never started');
    assert.equal(spans.find((s) => s.name === 'job.checkpoint')?.status.code, SpanStatusCode.ERROR);
    for (const span of spans.filter((s) => ['job.queue_wait', 'job.data_load', 'job.run'].includes(s.name))) {
      assert.equal(span.parentSpanContext, undefined, `${span.name} is a root`);
    }
  });

  test('a tracer that throws is logged once and never reaches the job', async () => {
    const logger = recordingLogger();
    breakable.failing = true;
    try {
      const trace = new JobPhaseTrace('job-c', undefined, 1, logger);
      trace.onProgress(1, { kind: 'loading' });
      trace.onProgress(1, { kind: 'started', backend: 'cpu', examples: 8, totalSteps: 4 });
      for (let s = 1; s <= 4; s++) trace.onProgress(1, step(s, 0));
      trace.onProgress(1, epochEnd(0, 4));
      assert.equal(await trace.checkpoint(1, 4, async () => 'written'), 'written');
      trace.runEnded(1, { state: 'SUCCEEDED' });
      trace.close();
    } finally {
      breakable.failing = false;
    }
    assert.deepEqual(logger.warnings, ['job tracing failed; the job goes on untraced']);
  });
});
