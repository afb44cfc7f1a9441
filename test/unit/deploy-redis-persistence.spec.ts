// The Redis settings deploy/README.md requires (persistence, no eviction) are the ones the
// project's own service script starts Redis with, and the ones the k8s Secret's notes name; and
// where redis-server is installed, a server started with the script's flags reports them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** deploy/README.md's table of Redis settings: setting → required value (the first one named). */
function requiredSettings(readme: string): Map<string, string> {
  const settings = new Map<string, string>();
  const table = readme.slice(readme.indexOf('| Redis setting |'));
  for (const line of table.split('\n').slice(2)) {
    const match = /^\| `([\w-]+)` \| `([\w-]+)`/.exec(line);
    if (match === null) break;
    settings.set(match[1] ?? '', match[2] ?? '');
  }
  return settings;
}

/** The `--name value` flags of the script's redis-server command (continuation lines joined). */
function scriptFlags(script: string): Map<string, string> {
  const command = script
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .find((line) => line.startsWith('redis-server '));
  assert.ok(command, 'the script starts redis-server');
  const flags = new Map<string, string>();
  for (const match of command.matchAll(/--([\w-]+) ('[^']*'|"[^"]*"|\S+)/g))
    flags.set(match[1] ?? '', (match[2] ?? '').replace(/^['"]|['"]$/g, ''));
  return flags;
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

describe('Redis persistence as deploy/README.md requires', () => {
  const required = requiredSettings(read('deploy/README.md'));
  const flags = scriptFlags(read('scripts/start-scaleout-services.sh'));

  test('the README names the settings', () => {
    assert.deepEqual([...required.keys()].sort(), ['appendfsync', 'appendonly', 'maxmemory-policy']);
    assert.equal(required.get('appendonly'), 'yes');
  });

  test('scripts/start-scaleout-services.sh starts Redis with each of them', () => {
    for (const [setting, value] of required) assert.equal(flags.get(setting), value, `--${setting}`);
  });

  test("the k8s Secret's notes name each of them", () => {
    const secret = read('deploy/k8s/secret.yaml');
    for (const [setting, value] of required) assert.ok(secret.includes(`${setting} ${value}`), `${setting} ${value}`);
  });

  test("a redis-server started with the script's flags reports them", {
    skip: hasRedisServer() ? false : 'redis-server is not installed',
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'steadytune-redis-'));
    const port = await freePort();
    const settings = [...flags].filter(([name]) => !['daemonize', 'dir', 'pidfile', 'logfile', 'port', 'bind'].includes(name));
    const server = spawn('redis-server', [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      ...settings.flatMap(([name, value]) => [`--${name}`, value]),
    ]);
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    try {
      // It refuses to start on a flag it does not know, which is the point of starting it.
      await new Promise<void>((resolve, reject) => {
        let output = '';
        server.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Ready to accept connections')) resolve();
        });
        server.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
      });
      await redis.connect();
      for (const [setting, value] of required) {
        const [, actual] = (await redis.config('GET', setting)) as [string, string];
        assert.equal(actual, value, setting);
      }
    } finally {
      redis.disconnect();
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
