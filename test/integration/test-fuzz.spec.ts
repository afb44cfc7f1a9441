// Fuzzes every Trainer RPC of the real server with a few thousand hostile requests (see
// fuzz-inputs.ts) and checks that each gets a well-defined status and the server stays healthy.
//
//   STEADYTUNE_FUZZ_SEED=<n>      replay a run (the seed is printed)      default random
//   STEADYTUNE_FUZZ_COUNT=<n>     requests                                default 3000
//   STEADYTUNE_FUZZ_SECONDS=<n>   stop sending after this long            default 60
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata, status as GrpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { JobState, type SteadytuneClient } from '../../client/index.js';
import { createLogger } from '../../server/logger.js';
import { TRAINER_SERVICE_NAME } from '../../server/rpc/server.js';
import { startConfiguredServer, tokensVariable, type ConfiguredServer } from '../fixtures/configured-server.js';
import { fuzzRequest, randomFor, type FuzzContext, type FuzzRequest, type Random } from '../fixtures/fuzz-inputs.js';
import { check, healthClient } from '../fixtures/grpc-clients.js';
import { tinySpec } from '../fixtures/server-harness.js';

const SEED = Number(process.env['STEADYTUNE_FUZZ_SEED'] ?? randomInt(2 ** 31));
const COUNT = Number(process.env['STEADYTUNE_FUZZ_COUNT'] ?? 3000);
const SECONDS = Number(process.env['STEADYTUNE_FUZZ_SECONDS'] ?? 60);
const IN_FLIGHT = 4;
const CALL_DEADLINE_MS = 60_000;
const TOKEN = 'stt_fuzz-token';

/** Codes that describe the request, not a broken server. INTERNAL and UNKNOWN are failures. */
const WELL_DEFINED = new Set<GrpcStatus>([
  GrpcStatus.OK,
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.ALREADY_EXISTS,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.UNAUTHENTICATED,
]);

const passThrough = (bytes: Buffer): Buffer => bytes;

function callMetadata(random: Random): Metadata {
  const metadata = new Metadata();
  const roll = random();
  // Mostly the valid token, so requests get past authentication and reach the handlers.
  if (roll < 0.92) metadata.set('authorization', `Bearer ${TOKEN}`);
  else if (roll < 0.94) metadata.set('authorization', 'Bearer');
  else if (roll < 0.96) metadata.set('authorization', `Bearer ${'t'.repeat(4000)}`);
  else if (roll < 0.98) metadata.set('authorization', `Basic ${TOKEN}`);
  return metadata;
}

/** Sends the raw bytes; resolves with the final status (server streams: after reading them out). */
function send(client: Client, request: FuzzRequest, metadata: Metadata): Promise<StatusObject> {
  const path = `/${TRAINER_SERVICE_NAME}/${request.rpc}`;
  const options = { deadline: new Date(Date.now() + CALL_DEADLINE_MS) };
  return new Promise((resolve) => {
    if (request.rpc === 'StreamMetrics') {
      const call = client.makeServerStreamRequest(path, passThrough, passThrough, request.bytes, metadata, options);
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      call.on('status', resolve);
      return;
    }
    client.makeUnaryRequest(path, passThrough, passThrough, request.bytes, metadata, options, (error: ServiceError | null) =>
      resolve({ code: error?.code ?? GrpcStatus.OK, details: error?.details ?? '', metadata: new Metadata() }),
    );
  });
}

interface Failure {
  readonly index: number;
  readonly request: FuzzRequest;
  readonly status: StatusObject;
}

describe(`fuzzing the Trainer service (STEADYTUNE_FUZZ_SEED=${SEED})`, () => {
  let server: ConfiguredServer;
  let sdk: SteadytuneClient;
  let context: FuzzContext;
  const errorLogs: string[] = [];

  before(async () => {
    process.stdout.write(`# fuzz seed ${SEED} (replay: STEADYTUNE_FUZZ_SEED=${SEED})\n`);
    const logger = createLogger({ level: 'error', write: (line) => void errorLogs.push(line) });
    // One active job at a time: the fuzzer's accepted fine-tunes are cancelled at once anyway.
    server = await startConfiguredServer(
      { STEADYTUNE_TOKENS: tokensVariable({ fuzz: TOKEN }), STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT: '1' },
      { logger },
    );
    sdk = server.client({ token: TOKEN });
    // A finished job, so Evaluate, Predict and streams reach a real model and event log.
    const spec = tinySpec({ seeds: [1] });
    const started = await sdk.startFineTune({ spec });
    const finished = await sdk.waitForJob(started.job?.id ?? '');
    assert.equal(finished.state, JobState.JOB_STATE_SUCCEEDED, finished.reason);
    context = { jobIds: [finished.id], validSpec: spec };
  });
  after(() => server.stop());

  it('answers undecodable requests INVALID_ARGUMENT (grpc-js alone says INTERNAL)', async () => {
    const client = new Client(server.address, credentials.createInsecure());
    const valid = callMetadata(() => 0);
    const cases: [FuzzRequest, GrpcStatus][] = [
      // Field 1 (job_id) as a length-delimited value running past the end.
      [{ rpc: 'GetJob', kind: 'wire', bytes: Buffer.from([0x0a, 0x05, 0x61]) }, GrpcStatus.INVALID_ARGUMENT],
      // from_sequence = 2^64 - 1: beyond what a JavaScript number holds exactly.
      [{ rpc: 'StreamMetrics', kind: 'wire', bytes: Buffer.from('10ffffffffffffffffff01', 'hex') }, GrpcStatus.INVALID_ARGUMENT],
      // Wire type 7 does not exist.
      [{ rpc: 'Predict', kind: 'wire', bytes: Buffer.from([0x0f, 0x00]) }, GrpcStatus.INVALID_ARGUMENT],
      // An empty message is a valid one with every field at its default.
      [{ rpc: 'ListJobs', kind: 'wire', bytes: Buffer.alloc(0) }, GrpcStatus.OK],
    ];
    try {
      for (const [request, expected] of cases) {
        const status = await send(client, request, valid);
        assert.equal(status.code, expected, `${request.rpc}: ${status.details}`);
      }
    } finally {
      client.close();
    }
  });

  it('answers every request with a well-defined status and never breaks', async () => {
    const client = new Client(server.address, credentials.createInsecure());
    const counts = new Map<string, number>();
    const failures: Failure[] = [];
    const stopAt = Date.now() + SECONDS * 1000;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < COUNT && Date.now() < stopAt) {
        const index = next++;
        const random = randomFor(SEED, index);
        const request = fuzzRequest(random, context);
        const status = await send(client, request, callMetadata(random));
        const key = `${request.rpc} ${GrpcStatus[status.code]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (!WELL_DEFINED.has(status.code)) failures.push({ index, request, status });
        if (request.rpc === 'StartFineTune' && status.code === GrpcStatus.OK) await cancelEverything(sdk);
      }
    };
    try {
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    } finally {
      client.close();
    }
    process.stdout.write(
      `# ${next} requests: ${[...counts]
        .sort()
        .map(([k, n]) => `${k}=${n}`)
        .join(', ')}\n`,
    );
    assert.ok(next >= Math.min(COUNT, 500), `only ${next} requests in ${SECONDS}s`);
    assert.deepEqual(failures.slice(0, 10).map(describeFailure), [], `seed ${SEED}: ${failures.length} ill-defined statuses`);
    assert.deepEqual(
      errorLogs.filter((line) => line.includes('"component":"rpc"')),
      [],
      `seed ${SEED}: rpc errors logged`,
    );
  });

  it('is still SERVING and answers valid calls afterwards', async () => {
    const health = healthClient(server.address);
    try {
      assert.equal(await check(health, TRAINER_SERVICE_NAME), 'SERVING');
    } finally {
      health.close();
    }
    const [jobId] = context.jobIds;
    assert.equal((await sdk.getJob(jobId ?? '')).state, JobState.JOB_STATE_SUCCEEDED);
    const predicted = await sdk.predict({ jobId: jobId ?? '', examples: [{ features: new Array<number>(784).fill(0) }] });
    assert.equal(predicted.predictions.length, 1);
  });
});

/** Fine-tunes the fuzzer managed to start would hold the worker that Evaluate and Predict need. */
async function cancelEverything(sdk: SteadytuneClient): Promise<void> {
  for (const state of [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING]) {
    for (const job of (await sdk.listJobs({ state })).jobs) await sdk.cancelJob(job.id).catch(() => undefined);
  }
}

function describeFailure({ index, request, status }: Failure): string {
  const head = request.bytes.subarray(0, 64).toString('hex');
  const sent = `${request.rpc} (${request.kind}, ${request.bytes.length} bytes ${head}…)`;
  return `#${index} ${sent} → ${GrpcStatus[status.code]}: ${status.details}`;
}
