// deploy/healthcheck.mjs, the images' HEALTHCHECK, run as Docker runs it (a child process) against
// a real grpc.health.v1 server on a loopback port: exit 0 only for SERVING.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

const HEALTHCHECK = fileURLToPath(new URL('../../deploy/healthcheck.mjs', import.meta.url));

interface ProbeResult {
  readonly exitCode: number;
  readonly stderr: string;
}

/** Async on purpose: a synchronous child would block the server this process runs. */
function probe(port: string, service?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const args = service === undefined ? [HEALTHCHECK] : [HEALTHCHECK, service];
    execFile(process.execPath, args, { env: { ...process.env, STEADYTUNE_PORT: port }, timeout: 15_000 }, (error, _stdout, stderr) => {
      resolve({ exitCode: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr });
    });
  });
}

describe('deploy/healthcheck.mjs', () => {
  const server = new Server();
  const health = new HealthImplementation({ '': 'SERVING', 'steadytune.v1.Trainer': 'NOT_SERVING' });
  let port = 0;

  before(async () => {
    health.addToServer(server);
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
  });
  after(() => server.forceShutdown());

  test('exits 0 when the whole server is SERVING', async () => {
    assert.deepEqual(await probe(String(port)), { exitCode: 0, stderr: '' });
  });

  test('exits 1 and says why when a service is NOT_SERVING', async () => {
    const result = await probe(String(port), 'steadytune.v1.Trainer');
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /NOT_SERVING/);
  });

  test('exits 1 for a service the server does not know', async () => {
    const result = await probe(String(port), 'no.such.Service');
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /NOT_FOUND/);
  });

  test('turns 0 when the status turns SERVING (the server after its workers load)', async () => {
    health.setStatus('steadytune.v1.Trainer', 'SERVING');
    assert.equal((await probe(String(port), 'steadytune.v1.Trainer')).exitCode, 0);
  });

  test('exits 1 when nothing listens', async () => {
    const closed = new Server();
    const unusedPort = await new Promise<number>((resolve, reject) => {
      closed.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
    closed.forceShutdown();
    const result = await probe(String(unusedPort));
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /UNAVAILABLE|DEADLINE_EXCEEDED/);
  });

  test('refuses a port it cannot probe', async () => {
    for (const bad of ['0', 'abc', '70000']) {
      const result = await probe(bad);
      assert.equal(result.exitCode, 1, bad);
      assert.match(result.stderr, /is not a port to probe/);
    }
  });
});
