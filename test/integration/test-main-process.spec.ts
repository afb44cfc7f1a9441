// `npm run server` as operators run it: JSON log lines, the bound port announced when ready,
// a clean exit 0 on SIGTERM, and a clear refusal of bad configuration.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { check, healthClient } from '../fixtures/grpc-clients.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function startMain(env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('server/main.ts as a process', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-main-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('logs JSON lines, announces its port, serves, and exits 0 on SIGTERM', async () => {
    const child = startMain({
      STEADYTUNE_PORT: '0',
      STEADYTUNE_HOST: '127.0.0.1',
      STEADYTUNE_DATA_DIR: dataDir,
      STEADYTUNE_CONCURRENCY: '1',
    });
    const exited = exitOf(child);
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry['msg'] === 'steadytune ready') resolve(Number(entry['port']));
      });
      void exited.then((code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
    });
    const port = await ready;
    assert.ok(port > 0);

    const health = healthClient(`127.0.0.1:${port}`);
    assert.equal(await check(health, ''), 'SERVING');
    health.close();

    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    for (const entry of lines) {
      assert.equal(typeof entry['time'], 'string');
      assert.ok(['debug', 'info', 'warn', 'error'].includes(String(entry['level'])));
      assert.equal(typeof entry['msg'], 'string');
    }
    assert.ok(
      lines.some((entry) => entry['msg'] === 'stopped'),
      'logs its stop',
    );
  });

  it('refuses invalid configuration with every problem named and exit code 2', async () => {
    const child = startMain({ STEADYTUNE_PORT: 'abc', STEADYTUNE_BACKEND: 'gpu', STEADYTUNE_DATA_DIR: dataDir });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal(await exitOf(child), 2);
    assert.match(stderr, /STEADYTUNE_PORT="abc"/);
    assert.match(stderr, /STEADYTUNE_BACKEND="gpu": expected one of auto, tensorflow, wasm, cpu/);
  });
});
