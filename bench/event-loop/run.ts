// Event-loop responsiveness while jobs train: health-check latency on the gRPC server (in this
// process, real worker threads) in windows that alternate between a baseline and training.
// The baseline runs the same checks while plain CPU-burning threads, one per job, spin: the
// same contention for the cores without any of the server's work. Training starts `--jobs`
// fresh jobs per window and follows their streams (unless --streams=0) as clients would.
// Per window: p50/p99/max latency, event-loop delay p99, event-loop utilisation of this thread,
// and the 1-minute load average, since on a busy machine every figure moves with it.
//
//   npm run bench:event-loop -- --rounds=3 --checks=250 --jobs=2
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { TRAINER_SERVICE_NAME } from '../../server/rpc/server.js';
import { check, healthClient, type HealthClient } from '../../test/fixtures/grpc-clients.js';
import { startTestServer, tinySpec, type TestServer } from '../../test/fixtures/server-harness.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    checks: { type: 'string', default: '250' },
    jobs: { type: 'string', default: '2' },
    streams: { type: 'string', default: '1' },
  },
});
const rounds = Number(values.rounds);
const checks = Number(values.checks);
const jobs = Number(values.jobs);
const followStreams = values.streams !== '0';
const PAUSE_MS = 4;

interface Window {
  readonly name: string;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly loopDelayP99: number;
  readonly utilization: number;
  readonly load: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function measure(name: string, health: HealthClient): Promise<Window> {
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const utilizationStart = performance.eventLoopUtilization();
  const latencies: number[] = [];
  for (let i = 0; i < checks; i++) {
    const start = performance.now();
    const status = await check(health, i % 2 === 0 ? '' : TRAINER_SERVICE_NAME);
    if (status !== 'SERVING') throw new Error(`health answered ${status}`);
    latencies.push(performance.now() - start);
    await sleep(PAUSE_MS);
  }
  loopDelay.disable();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    name,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    loopDelayP99: loopDelay.percentile(99) / 1e6,
    utilization: performance.eventLoopUtilization(utilizationStart).utilization,
    load: loadavg()[0] ?? Number.NaN,
  };
}

async function baseline(health: HealthClient): Promise<Window> {
  const burners = Array.from({ length: jobs }, () => new Worker('for (;;) {}', { eval: true }));
  await Promise.all(burners.map((burner) => new Promise((resolve) => burner.once('online', resolve))));
  try {
    return await measure('baseline', health);
  } finally {
    await Promise.all(burners.map((burner) => burner.terminate()));
  }
}

async function training(server: TestServer, health: HealthClient): Promise<Window> {
  // All the digits and far more epochs than a window needs: the jobs are cancelled after it.
  const spec = {
    ...tinySpec({ examples: 0, epochs: 100, seeds: [11] }),
    model: { family: { $case: 'mlp' as const, value: { hiddenUnits: [128], dropout: 0 } } },
  };
  const jobIds = await Promise.all(
    Array.from({ length: jobs }, async () => {
      const id = (await server.client.startFineTune({ spec })).job?.id;
      if (id === undefined) throw new Error('no job');
      return id;
    }),
  );
  const stop = new AbortController();
  const firstSteps: Promise<void>[] = [];
  const streams = jobIds.map((jobId) => {
    let stepped: () => void = () => undefined;
    firstSteps.push(new Promise<void>((resolve) => (stepped = resolve)));
    return (async () => {
      for await (const event of server.client.streamMetrics(jobId, { signal: stop.signal })) {
        if (event.event?.$case !== 'step') continue;
        stepped();
        if (!followStreams) return;
      }
    })().catch(() => undefined);
  });
  await Promise.all(firstSteps);
  const window = await measure('training', health);
  const running = await Promise.all(jobIds.map(async (id) => (await server.client.getJob(id)).state));
  await Promise.all(jobIds.map((id) => server.client.cancelJob(id).catch(() => undefined)));
  stop.abort();
  await Promise.all(streams);
  if (running.some((state) => state !== running[0])) console.warn('warning: not every job was still running at the window end', running);
  return window;
}

const server = await startTestServer({ concurrency: jobs });
const health = healthClient(server.address);
try {
  await measure('warm-up', health);
  const windows: Window[] = [];
  for (let round = 0; round < rounds; round++) {
    windows.push(await baseline(health));
    windows.push(await training(server, health));
  }
  windows.push(await baseline(health));

  const ms = (value: number): string => value.toFixed(2).padStart(8);
  console.log(`health checks: ${checks} per window, ${jobs} jobs, streams followed: ${followStreams}`);
  console.log('window     p50 ms   p99 ms   max ms   loop-delay p99 ms   loop utilisation   load (1 min)');
  for (const w of windows) {
    console.log(
      `${w.name.padEnd(9)}${ms(w.p50)} ${ms(w.p99)} ${ms(w.max)}  ${ms(w.loopDelayP99)}            ${w.utilization.toFixed(2).padStart(5)}              ${w.load.toFixed(1)}`,
    );
  }
  const median = (name: string, pick: (w: Window) => number): number => {
    const sorted = windows
      .filter((w) => w.name === name)
      .map(pick)
      .sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  console.log(
    `median over windows: training/baseline p50 ${(median('training', (w) => w.p50) / median('baseline', (w) => w.p50)).toFixed(2)}x, ` +
      `p99 ${(median('training', (w) => w.p99) / median('baseline', (w) => w.p99)).toFixed(2)}x; ` +
      `loop utilisation ${median('baseline', (w) => w.utilization).toFixed(2)} -> ${median('training', (w) => w.utilization).toFixed(2)}`,
  );
} finally {
  health.close();
  await server.stop();
}
