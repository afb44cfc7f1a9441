// The real server on a small tmpfs data directory that a filler file fills in the middle of a
// job: the job stops and ends FAILED naming the full disk, StartFineTune meanwhile answers a
// retryable code with RetryInfo, the metrics count the refused writes, and once the filler is
// deleted the same server (no restart) runs a new job to SUCCEEDED. Mounting needs root (CI runs
// .ci/run as root); elsewhere the test is skipped with the reason, and
// test/unit/jobs-storage-faults.spec.ts covers the same logic with injected failing storage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { GrpcStatus, JobState, SteadytuneClient, SteadytuneError } from '../../client/index.js';
import { tinySpec } from '../fixtures/server-harness.js';
import { clientFor, startServerProcess, type ServerProcess } from '../fixtures/server-process.js';

const TMPFS_SIZE = '64m';

/** Why the tmpfs cannot be had here, or undefined when it can (probed with a throwaway mount). */
function tmpfsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs .ci/run as root)';
  const probe = mkdtempSync(path.join(tmpdir(), 'steadytune-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe]);
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const skip = tmpfsUnavailable();

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Writes 64 KiB blocks until the disk refuses one. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) await handle.write(block);
  } catch (error) {
    assert.equal((error as { code?: unknown }).code, 'ENOSPC');
  } finally {
    await handle.close();
  }
}

async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

describe('a full data directory', { timeout: 240_000, skip }, () => {
  let dataDir = '';
  let mounted = false;
  let server: ServerProcess | undefined;
  let client: SteadytuneClient | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', dataDir]);
    mounted = true;
  });
  after(async () => {
    client?.close();
    server?.child.kill('SIGKILL');
    await server?.exited;
    if (mounted) execFileSync('umount', [dataDir]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('fails the job naming the cause, answers starts with a retryable code, and carries on once space is back', async () => {
    server = await startServerProcess({ dataDir, env: { STEADYTUNE_CHECKPOINT_EVERY_STEPS: '5' } });
    const metricsPort = Number(server.logs.find((entry) => entry['msg'] === 'steadytune ready')?.['metricsPort']);
    client = clientFor(server.port);
    const live = client;
    // 2,000 steps: far more than can pass before the full disk stops it.
    const jobId =
      (await live.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 20, seeds: [1] }) })).job?.id ?? assert.fail('no job');
    await until('20 steps', async () => ((await live.getJob(jobId)).runs[0]?.steps ?? 0) >= 20 || undefined);

    const filler = path.join(dataDir, 'filler');
    await fill(filler);
    const jobStoreFailures = 'steadytune_storage_write_failures_total{target="job_store",cause="no_space"}';
    await until('a refused write of the job', async () => ((await metric(metricsPort, jobStoreFailures)) > 0 ? true : undefined));

    // SQLite may still fit a small write into its log file now and then: a refusal within a few tries.
    const once = new SteadytuneClient(`127.0.0.1:${server.port}`, { defaultDeadlineMs: 10_000, retry: { maxAttempts: 1 } });
    const refusal = await until(
      'a refused StartFineTune',
      () =>
        once.startFineTune({ spec: tinySpec({ examples: 64, seeds: [2] }) }).then(
          () => undefined,
          (error: unknown) => error,
        ),
      10_000,
    ).finally(() => once.close());
    assert.ok(refusal instanceof SteadytuneError, String(refusal));
    assert.ok([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.UNAVAILABLE].includes(refusal.code), refusal.message);
    assert.match(refusal.details, /storage is full/);
    assert.ok((refusal.retryDelayMs ?? 0) > 0, 'RetryInfo says when to come back');

    await unlink(filler);
    const ended = await until('the job to end', async () => {
      const job = await live.getJob(jobId);
      return job.state === JobState.JOB_STATE_RUNNING ? undefined : job;
    });
    assert.equal(ended.state, JobState.JOB_STATE_FAILED);
    assert.match(ended.reason, /ran out of disk space: the job's progress could not be stored \((SQLITE_FULL|ENOSPC)/);
    assert.ok((ended.runs[0]?.steps ?? 0) < 2000, 'it stopped');

    // The same process, no restart: a new job trains to the end.
    const next = (await live.startFineTune({ spec: tinySpec({ examples: 64, seeds: [3] }) })).job?.id ?? assert.fail('no job');
    const done = await until('the new job to end', async () => {
      const job = await live.getJob(next);
      return [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING].includes(job.state) ? undefined : job;
    });
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, done.reason);
  });
});
