// The data-dir lock: a second holder is refused (in this process too, as when tests start two
// servers), the refusal names the dir and the holder, release lets the next one in, and a
// holder killed with SIGKILL leaves no stale lock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DataDirInUseError, lockDataDir } from '../../server/jobs/persistence/index.js';

const LOCK_MODULE = fileURLToPath(new URL('../../server/jobs/persistence/data-dir-lock.ts', import.meta.url));

function refusal(dataDir: string): DataDirInUseError {
  try {
    lockDataDir(dataDir).release();
  } catch (error) {
    if (error instanceof DataDirInUseError) return error;
    throw error;
  }
  return assert.fail('the data dir was locked twice');
}

describe('data dir lock', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-lock-unit-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a second holder in the same process, naming the dir and the holder, until released', () => {
    const lock = lockDataDir(dataDir);
    const error = refusal(dataDir);
    assert.equal(error.dataDir, dataDir);
    assert.equal(error.owner?.pid, process.pid);
    assert.match(error.message, new RegExp(`data dir ${dataDir} is in use .*pid ${process.pid}`));
    // A refused attempt must not have released the holder's lock on its way out.
    assert.equal(refusal(dataDir).owner?.pid, process.pid);
    lock.release();
    lock.release();
    lockDataDir(dataDir).release();
  });

  it('is released by the kernel when its holder is killed with SIGKILL', async () => {
    const script = `import(${JSON.stringify(LOCK_MODULE)}).then((m) => { m.lockDataDir(${JSON.stringify(dataDir)}); console.log('locked'); setInterval(() => {}, 60_000); });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    await once(child.stdout, 'data');
    assert.equal(refusal(dataDir).owner?.pid, child.pid);
    child.kill('SIGKILL');
    await exited;
    lockDataDir(dataDir).release();
  });
});
