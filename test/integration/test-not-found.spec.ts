// Unknown job ids answer NOT_FOUND on every RPC that takes one (streams included).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GrpcStatus } from '../../client/index.js';
import { collect, rejection, startTestServer, type TestServer } from '../fixtures/server-harness.js';

const UNKNOWN = 'no-such-job';

describe('unknown jobs', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
  });
  after(() => server.stop());

  const calls: Record<string, (s: TestServer) => Promise<unknown>> = {
    GetJob: (s) => s.client.getJob(UNKNOWN),
    CancelJob: (s) => s.client.cancelJob(UNKNOWN),
    Evaluate: (s) => s.client.evaluate({ jobId: UNKNOWN }),
    Predict: (s) => s.client.predict({ jobId: UNKNOWN, examples: [{ features: [0] }] }),
    StreamMetrics: (s) => collect(s.client.streamMetrics(UNKNOWN)),
  };
  for (const [rpc, call] of Object.entries(calls)) {
    it(`${rpc} answers NOT_FOUND`, async () => {
      const error = await rejection(call(server));
      assert.equal(error.code, GrpcStatus.NOT_FOUND, `${rpc}: ${error.message}`);
      assert.match(error.details, /not found/);
    });
  }
});
