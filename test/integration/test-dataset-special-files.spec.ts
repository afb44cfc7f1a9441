// Dataset paths naming something other than a regular file (a FIFO, a device) are refused
// with INVALID_ARGUMENT on the field that named them, and never opened in a way that blocks:
// a blocked open holds one of libuv's four file threads, and every file operation of the
// server queues behind them. The deadline below only tells "answered" from "hung": a
// refusal takes milliseconds, a hang lasts until a writer opens the FIFO.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetFormat, GrpcStatus, type SteadytuneClient } from '../../client/index.js';
import { startConfiguredServer, type ConfiguredServer } from '../fixtures/configured-server.js';
import { jsonl, makeFifo, pointRows, releaseFifoReaders, writeFixture, writeImageFolder } from '../fixtures/dataset-fixtures.js';
import { rejection } from '../fixtures/server-harness.js';

const HUNG_AFTER_MS = 10_000;
/** More than libuv's default thread pool (4): enough blocked opens would stall every file operation. */
const FIFO_REGISTRATIONS = 8;
const JSONL = DatasetFormat.DATASET_FORMAT_JSONL;

async function answered<T>(call: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${HUNG_AFTER_MS} ms (the server is stalled)`)), HUNG_AFTER_MS);
  });
  try {
    return await Promise.race([call, hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function refusal(call: Promise<unknown>, what: string, field: string): Promise<string> {
  const error = await answered(rejection(call), what);
  assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT, error.message);
  const violation = error.fieldViolations.find((v) => v.field === field);
  assert.ok(violation, `no violation on ${field}: ${JSON.stringify(error.fieldViolations)}`);
  return violation.description;
}

describe('dataset paths that are not regular files', () => {
  let root: string;
  const fifos: string[] = [];
  let server: ConfiguredServer;
  let client: SteadytuneClient;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'steadytune-special-'));
    await writeFixture(root, 'points.jsonl', jsonl(pointRows(20)));
    await writeImageFolder(root, 'sky', 2);
    for (const name of ['pipe.jsonl', 'sky/day/pipe.png']) fifos.push(path.join(root, await makeFifo(root, name)));
    server = await startConfiguredServer({ STEADYTUNE_DATA_ROOT: root });
    client = server.client();
  });
  after(async () => {
    // Only matters after a regression to a blocking open: lets the server stop.
    await Promise.all(fifos.map(releaseFifoReaders));
    await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a FIFO named by train.path, and one inside an image folder', async () => {
    const description = await refusal(
      client.registerDataset({ format: JSONL, train: { path: 'pipe.jsonl' } }),
      'FIFO registration',
      'train.path',
    );
    assert.match(description, /FIFO.*not a regular file/);
    const inFolder = await refusal(
      client.registerDataset({ format: DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER, train: { path: 'sky' } }),
      'image folder holding a FIFO',
      'train.files["day/pipe.png"]',
    );
    assert.match(inFolder, /FIFO/);
  });

  it(`keeps serving after ${FIFO_REGISTRATIONS} concurrent FIFO registrations`, async () => {
    await Promise.all(
      Array.from({ length: FIFO_REGISTRATIONS }, (_, i) =>
        refusal(client.registerDataset({ format: JSONL, train: { path: 'pipe.jsonl' } }), `FIFO registration ${i}`, 'train.path'),
      ),
    );
    // A registration reads a file (the thread pool); both must answer right after.
    const registered = await answered(client.registerDataset({ format: JSONL, train: { path: 'points.jsonl' } }), 'regular registration');
    assert.equal(registered.dataset?.numExamples, 20);
    await answered(client.listJobs(), 'ListJobs');
  });
});

describe('dataset paths naming a device', () => {
  // Making a device node needs CAP_MKNOD, which a test must not need; /dev as the data root
  // puts real character devices under it without any privilege.
  let server: ConfiguredServer;

  before(async () => {
    server = await startConfiguredServer({ STEADYTUNE_DATA_ROOT: '/dev' });
  });
  after(async () => {
    await server.stop();
  });

  it('refuses a character device named by train.path', async () => {
    const client = server.client();
    for (const device of ['null', 'zero']) {
      const description = await refusal(client.registerDataset({ format: JSONL, train: { path: device } }), `/dev/${device}`, 'train.path');
      assert.match(description, /character device, not a regular file/);
    }
  });
});
