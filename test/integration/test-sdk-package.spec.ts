// @steadytune/client as another service gets it: packed from client/, installed from the
// tarball into an empty project, then used against the real server from plain Node (ESM, and
// CommonJS through require(esm)), from its `steadytune` executable, and type-checked by a
// `tsc --module nodenext` consumer. Also: what the tarball holds and what the install weighs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { JobState, ListJobsResponse, specDefaults } from '../../client/index.js';
import { startTestServer, type TestServer } from '../fixtures/server-harness.js';
import { diskUsageBytes, installConsumer, packClient, type PackedClient } from '../fixtures/sdk-package.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The install-size goal for a service that adds the SDK (issue 16). */
const MAX_INSTALL_BYTES = 30 * 1024 * 1024;
/** Packages of the server (or of TF.js) that must not come with the client. */
const SERVER_PACKAGES = ['@tensorflow', '@opentelemetry', 'better-sqlite3', 'prom-client', 'bullmq', 'ioredis', 'pg', 'tsx', 'steadytune'];

/** Lists jobs and asks for one that does not exist; prints what it saw as JSON. */
const ESM_CONSUMER = `
import { GrpcStatus, JobState, SteadytuneClient, SteadytuneError, specDefaults } from '@steadytune/client';
import { TrainerClient } from '@steadytune/client/gen/steadytune/v1/trainer';
const client = new SteadytuneClient(process.argv[2], { defaultDeadlineMs: 20_000 });
const { jobs } = await client.listJobs();
let missing = 'resolved';
try {
  await client.getJob('no-such-job');
} catch (error) {
  missing = error instanceof SteadytuneError && error.code === GrpcStatus.NOT_FOUND ? 'NOT_FOUND' : String(error);
}
client.close();
console.log(JSON.stringify({ jobs: jobs.length, missing, succeeded: JobState.JOB_STATE_SUCCEEDED, epochs: specDefaults().epochs, stub: typeof TrainerClient }));
`;

const CJS_CONSUMER = `
const { SteadytuneClient, SteadytuneError, GrpcStatus } = require('@steadytune/client');
const client = new SteadytuneClient(process.argv[2], { defaultDeadlineMs: 20_000 });
client.getJob('no-such-job').then(
  () => console.log(JSON.stringify({ missing: 'resolved' })),
  (error) => {
    client.close();
    console.log(JSON.stringify({ missing: error instanceof SteadytuneError && error.code === GrpcStatus.NOT_FOUND ? 'NOT_FOUND' : String(error) }));
  },
);
`;

/** Uses the public types the way a service would; must compile under nodenext, strict, lib checks on. */
const TS_CONSUMER = `
import { JobState, SteadytuneClient, SteadytuneError, paperSeeds, specDefaults, type FineTuneSpec, type Job } from '@steadytune/client';
import { TrainerClient, type GetJobRequest } from '@steadytune/client/gen/steadytune/v1/trainer';

export async function startNightly(address: string): Promise<Job | undefined> {
  const client = new SteadytuneClient(address, { defaultDeadlineMs: 10_000, retry: { maxAttempts: 3 } });
  const spec: FineTuneSpec = { ...specDefaults(), seeds: paperSeeds(3), epochs: 2 };
  try {
    const { job } = await client.startFineTune({ spec, idempotencyKey: 'nightly' });
    for await (const event of client.streamMetrics(job?.id ?? '')) {
      if (event.event?.$case === 'step') console.log(event.seed, event.event.value.loss.toFixed(3));
    }
    return job === undefined ? undefined : await client.waitForJob(job.id);
  } catch (error) {
    if (error instanceof SteadytuneError) console.error(error.code, error.fieldViolations.map((v) => v.field));
    throw error;
  } finally {
    client.close();
  }
}

export const finished = (job: Job): boolean => job.state === JobState.JOB_STATE_SUCCEEDED;
export const request: GetJobRequest = { jobId: 'x' };
export type Stub = TrainerClient;
`;

const TS_CJS_CONSUMER = `
import sdk = require('@steadytune/client');
export const deadline: sdk.SteadytuneClientOptions = { defaultDeadlineMs: 1_000 };
`;

const execFileAsync = promisify(execFile);

/** Runs a program to its end; asynchronous, because the server under test shares this event loop. */
async function run(program: string, args: string[], cwd: string): Promise<string> {
  try {
    return (await execFileAsync(program, args, { cwd, encoding: 'utf8', timeout: 60_000 })).stdout;
  } catch (error) {
    const output = error instanceof Error && 'stdout' in error && 'stderr' in error ? `${String(error.stdout)}${String(error.stderr)}` : '';
    throw new Error(`${path.basename(program)} ${args.join(' ')} failed:\n${output}`, { cause: error });
  }
}

/** Node 20.19+ and 22.12+ load ES modules through require() without a flag. */
function requireLoadsEsm(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
}

describe('@steadytune/client package', () => {
  let work: string;
  let consumer: string;
  let packed: PackedClient;
  let server: TestServer;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'steadytune-sdk-'));
    consumer = path.join(work, 'consumer');
    packed = packClient(REPO, work);
    installConsumer(REPO, consumer, packed);
    server = await startTestServer({ concurrency: 1 });
  });
  after(async () => {
    await server?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('ships compiled JavaScript, declarations and the executable, no sources or tests', () => {
    for (const file of [
      'package.json',
      'cli/bin.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/gen/steadytune/v1/trainer.d.ts',
    ]) {
      assert.ok(packed.files.includes(file), `${file} is missing from the tarball`);
    }
    const stray = packed.files.filter(
      (file) => (file.endsWith('.ts') && !file.endsWith('.d.ts')) || file.includes('.spec.') || file.endsWith('.tsbuildinfo'),
    );
    assert.deepEqual(stray, []);
  });

  it(`installs without the server's packages, in under ${MAX_INSTALL_BYTES / 2 ** 20} MiB`, (t) => {
    const modules = path.join(consumer, 'node_modules');
    for (const name of SERVER_PACKAGES) assert.ok(!existsSync(path.join(modules, name)), `${name} was installed with the client`);
    const bytes = diskUsageBytes(modules);
    t.diagnostic(`installed size: ${(bytes / 2 ** 20).toFixed(1)} MiB (node_modules of the consumer)`);
    assert.ok(bytes < MAX_INSTALL_BYTES, `${bytes} bytes`);
  });

  it('is imported from plain Node (ESM) and talks to the server', async () => {
    writeFileSync(path.join(consumer, 'esm-consumer.mjs'), ESM_CONSUMER);
    const seen = JSON.parse(await run(process.execPath, ['esm-consumer.mjs', server.address], consumer)) as Record<string, unknown>;
    // The compiled package agrees with the sources the rest of the suite tests.
    assert.deepEqual(seen, {
      jobs: 0,
      missing: 'NOT_FOUND',
      succeeded: JobState.JOB_STATE_SUCCEEDED,
      epochs: specDefaults().epochs,
      stub: 'function',
    });
  });

  it('is required from CommonJS where Node loads ES modules through require()', {
    skip: requireLoadsEsm() ? false : `Node ${process.versions.node} has no require(esm)`,
  }, async () => {
    writeFileSync(path.join(consumer, 'cjs-consumer.cjs'), CJS_CONSUMER);
    const seen = JSON.parse(await run(process.execPath, ['--no-warnings', 'cjs-consumer.cjs', server.address], consumer)) as unknown;
    assert.deepEqual(seen, { missing: 'NOT_FOUND' });
  });

  it('runs its steadytune executable from the compiled CLI', async () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'steadytune');
    const listed = JSON.parse(await run(bin, ['jobs', '--server', server.address, '--json'], consumer)) as unknown;
    assert.deepEqual(listed, ListJobsResponse.toJSON({ jobs: [], nextPageToken: '' }));
  });

  it('type-checks a consumer under tsc --module nodenext', async () => {
    writeFileSync(path.join(consumer, 'consumer.ts'), TS_CONSUMER);
    writeFileSync(path.join(consumer, 'consumer-cjs.cts'), TS_CJS_CONSUMER);
    const tsconfig = {
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      },
      files: ['consumer.ts', 'consumer-cjs.cts'],
    };
    writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer);
  });
});
