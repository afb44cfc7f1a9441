// Load on the scale-out setup, on loopback: API and worker processes over Redis and PostgreSQL
// (test/fixtures/scaleout-cluster.ts), N concurrent clients. Phase 1 (jobs): each client
// starts a tiny job through one API pod, streams it to the end through another, and gets it,
// until --jobs are done or --seconds pass. Phase 2 (reads): the same clients call GetJob and
// ListJobs as fast as they are answered for --read-seconds. Prints throughput and p50/p99 per
// call. Bounded in count and time; it ends every process it started.
// --mode=starts instead measures bursts of concurrent StartFineTune calls on the embedded
// server (starts.ts); no Redis or PostgreSQL needed.
//
//   eval "$(bash scripts/start-scaleout-services.sh)"
//   npm run bench:load -- --clients=8 --jobs=40 --seconds=120 --read-seconds=10
//   npm run bench:load -- --mode=starts --bursts=10,50,200,500 --rounds=2 [--checkouts=/old,/new] [--caps=default]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { JobState, type SteadytuneClient } from '../../client/index.js';
import { scaleOutServices } from '../../test/fixtures/scaleout-services.js';
import { startScaleOutCluster } from '../../test/fixtures/scaleout-cluster.js';
import { tinySpec } from '../../test/fixtures/server-harness.js';
import { clientFor } from '../../test/fixtures/server-process.js';
import { runStartBursts } from './starts.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    jobs: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '120' },
    'read-seconds': { type: 'string', default: '10' },
    apis: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    examples: { type: 'string', default: '64' },
    mode: { type: 'string', default: 'scaleout' },
    bursts: { type: 'string', default: '10,50,200,500' },
    rounds: { type: 'string', default: '1' },
    caps: { type: 'string', default: 'off' },
    checkouts: { type: 'string', default: fileURLToPath(new URL('../../', import.meta.url)) },
  },
});
const clients = Number(values.clients);
const jobLimit = Number(values.jobs);
const jobSeconds = Number(values.seconds);
const readSeconds = Number(values['read-seconds']);
const apiCount = Number(values.apis);
const workerCount = Number(values.workers);
const examples = Number(values.examples);

/** Latencies in ms per call name. */
const samples = new Map<string, number[]>();
function record(name: string, ms: number): void {
  samples.set(name, [...(samples.get(name) ?? []), ms]);
}
async function timed<T>(name: string, call: () => Promise<T>): Promise<T> {
  const began = performance.now();
  const result = await call();
  record(name, performance.now() - began);
  return result;
}
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

async function runJobs(
  starter: SteadytuneClient,
  streamer: SteadytuneClient,
  deadline: number,
  counter: { started: number; events: number; failed: number },
): Promise<void> {
  while (counter.started < jobLimit && performance.now() < deadline) {
    counter.started += 1;
    const began = performance.now();
    const started = await timed('StartFineTune', () => starter.startFineTune({ spec: tinySpec({ examples, seeds: [counter.started] }) }));
    const jobId = started.job?.id ?? '';
    let first = true;
    const streamBegan = performance.now();
    for await (const _event of streamer.streamMetrics(jobId)) {
      if (first) record('StreamMetrics (first event)', performance.now() - streamBegan);
      first = false;
      counter.events += 1;
    }
    record('StreamMetrics (whole job)', performance.now() - streamBegan);
    const job = await timed('GetJob', () => streamer.getJob(jobId));
    if (job.state !== JobState.JOB_STATE_SUCCEEDED) counter.failed += 1;
    record('job end to end', performance.now() - began);
  }
}

async function runReads(client: SteadytuneClient, jobIds: readonly string[], deadline: number): Promise<void> {
  for (let i = 0; performance.now() < deadline; i += 1) {
    await timed('GetJob (read phase)', () => client.getJob(jobIds[i % jobIds.length] ?? ''));
    if (i % 4 === 0) await timed('ListJobs (read phase)', () => client.listJobs({ pageSize: 20 }));
  }
}

async function main(): Promise<void> {
  const services = scaleOutServices();
  if (services === undefined) {
    process.stderr.write(
      'bench:load needs STEADYTUNE_TEST_REDIS_URL and STEADYTUNE_TEST_DATABASE_URL: eval "$(bash scripts/start-scaleout-services.sh)"\n',
    );
    process.exit(2);
  }
  const setupBegan = performance.now();
  // No job caps: the default 16 active jobs per tenant would refuse more than 16 clients (one tenant here).
  const cluster = await startScaleOutCluster(services, {
    apis: apiCount,
    workers: workerCount,
    env: { STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT: '0', STEADYTUNE_MAX_ACTIVE_JOBS: '0' },
  });
  // Interrupted (Ctrl-C, timeout): the processes it started must not outlive it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cluster.destroy().finally(() => process.exit(130)));
  }
  console.log(
    `cluster: ${apiCount} API + ${workerCount} worker processes (1 training thread each) up in ${((performance.now() - setupBegan) / 1000).toFixed(1)} s`,
  );
  const connections = cluster.apis.map((api) => clientFor(api.port));
  const clientPair = (i: number): [SteadytuneClient, SteadytuneClient] => [
    connections[i % connections.length] ?? (connections[0] as SteadytuneClient),
    connections[(i + 1) % connections.length] ?? (connections[0] as SteadytuneClient),
  ];
  try {
    const counter = { started: 0, events: 0, failed: 0 };
    const jobsBegan = performance.now();
    await Promise.all(Array.from({ length: clients }, (_, i) => runJobs(...clientPair(i), jobsBegan + jobSeconds * 1000, counter)));
    const jobsSeconds = (performance.now() - jobsBegan) / 1000;
    const listed = await connections[0]?.listJobs({ pageSize: 200 });
    const jobIds = listed?.jobs.map((job) => job.id) ?? [];
    const readsBegan = performance.now();
    await Promise.all(Array.from({ length: clients }, (_, i) => runReads(clientPair(i)[1], jobIds, readsBegan + readSeconds * 1000)));
    const readsTook = (performance.now() - readsBegan) / 1000;
    const reads = (samples.get('GetJob (read phase)')?.length ?? 0) + (samples.get('ListJobs (read phase)')?.length ?? 0);

    console.log(
      `\njobs phase: ${clients} clients, ${counter.started} jobs (${examples} examples, 1 seed, 1 epoch), ${counter.failed} not SUCCEEDED, ` +
        `${jobsSeconds.toFixed(1)} s: ${(counter.started / jobsSeconds).toFixed(2)} jobs/s, ${(counter.events / jobsSeconds).toFixed(0)} streamed events/s`,
    );
    console.log(`read phase: ${clients} clients, ${reads} calls in ${readsTook.toFixed(1)} s: ${(reads / readsTook).toFixed(0)} calls/s\n`);
    console.log('| call | count | p50 ms | p99 ms | max ms |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name, values] of samples) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(
        `| ${name} | ${sorted.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${(sorted.at(-1) ?? 0).toFixed(1)} |`,
      );
    }
  } finally {
    for (const connection of connections) connection.close();
    await cluster.destroy();
  }
}

if (values.mode === 'starts') {
  await runStartBursts({
    bursts: values.bursts.split(',').map(Number),
    rounds: Number(values.rounds),
    checkouts: values.checkouts.split(',').map((checkout) => path.resolve(checkout)),
    caps: values.caps === 'default',
  });
} else {
  await main();
}
