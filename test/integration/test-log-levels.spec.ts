// Calls the client ends (reset upload, cancelled metrics stream, passed deadline) are logged at
// debug with the reason, never at error: no client saw a failure of this server's, and
// log-based alerts on error lines must not fire on them.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { DatasetFormat } from '../../client/index.js';
import { UploadDatasetRequest } from '../../client/gen/steadytune/v1/dataset.js';
import { TrainerClient } from '../../client/gen/steadytune/v1/trainer.js';
import { createLogger } from '../../server/logger.js';
import { startConfiguredServer, type ConfiguredServer } from '../fixtures/configured-server.js';
import { jsonl, pointRows } from '../fixtures/dataset-fixtures.js';
import { resetRequestStream } from '../fixtures/grpc-clients.js';
import { tinySpec } from '../fixtures/server-harness.js';

type LogLine = Record<string, unknown>;

const UPLOAD_METHOD = '/steadytune.v1.Trainer/UploadDataset';

/** The first line from index `from` on that `wanted` accepts, waiting for it to be logged. */
async function lineMatching(lines: readonly LogLine[], wanted: (line: LogLine) => boolean, what: string, from = 0): Promise<LogLine> {
  // Ordering, not timing: the server logs after it noticed the cancellation.
  for (let waited = 0; waited < 10_000; waited += 50) {
    const found = lines.slice(from).find(wanted);
    if (found !== undefined) return found;
    await sleep(50);
  }
  assert.fail(`no log line for ${what}: ${JSON.stringify(lines)}`);
}

describe('log levels of calls the client ends', () => {
  const lines: LogLine[] = [];
  let server: ConfiguredServer;
  let raw: TrainerClient;

  before(async () => {
    const logger = createLogger({ level: 'debug', write: (line) => void lines.push(JSON.parse(line) as LogLine) });
    server = await startConfiguredServer({}, { logger });
    raw = new TrainerClient(server.address, credentials.createInsecure());
  });
  after(async () => {
    raw.close();
    await server.stop();
  });

  it('logs an upload the client resets at debug with the reason, and registers nothing from it', async () => {
    const header = {
      part: { $case: 'header' as const, value: { format: DatasetFormat.DATASET_FORMAT_JSONL, displayName: 'cut', options: undefined } },
    };
    // Rows that would register if the cut stream were taken for a complete one.
    const rows = { part: { $case: 'chunk' as const, value: { file: 'train', data: Buffer.from(jsonl(pointRows(20))) } } };
    const messages = [header, rows].map((message) => UploadDatasetRequest.encode(message).finish());
    await resetRequestStream(server.address, UPLOAD_METHOD, messages, false);
    const line = await lineMatching(lines, (l) => l['rpc'] === 'UploadDataset', 'the reset upload');
    assert.equal(line['level'], 'debug');
    assert.match(String(line['reason']), /cancelled/);
    assert.deepEqual((await server.client().listDatasets()).datasets, []);
  });

  it('logs an upload reset while its compressed messages are still queued at debug, not error', async () => {
    // The reset destroys the request stream before its end: Node's "Premature close", once
    // logged as an unhandled error in the handler.
    const chunk = { part: { $case: 'chunk' as const, value: { file: 'train', data: Buffer.from('{"label":"a","features":[1]}\n') } } };
    const header = {
      part: { $case: 'header' as const, value: { format: DatasetFormat.DATASET_FORMAT_JSONL, displayName: 'queued', options: undefined } },
    };
    const messages = [header, ...Array.from({ length: 200 }, () => chunk)].map((message) => UploadDatasetRequest.encode(message).finish());
    const before = lines.length;
    await resetRequestStream(server.address, UPLOAD_METHOD, messages, true);
    await lineMatching(lines, (l) => l['rpc'] === 'UploadDataset', 'the reset compressed upload', before);
    assert.deepEqual(
      lines.filter((l) => l['level'] === 'error'),
      [],
      'no error-level line',
    );
  });

  it('logs a metrics stream the client cancels, and one whose deadline passes, at debug', async () => {
    const client = server.client();
    const spec = { ...tinySpec({ examples: 0, epochs: 50, seeds: [1] }) };
    const jobId = (await client.startFineTune({ spec })).job?.id ?? assert.fail('no job');
    const stop = new AbortController();
    await assert.rejects(async () => {
      for await (const event of client.streamMetrics(jobId, { signal: stop.signal })) if (event.sequence >= 1) stop.abort();
    });
    await lineMatching(lines, (l) => l['rpc'] === 'StreamMetrics' && /cancelled/.test(String(l['reason'])), 'the cancelled stream');
    const stream = raw.streamMetrics({ jobId, fromSequence: 0 }, { deadline: Date.now() + 500 });
    await new Promise<void>((resolve) =>
      stream
        .on('error', () => resolve())
        .on('end', resolve)
        .on('data', () => undefined),
    );
    await lineMatching(lines, (l) => l['rpc'] === 'StreamMetrics' && /deadline/.test(String(l['reason'])), 'the stream past its deadline');
    await client.cancelJob(jobId);
    const errors = lines.filter((l) => l['level'] === 'error');
    assert.deepEqual(errors, [], 'no error-level line');
  });
});
