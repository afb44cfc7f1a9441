// The real server as a child process (`node --import tsx server/main.ts`), for tests that kill
// it, signal it and start it again on the same data directory.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SteadytuneClient, type StreamMetricsResponse } from '../../client/index.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  readonly port: number;
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (null when a signal ended it) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  stderr(): string;
}

export interface ServerProcessOptions {
  readonly dataDir: string;
  /** 0 = any free port (the first start); a restart may ask for the port it had. */
  readonly port?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts main.ts and resolves once it logged "steadytune ready" (rejects if it exits first). */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      STEADYTUNE_PORT: String(options.port ?? 0),
      STEADYTUNE_HOST: '127.0.0.1',
      STEADYTUNE_METRICS_PORT: '0',
      STEADYTUNE_DATA_DIR: options.dataDir,
      STEADYTUNE_CONCURRENCY: '1',
      // One backend for every run the test compares: bitwise equality holds per backend.
      STEADYTUNE_BACKEND: 'cpu',
      ...options.env,
    },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry['msg'] === 'steadytune ready') resolve(Number(entry['port']));
    });
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before ready: ${stderr}`)));
  });
  return { port, child, exited, logs, stderr: () => stderr };
}

/** A client that re-dials quickly: a restarted server is back within seconds. */
export function clientFor(port: number): SteadytuneClient {
  return new SteadytuneClient(`127.0.0.1:${port}`, { defaultDeadlineMs: 30_000, retry: { initialBackoffMs: 100, maxBackoffMs: 500 } });
}

/** A seed model's weights as float32 values, from the files the server saved. */
export async function savedWeights(dataDir: string, jobId: string, seed: number): Promise<Float32Array> {
  const bytes = await readFile(path.join(dataDir, 'models', jobId, `seed-${seed}`, 'weights.bin'));
  // A copy: a Buffer's offset in its pool need not be float-aligned.
  return new Float32Array(Uint8Array.from(bytes).buffer);
}

export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

export function stepNumbers(events: readonly StreamMetricsResponse[]): number[] {
  return events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value.step] : []));
}

export function notices(events: readonly StreamMetricsResponse[]): string[] {
  return events.flatMap((e) => (e.event?.$case === 'notice' ? [e.event.value.message] : []));
}
