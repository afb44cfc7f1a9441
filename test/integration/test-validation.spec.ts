// Invalid requests: INVALID_ARGUMENT with a google.rpc.BadRequest naming every bad field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { BadRequest } from '../../client/gen/google/rpc/error_details.js';
import { Status } from '../../client/gen/google/rpc/status.js';
import { TrainerClient } from '../../client/gen/steadytune/v1/trainer.js';
import { GrpcStatus, type FineTuneSpec } from '../../client/index.js';
import { rejection, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

function badSpec(): FineTuneSpec {
  const spec = tinySpec();
  return {
    ...spec,
    batchSize: 5000,
    epochs: 1001,
    seeds: [1, 2, 1],
    method: { method: { $case: 'dsgd', value: { lambda: 1.5, schedule: 0 } } },
    optimizer: { kind: 0, learningRate: -0.1, momentum: 0, lrSchedule: 0 },
  };
}

const EXPECTED_FIELDS = [
  'spec.batch_size',
  'spec.epochs',
  'spec.seeds[2]',
  'spec.method.dsgd.lambda',
  'spec.optimizer.learning_rate',
  'labels["Bad Key"]',
];

describe('request validation', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
  });
  after(() => server.stop());

  it('names every bad field of a StartFineTune at once', async () => {
    const error = await rejection(server.client.startFineTune({ spec: badSpec(), labels: { 'Bad Key': 'x' } }));
    assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT);
    const fields = error.fieldViolations.map((v) => v.field);
    for (const field of EXPECTED_FIELDS) assert.ok(fields.includes(field), `${field} missing from ${fields.join(', ')}`);
    assert.ok(error.fieldViolations.every((v) => v.description.length > 0));
  });

  it('puts a google.rpc.Status with BadRequest in grpc-status-details-bin', async () => {
    const raw = new TrainerClient(server.address, credentials.createInsecure());
    try {
      const error = await new Promise<ServiceError>((resolve, reject) =>
        raw.startFineTune({ spec: badSpec(), idempotencyKey: '', displayName: '', labels: {} }, (err) =>
          err ? resolve(err) : reject(new Error('expected INVALID_ARGUMENT')),
        ),
      );
      assert.equal(error.code, status.INVALID_ARGUMENT);
      const trailer = error.metadata.get('grpc-status-details-bin')[0];
      assert.ok(trailer instanceof Buffer, 'details trailer present');
      const rich = Status.decode(trailer);
      assert.equal(rich.code, status.INVALID_ARGUMENT);
      assert.equal(rich.message, error.details);
      assert.equal(rich.details[0]?.typeUrl, 'type.googleapis.com/google.rpc.BadRequest');
      const badRequest = BadRequest.decode(rich.details[0]?.value ?? Buffer.alloc(0));
      assert.ok(badRequest.fieldViolations.some((v) => v.field === 'spec.method.dsgd.lambda'));
    } finally {
      raw.close();
    }
  });

  it('requires a training dataset and a job id', async () => {
    const noTrain = await rejection(server.client.startFineTune({ spec: { ...tinySpec(), train: undefined } }));
    assert.equal(noTrain.code, GrpcStatus.INVALID_ARGUMENT);
    assert.deepEqual(
      noTrain.fieldViolations.map((v) => v.field),
      ['spec.train'],
    );

    const noId = await rejection(server.client.getJob(''));
    assert.equal(noId.code, GrpcStatus.INVALID_ARGUMENT);
    assert.deepEqual(
      noId.fieldViolations.map((v) => v.field),
      ['job_id'],
    );
  });

  it('rejects an unknown enum value from a newer client', async () => {
    const spec = { ...tinySpec(), optimizer: { kind: 17, learningRate: 0, momentum: 0, lrSchedule: 0 } };
    const error = await rejection(server.client.startFineTune({ spec }));
    assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT);
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['spec.optimizer.kind'],
    );
  });

  it('checks ListJobs paging', async () => {
    const error = await rejection(server.client.listJobs({ pageSize: 201, labelSelector: { UPPER: 'x' } }));
    assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT);
    assert.deepEqual(error.fieldViolations.map((v) => v.field).sort(), ['label_selector["UPPER"]', 'page_size']);
  });
});
