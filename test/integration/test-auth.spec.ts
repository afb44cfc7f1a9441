// Bearer-token authentication and tenant isolation over the wire: without a valid token every
// Trainer call is UNAUTHENTICATED; with one, another tenant's jobs do not exist (NOT_FOUND,
// worded exactly as for an unknown id, and absent from ListJobs). Health and reflection stay open.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GrpcStatus, JobState, type Job, type SteadytuneClient } from '../../client/index.js';
import { TRAINER_SERVICE_NAME } from '../../server/rpc/server.js';
import { startConfiguredServer, tokensVariable, type ConfiguredServer } from '../fixtures/configured-server.js';
import { check, healthClient, reflectionClient } from '../fixtures/grpc-clients.js';
import { collect, rejection, tinySpec } from '../fixtures/server-harness.js';

const TOKENS = { acme: 'stt_acme-test-token', globex: 'stt_globex-test-token' };
const UNKNOWN_JOB = 'no-such-job';

/** The RPCs that name a job. */
const JOB_RPCS = ['GetJob', 'CancelJob', 'StreamMetrics', 'Evaluate', 'Predict', 'ExportModel'] as const;
type RpcName = (typeof JOB_RPCS)[number] | 'StartFineTune' | 'ListJobs';

/** Every Trainer RPC, aimed at one job id. */
function everyRpc(jobId: string): Record<RpcName, (client: SteadytuneClient) => Promise<unknown>> {
  return {
    StartFineTune: (c) => c.startFineTune({ spec: tinySpec() }),
    GetJob: (c) => c.getJob(jobId),
    ListJobs: (c) => c.listJobs(),
    CancelJob: (c) => c.cancelJob(jobId),
    StreamMetrics: (c) => collect(c.streamMetrics(jobId)),
    Evaluate: (c) => c.evaluate({ jobId }),
    Predict: (c) => c.predict({ jobId, examples: [{ features: new Array<number>(784).fill(0) }] }),
    ExportModel: (c) => c.exportModel(jobId, path.join(tmpdir(), `steadytune-auth-export-${process.pid}`)),
  };
}

describe('authentication and tenant isolation', () => {
  let server: ConfiguredServer;
  let acme: SteadytuneClient;
  let globex: SteadytuneClient;
  let acmeJob: Job;

  before(async () => {
    server = await startConfiguredServer({ STEADYTUNE_TOKENS: tokensVariable(TOKENS) });
    acme = server.client({ token: TOKENS.acme });
    globex = server.client({ token: TOKENS.globex });
  });
  after(async () => {
    await server.stop();
    await rm(path.join(tmpdir(), `steadytune-auth-export-${process.pid}`), { recursive: true, force: true });
  });

  describe('without a valid token', () => {
    const callers: Record<string, () => SteadytuneClient> = {
      'no token': () => server.client(),
      'an unknown token': () => server.client({ token: 'stt_guessed' }),
      "a token's digest instead of the token": () => server.client({ token: tokensVariable({ x: TOKENS.acme }).slice(2) }),
    };
    for (const [who, caller] of Object.entries(callers)) {
      it(`answers UNAUTHENTICATED to every Trainer RPC with ${who}`, async () => {
        const client = caller();
        for (const [rpc, call] of Object.entries(everyRpc(UNKNOWN_JOB))) {
          const error = await rejection(call(client));
          assert.equal(error.code, GrpcStatus.UNAUTHENTICATED, `${rpc}: ${error.message}`);
        }
      });
    }

    it('leaves health and reflection open for probes', async () => {
      const health = healthClient(server.address);
      const reflection = reflectionClient(server.address);
      try {
        assert.equal(await check(health, TRAINER_SERVICE_NAME), 'SERVING');
        const services = await new Promise<string[]>((resolve, reject) => {
          const call = reflection.serverReflectionInfo();
          call.once('data', (response: { listServicesResponse?: { service: { name: string }[] } }) => {
            resolve(response.listServicesResponse?.service.map((s) => s.name) ?? []);
            call.end();
          });
          call.once('error', reject);
          call.write({ listServices: '' });
        });
        assert.ok(services.includes(TRAINER_SERVICE_NAME));
      } finally {
        health.close();
        reflection.close();
      }
    });
  });

  describe("another tenant's job", () => {
    before(async () => {
      const spec = tinySpec({ seeds: [1] });
      const started = await acme.startFineTune({ spec, idempotencyKey: 'shared-key', labels: { team: 'x' } });
      assert.ok(started.job);
      acmeJob = started.job;
    });

    it('cannot be cancelled by another tenant while it runs', async () => {
      const error = await rejection(globex.cancelJob(acmeJob.id));
      assert.equal(error.code, GrpcStatus.NOT_FOUND);
      const finished = await acme.waitForJob(acmeJob.id);
      assert.equal(finished.state, JobState.JOB_STATE_SUCCEEDED, finished.reason);
    });

    it('works for its owner', async () => {
      assert.equal((await acme.getJob(acmeJob.id)).id, acmeJob.id);
      assert.ok((await acme.listJobs()).jobs.some((job) => job.id === acmeJob.id));
      assert.ok((await collect(acme.streamMetrics(acmeJob.id))).length > 0);
      assert.equal((await acme.evaluate({ jobId: acmeJob.id })).evaluations.length, 1);
      const predicted = await acme.predict({ jobId: acmeJob.id, examples: [{ features: new Array<number>(784).fill(0) }] });
      assert.equal(predicted.predictions.length, 1);
      const bundle = await acme.exportModel(acmeJob.id, path.join(tmpdir(), `steadytune-auth-export-${process.pid}`, 'owner'));
      assert.ok(bundle.files.some((file) => file.path === 'run-card.json'));
    });

    for (const rpc of JOB_RPCS) {
      it(`is NOT_FOUND for ${rpc}, worded as for an unknown job`, async () => {
        const stranger = await rejection(everyRpc(acmeJob.id)[rpc](globex));
        const unknown = await rejection(everyRpc(UNKNOWN_JOB)[rpc](globex));
        assert.equal(stranger.code, GrpcStatus.NOT_FOUND, `${rpc}: ${stranger.message}`);
        assert.equal(stranger.details.replaceAll(acmeJob.id, UNKNOWN_JOB), unknown.details);
      });
    }

    it('is absent from ListJobs, even when filtered by its labels', async () => {
      assert.deepEqual((await globex.listJobs()).jobs, []);
      assert.deepEqual((await globex.listJobs({ labelSelector: { team: 'x' } })).jobs, []);
    });

    it("does not share idempotency keys: the same key starts the other tenant's own job", async () => {
      const started = await globex.startFineTune({ spec: tinySpec({ seeds: [1] }), idempotencyKey: 'shared-key' });
      assert.equal(started.created, true);
      assert.notEqual(started.job?.id, acmeJob.id);
      await globex.cancelJob(started.job?.id ?? '');
      assert.deepEqual(
        (await acme.listJobs()).jobs.map((job) => job.id),
        [acmeJob.id],
      );
    });
  });
});
