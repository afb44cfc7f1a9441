// One server per data dir: a second server (main.ts as a process) started on a data dir that
// another one holds exits at start-up with a message naming the dir and the holder's pid, and
// the holder keeps serving; after the holder is killed with SIGKILL (no shutdown code runs)
// a new server starts on the same dir at once: the kernel released the lock.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clientFor, startServerProcess, type ServerProcess } from '../fixtures/server-process.js';

describe('one server per data dir', () => {
  let dataDir: string;
  const started: ServerProcess[] = [];

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-lock-'));
  });
  after(async () => {
    for (const server of started) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a second server on the same data dir, naming the dir and the holder', async () => {
    const holder = await startServerProcess({ dataDir });
    started.push(holder);
    const refusal = await startServerProcess({ dataDir }).then(
      (second) => {
        started.push(second);
        assert.fail('a second server started on a data dir already in use');
      },
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    assert.match(refusal, /server exited \(1\) before ready/);
    assert.ok(refusal.includes(`data dir ${dataDir} is in use`), refusal);
    assert.ok(refusal.includes(`pid ${holder.child.pid}`), refusal);
    const client = clientFor(holder.port);
    try {
      assert.deepEqual((await client.listJobs()).jobs, [], 'the holder still serves');
    } finally {
      client.close();
    }
  });

  it('lets a server start on the data dir right after its holder was killed with SIGKILL', async () => {
    const holder = started[0] ?? assert.fail('no holder from the test before');
    holder.child.kill('SIGKILL');
    assert.equal((await holder.exited).signal, 'SIGKILL');
    started.shift();
    const next = await startServerProcess({ dataDir });
    started.push(next);
    const client = clientFor(next.port);
    try {
      assert.deepEqual((await client.listJobs()).jobs, []);
    } finally {
      client.close();
    }
  });
});
