// Tracing end to end in one process: the real NodeSDK with the gRPC instrumentation, a real
// grpc-js server on loopback, and spans collected in memory. The handler plays StartFineTune:
// it captures the trace parent, and the job's phases run later, outside the call, as jobs/ does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  currentTraceParent,
  startJobPhaseSpan,
  startTracing,
  tracingEnabled,
  withJobPhaseSpan,
  type JobTraceParent,
  type RunningTracing,
} from '../../server/observability/index.js';
import { callEcho, echoClient, startEchoServer, type EchoServer } from '../fixtures/observability-grpc-fixture.js';

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  // Exports wait for the resource's async attributes (host, process): flush before reading.
  const processor = new SimpleSpanProcessor(exporter);
  let tracing: RunningTracing;
  let server: EchoServer;
  let client: Client;
  const parents = new Map<string, JobTraceParent | undefined>();

  before(async () => {
    tracing = startTracing({ spanProcessors: [processor] });
    server = await startEchoServer({
      Echo: (call: { request: { text: string } }, callback: (error: null, reply: { text: string }) => void) => {
        // Like EmbeddedJobService.start: runs inside the server span, stores where phases hang.
        parents.set(call.request.text, currentTraceParent());
        callback(null, { text: call.request.text });
      },
      Fail: (_call: unknown, callback: (error: null, reply: { text: string }) => void) => callback(null, { text: '' }),
    });
    client = echoClient(server.address);
  });
  after(async () => {
    client.close();
    await server.close();
    await tracing.shutdown();
  });

  test('is off by default and on with an OTLP endpoint or STEADYTUNE_OTEL=1', () => {
    assert.equal(tracingEnabled({}), false);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
    assert.equal(tracingEnabled({ STEADYTUNE_OTEL: '1' }), true);
    assert.equal(tracingEnabled({ STEADYTUNE_OTEL: '0' }), false);
    assert.equal(tracingEnabled({ STEADYTUNE_OTEL: '1', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracing.enabled, true);
  });

  test("job phase spans are children of the RPC server span, which joins the caller's trace", async () => {
    // The client side is instrumented too (same process): its span's context travels in the
    // call's metadata as W3C trace context, so the server span must join that trace.
    assert.equal((await callEcho(client, 'Echo', 'job-1')).reply?.text, 'job-1');
    const parent = parents.get('job-1');
    assert.ok(parent, 'the handler ran inside a recording server span');

    // Later, outside any call: the phases of the job, carried by the plain-data parent.
    await withJobPhaseSpan(parent, 'queue_wait', async () => undefined, { attributes: { 'steadytune.job_id': 'job-1' } });
    const run = startJobPhaseSpan(structuredClone(parent), 'run', { attributes: { 'steadytune.seed': 42 } });
    for (const epoch of [0, 1]) {
      startJobPhaseSpan(run.traceParent, 'epoch', { attributes: { 'steadytune.epoch': epoch } }).end();
    }
    await assert.rejects(
      withJobPhaseSpan(run.traceParent, 'checkpoint', async () => {
        throw new Error('disk full');
      }),
      /disk full/,
    );
    run.end();
    run.end();

    await processor.forceFlush();
    const spans = exporter.getFinishedSpans();
    const rpc = only(spans, 'grpc.test.v1.Echo/Echo', SpanKind.SERVER);
    const caller = only(spans, 'grpc.test.v1.Echo/Echo', SpanKind.CLIENT);
    const callerTraceId = caller.spanContext().traceId;
    assert.equal(rpc.spanContext().traceId, callerTraceId);
    assert.equal(rpc.parentSpanContext?.spanId, caller.spanContext().spanId);
    assert.deepEqual(parent, { traceId: callerTraceId, spanId: rpc.spanContext().spanId, traceFlags: 1 });

    const queueWait = only(spans, 'job.queue_wait');
    const runSpan = only(spans, 'job.run');
    for (const phase of [queueWait, runSpan]) {
      assert.equal(phase.spanContext().traceId, callerTraceId);
      assert.equal(phase.parentSpanContext?.spanId, rpc.spanContext().spanId);
    }
    assert.equal(queueWait.attributes['steadytune.job_id'], 'job-1');
    const epochs = spans.filter((s) => s.name === 'job.epoch');
    assert.deepEqual(
      epochs.map((s) => s.attributes['steadytune.epoch']),
      [0, 1],
    );
    for (const epoch of epochs) assert.equal(epoch.parentSpanContext?.spanId, runSpan.spanContext().spanId);
    const checkpoint = only(spans, 'job.checkpoint');
    assert.equal(checkpoint.parentSpanContext?.spanId, runSpan.spanContext().spanId);
    assert.equal(checkpoint.status.message, 'disk full');
    assert.equal(checkpoint.events[0]?.name, 'exception');
  });

  test('without a trace parent a phase is its own root', async () => {
    const orphan = startJobPhaseSpan(undefined, 'data_load');
    orphan.end();
    await processor.forceFlush();
    const span = only(exporter.getFinishedSpans(), 'job.data_load');
    assert.equal(span.parentSpanContext, undefined);
  });
});

function only(spans: readonly ReadableSpan[], name: string, kind?: SpanKind): ReadableSpan {
  const matches = spans.filter((span) => span.name === name && (kind === undefined || span.kind === kind));
  assert.equal(matches.length, 1, `exactly one ${name} span; got ${spans.map((s) => s.name).join(', ')}`);
  const [span] = matches;
  if (span === undefined) throw new Error('unreachable');
  return span;
}
