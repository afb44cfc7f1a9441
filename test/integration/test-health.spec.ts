// grpc.health.v1.Health as the gRPC health-checking protocol specifies it: Check for '' (the
// whole server) and for the service, NOT_FOUND for unknown names, Watch streams changes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { GrpcStatus, SteadytuneClient } from '../../client/index.js';
import { TRAINER_SERVICE_NAME } from '../../server/rpc/server.js';
import { check, healthClient, type HealthClient, type ServingStatus } from '../fixtures/grpc-clients.js';
import { rejection, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

describe('health checking', () => {
  let server: TestServer;
  let health: HealthClient;

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
    health = healthClient(server.address);
  });
  after(async () => {
    health.close();
    await server.stop();
  });

  it('reports SERVING for the server and for steadytune.v1.Trainer once workers are up', async () => {
    assert.equal(await check(health, ''), 'SERVING');
    assert.equal(await check(health, TRAINER_SERVICE_NAME), 'SERVING');
  });

  it('answers NOT_FOUND for a service it does not know', async () => {
    const error = await check(health, 'no.such.Service').then(
      () => assert.fail('expected NOT_FOUND'),
      (e: ServiceError) => e,
    );
    assert.equal(error.code, status.NOT_FOUND);
  });

  it('Watch sends the current status, then NOT_SERVING when the server drains', async () => {
    const watch = health.watch({ service: TRAINER_SERVICE_NAME });
    const seen: ServingStatus[] = [];
    const ended = new Promise<void>((resolve) => {
      watch.on('data', (message: { status: ServingStatus }) => {
        seen.push(message.status);
        if (seen.length === 1) server.app.stop(2_000).catch(() => undefined);
        if (message.status === 'NOT_SERVING') resolve();
      });
    });
    watch.on('error', () => undefined);
    await ended;
    watch.cancel();
    assert.deepEqual(seen.slice(0, 2), ['SERVING', 'NOT_SERVING']);
  });

  it('refuses new Trainer calls with UNAVAILABLE while shutting down', async () => {
    // A client that does not retry (the SDK retries StartFineTune, which always carries an
    // idempotency key), so the server's first answer is what we see.
    const once = new SteadytuneClient(server.address, { retry: { maxAttempts: 1 } });
    const error = await rejection(once.startFineTune({ spec: tinySpec() }, { deadlineMs: 5_000 }));
    once.close();
    // The listener may already be gone (UNAVAILABLE too): either way clients retry elsewhere.
    assert.equal(error.code, GrpcStatus.UNAVAILABLE);
  });
});
