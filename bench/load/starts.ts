// Bursts of concurrent StartFineTune calls on the embedded server (one process, SQLite store):
// for each burst size, a fresh server on a fresh data directory, a few sequential calls first
// (the unloaded latency), then N calls at once on one connection; p50/p99/max of the burst. The
// server runs as a child process so the client's work does not share its event loop. Given
// several checkouts (an old and a new commit), rounds interleave them in a rotating order, so
// load from other processes falls on each alike. Caps on active jobs are off unless --caps=default
// (then most of a large burst is refused: that path's latency). Every job is a tiny MNIST MLP
// that trains on one thread meanwhile.
// BENCH_SERVER_NODE_ARGS adds node flags to the servers (e.g. '--cpu-prof --cpu-prof-dir=/tmp/p').
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SteadytuneClient, SteadytuneError, statusCodeName } from '../../client/index.js';
import { tinySpec } from '../../test/fixtures/server-harness.js';

export interface StartBurstOptions {
  readonly bursts: readonly number[];
  readonly rounds: number;
  /** Repository checkouts whose servers are compared (dependencies installed in each). */
  readonly checkouts: readonly string[];
  /** Keep the default caps on active jobs (most of a large burst is then refused); off by default. */
  readonly caps: boolean;
}

interface BurstResult {
  readonly checkout: string;
  readonly concurrent: number;
  readonly sequentialMs: number[];
  /** As the client saw them: its own sending and the queueing on its side included. */
  readonly latenciesMs: number[];
  /** The burst's StartFineTune calls in the server's latency histogram: upper bound (s) -> calls at or below. */
  readonly serverBuckets: Map<number, number>;
  /** CPU time of the server's main thread (the event loop) from the burst's first call to its last answer; NaN off Linux. */
  readonly eventLoopCpuMs: number;
  readonly errors: Map<string, number>;
  readonly load: [number, number];
}

const SEQUENTIAL_CALLS = 5;
/** USER_HZ: what /proc reports CPU times in (100 on every Linux build in practice). */
const CLOCK_TICKS_PER_SECOND = 100;

export async function runStartBursts(options: StartBurstOptions): Promise<void> {
  const results: BurstResult[] = [];
  console.log(
    `StartFineTune bursts: ${options.bursts.join(', ')} concurrent calls, ${options.rounds} round(s), ` +
      `checkouts ${options.checkouts.map((c) => path.basename(c)).join(' vs ')}; load average ${formatLoad()} at the start`,
  );
  for (let round = 0; round < options.rounds; round += 1) {
    for (const concurrent of options.bursts) {
      // Rotated each round: neither checkout always goes first after a quiet pause.
      const order = options.checkouts.map((_, i) => options.checkouts[(i + round) % options.checkouts.length] ?? '');
      for (const checkout of order) {
        const result = await burstOn(checkout, concurrent, options.caps);
        results.push(result);
        console.log(
          `round ${round + 1}: ${path.basename(checkout)} ${concurrent} concurrent: ${summarize(result.latenciesMs)} ` +
            `(sequential p50 ${percentile(sorted(result.sequentialMs), 50).toFixed(1)} ms, load ${result.load[0].toFixed(1)}–${result.load[1].toFixed(1)}` +
            `${result.errors.size === 0 ? '' : `, errors ${[...result.errors].map(([code, n]) => `${code} x${n}`).join(', ')}`})`,
        );
      }
    }
  }
  console.log(`\nload average at the end: ${formatLoad()}\n`);
  console.log(
    '| checkout | concurrent | calls | p50 ms | p99 ms | max ms | server p50 / p99 ms | event-loop CPU ms per call | sequential p50 ms | errors | load (1 min) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const checkout of options.checkouts) {
    for (const concurrent of options.bursts) {
      const mine = results.filter((r) => r.checkout === checkout && r.concurrent === concurrent);
      const all = sorted(mine.flatMap((r) => r.latenciesMs));
      const sequential = sorted(mine.flatMap((r) => r.sequentialMs));
      const errors = mine.reduce((n, r) => n + [...r.errors.values()].reduce((a, b) => a + b, 0), 0);
      const loads = mine.flatMap((r) => r.load);
      const server = sumBuckets(mine.map((r) => r.serverBuckets));
      console.log(
        `| ${path.basename(checkout)} | ${concurrent} | ${all.length} | ${percentile(all, 50).toFixed(0)} | ${percentile(all, 99).toFixed(0)} | ` +
          `${(all.at(-1) ?? 0).toFixed(0)} | ${bucketBound(server, 0.5)} / ${bucketBound(server, 0.99)} | ` +
          `${(mine.reduce((sum, r) => sum + r.eventLoopCpuMs, 0) / all.length).toFixed(2)} | ${percentile(sequential, 50).toFixed(1)} | ${errors} | ` +
          `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} |`,
      );
    }
  }
}

async function burstOn(checkout: string, concurrent: number, caps: boolean): Promise<BurstResult> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-bench-starts-'));
  const server = await startServer(checkout, dataDir, caps);
  // No retries: a refused call counts as an error, not as a slow success.
  const client = new SteadytuneClient(`127.0.0.1:${server.port}`, { defaultDeadlineMs: 120_000, retry: { maxAttempts: 1 } });
  const spec = tinySpec({ examples: 64, seeds: [1] });
  try {
    const sequentialMs: number[] = [];
    for (let i = 0; i < SEQUENTIAL_CALLS; i += 1) {
      const began = performance.now();
      await client.startFineTune({ spec });
      sequentialMs.push(performance.now() - began);
    }
    const loadBefore = loadavg()[0] ?? 0;
    const histogramBefore = await startHistogram(server.metricsPort);
    const cpuBefore = await mainThreadCpuMs(server.child.pid);
    const errors = new Map<string, number>();
    const latenciesMs = await Promise.all(
      Array.from({ length: concurrent }, async () => {
        const began = performance.now();
        try {
          await client.startFineTune({ spec });
        } catch (error) {
          const code = error instanceof SteadytuneError ? statusCodeName(error.code) : String(error);
          errors.set(code, (errors.get(code) ?? 0) + 1);
        }
        return performance.now() - began;
      }),
    );
    const eventLoopCpuMs = (await mainThreadCpuMs(server.child.pid)) - cpuBefore;
    const histogramAfter = await startHistogram(server.metricsPort);
    const serverBuckets = new Map([...histogramAfter].map(([le, count]) => [le, count - (histogramBefore.get(le) ?? 0)]));
    return {
      checkout,
      concurrent,
      sequentialMs,
      latenciesMs,
      serverBuckets,
      eventLoopCpuMs,
      errors,
      load: [loadBefore, loadavg()[0] ?? 0],
    };
  } finally {
    client.close();
    // The queued jobs do not matter: the next burst gets a fresh server and data directory.
    // Profiling (BENCH_SERVER_NODE_ARGS='--cpu-prof ...') needs an orderly exit to write its file.
    server.child.kill(process.env['BENCH_SERVER_NODE_ARGS'] === undefined ? 'SIGKILL' : 'SIGTERM');
    await server.exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface BenchServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  readonly exited: Promise<unknown>;
}

/**
 * StartFineTune's buckets in steadytune_rpc_duration_seconds (every status code summed): the
 * time from the call's arrival at the server to its status, which the client's own queueing
 * (all of a burst is sent from one event loop) does not inflate.
 */
async function startHistogram(metricsPort: number): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(/^steadytune_rpc_duration_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    const labels = match[1] ?? '';
    if (!labels.includes('rpc_method="steadytune.v1.Trainer/StartFineTune"')) continue;
    const le = /le="([^"]+)"/.exec(labels)?.[1] ?? '';
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2]));
  }
  return buckets;
}

/**
 * utime + stime of the process's main thread (its thread id is its pid), in ms: the work of the
 * event loop, which load on the machine delays but does not add to (unlike wall time).
 */
async function mainThreadCpuMs(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

function sumBuckets(histograms: readonly Map<number, number>[]): Map<number, number> {
  const sum = new Map<number, number>();
  for (const histogram of histograms) for (const [le, count] of histogram) sum.set(le, (sum.get(le) ?? 0) + count);
  return sum;
}

/** The smallest bucket bound holding the q-quantile, as '≤ N' ms (buckets are all a histogram keeps). */
function bucketBound(buckets: Map<number, number>, q: number): string {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  const bound = bounds.find((le) => (buckets.get(le) ?? 0) >= q * total);
  return bound === undefined || total === 0 ? '–' : bound === Number.POSITIVE_INFINITY ? '> max bucket' : `≤ ${bound * 1000}`;
}

/**
 * The checkout's server/main.ts with its log going to a file, as a log collector would take it:
 * a pipe the busy client drained late would stall the server's synchronous stdout writes and
 * time the client instead of the server.
 */
async function startServer(checkout: string, dataDir: string, caps: boolean): Promise<BenchServer> {
  const logFile = path.join(dataDir, 'server.log');
  const log = await open(logFile, 'w');
  const child = spawn(
    process.execPath,
    [...(process.env['BENCH_SERVER_NODE_ARGS']?.split(' ') ?? []), '--import', 'tsx', 'server/main.ts'],
    {
      cwd: checkout,
      stdio: ['ignore', log.fd, 'inherit'],
      env: {
        ...process.env,
        STEADYTUNE_PORT: '0',
        STEADYTUNE_HOST: '127.0.0.1',
        STEADYTUNE_METRICS_PORT: '0',
        STEADYTUNE_DATA_DIR: dataDir,
        STEADYTUNE_CONCURRENCY: '1',
        STEADYTUNE_BACKEND: 'cpu',
        // Off: the point is the start path. On (the defaults, 16 per tenant): most of a burst is refused.
        ...(caps ? {} : { STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT: '0', STEADYTUNE_MAX_ACTIVE_JOBS: '0' }),
      },
    },
  );
  await log.close();
  const exited = once(child, 'exit');
  let ended = false;
  void exited.then(() => (ended = true));
  for (;;) {
    const ready = (await readFile(logFile, 'utf8')).split('\n').find((line) => line.includes('"steadytune ready"'));
    if (ready !== undefined) {
      const { port, metricsPort } = JSON.parse(ready) as { port: unknown; metricsPort: unknown };
      return { child, port: Number(port), metricsPort: Number(metricsPort), exited };
    }
    if (ended) throw new Error(`the server in ${checkout} exited before it was ready`);
    await sleep(100);
  }
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function percentile(values: readonly number[], p: number): number {
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))] ?? Number.NaN;
}

function summarize(latenciesMs: readonly number[]): string {
  const all = sorted(latenciesMs);
  return `p50 ${percentile(all, 50).toFixed(0)} ms, p99 ${percentile(all, 99).toFixed(0)} ms, max ${(all.at(-1) ?? 0).toFixed(0)} ms`;
}

function formatLoad(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
}
