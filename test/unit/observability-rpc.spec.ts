// The RPC latency interceptor on a real grpc-js server over loopback, and the scrape endpoint
// serving that registry over real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status, type Client } from '@grpc/grpc-js';
import { SteadytuneMetrics, rpcMetricsInterceptor, startMetricsServer, statusName } from '../../server/observability/index.js';
import { callEcho, echoClient, startEchoServer, type EchoServer } from '../fixtures/observability-grpc-fixture.js';

describe('rpcMetricsInterceptor', () => {
  const metrics = new SteadytuneMetrics({ defaultMetrics: false });
  // A fake monotonic clock: every reading advances 250 ms, so each call lasts exactly 0.25 s.
  let now = 0;
  const clock = (): number => (now += 250);
  let server: EchoServer;
  let client: Client;

  before(async () => {
    server = await startEchoServer(
      {
        Echo: (call: { request: { text: string } }, callback: (error: null, reply: { text: string }) => void) =>
          callback(null, { text: call.request.text }),
        Fail: (_call: unknown, callback: (error: { code: number; details: string }) => void) =>
          callback({ code: status.NOT_FOUND, details: 'no such thing' }),
      },
      [rpcMetricsInterceptor(metrics, clock)],
    );
    client = echoClient(server.address);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test('observes each call once, by method path and status name', async () => {
    assert.equal((await callEcho(client, 'Echo', 'hi')).reply?.text, 'hi');
    assert.equal((await callEcho(client, 'Echo', 'again')).reply?.text, 'again');
    assert.equal((await callEcho(client, 'Fail', 'x')).error?.code, status.NOT_FOUND);

    const data = await metrics.rpcDuration.get();
    const pick = (name: string, labels: Record<string, string>): number | undefined =>
      data.values.find(
        (v) => v.metricName === name && Object.entries(labels).every(([k, value]) => String(v.labels[k as 'code']) === value),
      )?.value;
    const echo = { rpc_method: 'test.v1.Echo/Echo', code: 'OK' };
    const fail = { rpc_method: 'test.v1.Echo/Fail', code: 'NOT_FOUND' };
    assert.equal(pick('steadytune_rpc_duration_seconds_count', echo), 2);
    assert.equal(pick('steadytune_rpc_duration_seconds_sum', echo), 0.5);
    assert.equal(pick('steadytune_rpc_duration_seconds_bucket', { ...echo, le: '0.1' }), 0);
    assert.equal(pick('steadytune_rpc_duration_seconds_bucket', { ...echo, le: '0.25' }), 2);
    assert.equal(pick('steadytune_rpc_duration_seconds_count', fail), 1);
    assert.equal(pick('steadytune_rpc_duration_seconds_count', { rpc_method: 'test.v1.Echo/Fail', code: 'OK' }), undefined);
  });

  test('status names are the gRPC code names', () => {
    assert.equal(statusName(0), 'OK');
    assert.equal(statusName(4), 'DEADLINE_EXCEEDED');
    assert.equal(statusName(16), 'UNAUTHENTICATED');
    assert.equal(statusName(99), 'UNKNOWN');
  });
});

describe('startMetricsServer', () => {
  test('serves /metrics in the text format, /healthz, and refuses the rest', async () => {
    const metrics = new SteadytuneMetrics();
    metrics.trainSteps.inc({ method: 'dsgd', model_family: 'mlp', backend: 'cpu' }, 3);
    let healthy = true;
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, healthy: () => healthy });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const scrape = await fetch(`${base}/metrics`);
      assert.equal(scrape.status, 200);
      assert.equal(scrape.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const text = await scrape.text();
      assert.match(text, /^steadytune_train_steps_total\{method="dsgd",model_family="mlp",backend="cpu"\} 3$/m);
      assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);

      assert.equal((await fetch(`${base}/metrics`, { method: 'HEAD' })).status, 200);
      const health = await fetch(`${base}/healthz`);
      assert.deepEqual([health.status, await health.text()], [200, 'ok\n']);
      healthy = false;
      assert.equal((await fetch(`${base}/healthz`)).status, 503);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      const post = await fetch(`${base}/metrics`, { method: 'POST' });
      assert.deepEqual([post.status, post.headers.get('allow')], [405, 'GET, HEAD']);
    } finally {
      await server.close();
    }
    // Closed means closed: the port no longer answers, and a second close is harmless.
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/metrics`));
    await server.close();
  });
});
