// Line and text limits of dataset files (STEADYTUNE_MAX_LINE_BYTES, STEADYTUNE_MAX_TEXT_CHARS).
// A 50 MB upload that is one JSONL line used to be buffered whole and handed to JSON.parse,
// holding the event loop for seconds; now it is refused once the line crosses the cap, and a
// concurrent ListJobs answers as it does on an idle server. The server runs in this process,
// so ListJobs latency is the event loop's latency; it is compared with a baseline measured here,
// never with a fixed time.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { DatasetFormat, GrpcStatus, type SteadytuneClient } from '../../client/index.js';
import { startConfiguredServer, type ConfiguredServer } from '../fixtures/configured-server.js';
import { jsonl, pointRows, writeFixture } from '../fixtures/dataset-fixtures.js';
import { rejection } from '../fixtures/server-harness.js';

const JSONL = DatasetFormat.DATASET_FORMAT_JSONL;
const DEFAULT_LINE_LIMIT = 1024 * 1024;
const ONE_LINE_BYTES = 50 * 1024 * 1024;
const TEXT_LIMIT = 40;
const BASELINE_SAMPLES = 20;
/** Generous: before the cap the concurrent call waited thousands of times its baseline. */
const ALLOWED_SLOWDOWN = 50;

/** One valid JSONL row of `bytes` (even) bytes, no newline: a features array of zeros. */
function oneLongLine(bytes: number): Uint8Array {
  // Both of even length, so the '0,' fill meets them with a digit after '[' and a ',' before ' 0]}'.
  const head = Buffer.from('{"label":"a","features":[ ');
  const tail = Buffer.from(' 0]}');
  const line = Buffer.alloc(bytes, '0,');
  head.copy(line, 0);
  tail.copy(line, bytes - tail.length);
  return new Uint8Array(line.buffer, line.byteOffset, line.byteLength);
}

async function listJobsMs(client: SteadytuneClient): Promise<number> {
  const start = performance.now();
  await client.listJobs();
  return performance.now() - start;
}

async function violationOf(call: Promise<unknown>, field: string): Promise<string> {
  const error = await rejection(call);
  assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT, error.message);
  const violation = error.fieldViolations.find((v) => v.field === field);
  assert.ok(violation, `no violation on ${field}: ${JSON.stringify(error.fieldViolations)}`);
  return violation.description;
}

describe('line and text limits of dataset files', () => {
  let root: string;
  let server: ConfiguredServer;
  let client: SteadytuneClient;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'steadytune-lines-'));
    const fifthLineLong = Buffer.concat([Buffer.from(jsonl(pointRows(4))), oneLongLine(2 * DEFAULT_LINE_LIMIT)]);
    await writeFixture(root, 'long-fifth-line.jsonl', fifthLineLong);
    await writeFixture(
      root,
      'long-text.jsonl',
      jsonl([
        { label: 'a', text: 'x'.repeat(TEXT_LIMIT + 1) },
        { label: 'b', text: 'ok' },
      ]),
    );
    server = await startConfiguredServer({ STEADYTUNE_DATA_ROOT: root, STEADYTUNE_MAX_TEXT_CHARS: String(TEXT_LIMIT) });
    client = server.client();
  });
  after(async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a 50 MB one-line upload at the line cap while a concurrent ListJobs answers', async () => {
    const upload = oneLongLine(ONE_LINE_BYTES);
    for (let i = 0; i < 3; i += 1) await listJobsMs(client); // warm up the channel
    const baseline: number[] = [];
    for (let i = 0; i < BASELINE_SAMPLES; i += 1) baseline.push(await listJobsMs(client));
    const baselineMax = Math.max(...baseline);

    let uploadDone = false;
    const refused = violationOf(client.uploadDataset({ format: JSONL, files: { train: upload } }), 'rows[0]').finally(() => {
      uploadDone = true;
    });
    const during: number[] = [];
    do during.push(await listJobsMs(client));
    while (!uploadDone);
    const description = await refused;

    assert.match(description, /line 1\b/);
    assert.match(description, new RegExp(`${DEFAULT_LINE_LIMIT} bytes`));
    const worst = Math.max(...during);
    assert.ok(
      worst <= ALLOWED_SLOWDOWN * baselineMax,
      `ListJobs during the upload took ${worst.toFixed(1)} ms; baseline max ${baselineMax.toFixed(1)} ms over ${BASELINE_SAMPLES} calls`,
    );
  });

  it('refuses a registered file with an over-long line, naming the row and the cap', async () => {
    const description = await violationOf(client.registerDataset({ format: JSONL, train: { path: 'long-fifth-line.jsonl' } }), 'rows[4]');
    assert.match(description, /line 5\b.*1048576 bytes/);
  });

  it('refuses a text longer than STEADYTUNE_MAX_TEXT_CHARS', async () => {
    const description = await violationOf(client.registerDataset({ format: JSONL, train: { path: 'long-text.jsonl' } }), 'rows[0].text');
    assert.match(description, new RegExp(`limit is ${TEXT_LIMIT}`));
  });
});
