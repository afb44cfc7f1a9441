// Prometheus in scale-out, over real Redis and PostgreSQL with two API and two worker processes:
// what every process exports, summed as a dashboard sums it, matches the shared store. Job
// states come from one API process (the store's counts); steps, run ends and job ends from
// whichever process logged them (the workers, or the API that withdrew a queued job).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobState, RunState } from '../../client/index.js';
import { scrapeSamples, sumBy } from '../fixtures/metric-samples.js';
import { FAST_FAILOVER_ENV, startScaleOutCluster, type ScaleOutCluster } from '../fixtures/scaleout-cluster.js';
import { SCALEOUT_SKIP_REASON, scaleOutServices } from '../fixtures/scaleout-services.js';
import { tinySpec } from '../fixtures/server-harness.js';
import { clientFor } from '../fixtures/server-process.js';

const services = scaleOutServices();
const LIVE_STATES = ['QUEUED', 'RUNNING', 'CANCELLING'];
const END_STATES = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

interface StoreTotals {
  /** Jobs and runs by state name (QUEUED, ..., as the metrics' labels spell them). */
  readonly jobs: Map<string, number>;
  readonly runs: Map<string, number>;
  readonly steps: number;
}

async function storeTotals(client: ReturnType<typeof clientFor>): Promise<StoreTotals> {
  const jobs = new Map<string, number>();
  const runs = new Map<string, number>();
  let steps = 0;
  const count = (counts: Map<string, number>, state: string): void => void counts.set(state, (counts.get(state) ?? 0) + 1);
  for await (const job of client.listAllJobs()) {
    count(jobs, JobState[job.state].replace('JOB_STATE_', ''));
    for (const run of job.runs) {
      count(runs, RunState[run.state].replace('RUN_STATE_', ''));
      steps += run.steps;
    }
  }
  return { jobs, runs, steps };
}

/** The counts of `states` (state names or lower-case outcomes), zeros left out: a series may exist at 0 or not at all. */
function nonZero(counts: ReadonlyMap<string, number>, states: readonly string[]): Map<string, number> {
  return new Map(
    [...counts]
      .filter(([state, count]) => count > 0 && states.includes(state.toUpperCase()))
      .map(([state, count]) => [state.toUpperCase(), count]),
  );
}

function total(sums: ReadonlyMap<string, number>): number {
  return [...sums.values()].reduce((sum, value) => sum + value, 0);
}

describe('scale-out metrics: 2 API + 2 worker processes', {
  skip: services === undefined ? SCALEOUT_SKIP_REASON : false,
  timeout: 300_000,
}, () => {
  let cluster: ScaleOutCluster | undefined;

  before(async () => {
    if (services === undefined) return;
    cluster = await startScaleOutCluster(services, { apis: 2, workers: 2, env: FAST_FAILOVER_ENV });
  });
  after(async () => {
    await cluster?.destroy();
  });

  it('exports job states from one API process, and steps and ends where they were logged, matching the store', async () => {
    const current = cluster ?? assert.fail('cluster not started');
    const [first, second] = [clientFor(current.apis[0]?.port ?? 0), clientFor(current.apis[1]?.port ?? 0)];
    const processes = [...current.apis, ...current.workers];
    const scrapeAll = () => Promise.all(processes.map((process) => scrapeSamples(process.metricsPort)));

    const short = await first.startFineTune({ spec: tinySpec({ seeds: [1, 2] }) });
    assert.equal((await second.waitForJob(short.job?.id ?? assert.fail('no job'))).state, JobState.JOB_STATE_SUCCEEDED);
    // Two long jobs keep both workers busy (one job each), a third waits in the queue.
    const ids: string[] = [];
    for (const seed of [11, 12, 13]) {
      ids.push(
        (await first.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 10, seeds: [seed] }) })).job?.id ?? assert.fail('no job'),
      );
    }
    for (let waited = 0; (await storeTotals(second)).jobs.get('RUNNING') !== 2; waited += 200) {
      assert.ok(waited < 60_000, 'two jobs never ran at once');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // States change between a scrape and the store read only when a job starts or ends: read again then.
    let exported = new Map<string, number>();
    let stored = new Map<string, number>();
    let exporters: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const scraped = await scrapeAll();
      stored = (await storeTotals(second)).jobs;
      exporters = scraped.flatMap((samples, index) => (samples.some((sample) => sample.name === 'steadytune_jobs') ? [index] : []));
      exported = sumBy(scraped.flat(), 'steadytune_jobs', 'state');
      if (LIVE_STATES.every((state) => exported.get(state) === (stored.get(state) ?? 0))) break;
    }
    assert.equal(exporters.length, 1, 'one process exports the job states');
    assert.ok((exporters[0] ?? Number.POSITIVE_INFINITY) < current.apis.length, 'an API process');
    assert.deepEqual(exported, new Map(LIVE_STATES.map((state) => [state, stored.get(state) ?? 0])));
    assert.deepEqual([exported.get('RUNNING'), exported.get('QUEUED')], [2, 1]);

    for (const id of ids) await second.cancelJob(id);
    for (const id of ids) assert.equal((await second.waitForJob(id)).state, JobState.JOB_STATE_CANCELLED);
    const scraped = await scrapeAll();
    const store = await storeTotals(second);
    const all = scraped.flat();
    assert.deepEqual(nonZero(sumBy(all, 'steadytune_jobs_finished_total', 'outcome'), END_STATES), nonZero(store.jobs, END_STATES));
    assert.deepEqual(nonZero(sumBy(all, 'steadytune_runs_finished_total', 'outcome'), END_STATES), nonZero(store.runs, END_STATES));
    assert.deepEqual(
      nonZero(store.jobs, END_STATES),
      new Map([
        ['SUCCEEDED', 1],
        ['CANCELLED', 3],
      ]),
    );
    assert.deepEqual(sumBy(all, 'steadytune_jobs', 'state'), new Map(LIVE_STATES.map((state) => [state, 0])));
    const stepsPerProcess = scraped.map((samples) => total(sumBy(samples, 'steadytune_train_steps_total', 'backend')));
    assert.equal(total(sumBy(all, 'steadytune_train_steps_total', 'backend')), store.steps);
    assert.deepEqual(
      stepsPerProcess.slice(0, current.apis.length),
      current.apis.map(() => 0),
      'API processes train nothing',
    );
    console.log(
      `scale-out metrics: ${store.steps} steps in the store, exported by the workers as ${stepsPerProcess.slice(current.apis.length).join(' + ')}`,
    );
    first.close();
    second.close();
  });
});
