// /metrics during a real DSGD job: the real gRPC server, job service and worker threads, with
// the metrics recorder on the store and event log, scraped over HTTP while the job trains.
// The series must move while it runs and, once it ends, agree exactly with the job's event log.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobState, SteadytuneClient } from '../../client/index.js';
import { InMemoryEventLog } from '../../server/jobs/event-log.js';
import { EmbeddedJobService } from '../../server/jobs/job-service.js';
import { InMemoryJobStore } from '../../server/jobs/store.js';
import { WorkerPool } from '../../server/jobs/worker-pool.js';
import { silentLogger } from '../../server/logger.js';
import {
  JobMetricsRecorder,
  SteadytuneMetrics,
  startMetricsServer,
  type RunningMetricsServer,
} from '../../server/observability/index.js';
import { startServer, type RunningServer } from '../../server/rpc/server.js';
import { tinySpec } from './server-harness.js';

const RUN = 'method="dsgd",model_family="mlp",backend="[a-z]+"';

/** The value of the one sample whose name and labels match (labels as a regex fragment). */
function sample(exposition: string, name: string, labels = ''): number | undefined {
  const line = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(exposition);
  return line?.[1] === undefined ? undefined : Number(line[1]);
}

describe('metrics during a real fine-tune', () => {
  let dataDir = '';
  let log: InMemoryEventLog;
  let jobService: EmbeddedJobService;
  let server: RunningServer;
  let metricsServer: RunningMetricsServer;
  let client: SteadytuneClient;

  const scrape = async (): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${metricsServer.port}/metrics`);
    assert.equal(response.status, 200);
    return response.text();
  };

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-metrics-it-'));
    const metrics = new SteadytuneMetrics();
    const recorder = new JobMetricsRecorder(metrics, { onError: (error) => assert.fail(String(error)) });
    log = new InMemoryEventLog(Date.now);
    jobService = new EmbeddedJobService({
      store: recorder.observeStore(new InMemoryJobStore()),
      eventLog: recorder.observeEventLog(log),
      pool: new WorkerPool({ size: 1, config: { dataDir }, logger: silentLogger }),
      modelDir: path.join(dataDir, 'models'),
      clock: Date.now,
      logger: silentLogger,
    });
    server = await startServer({ port: 0, host: '127.0.0.1', jobService, logger: silentLogger });
    await jobService.startWorkers();
    metricsServer = await startMetricsServer({ port: 0, host: '127.0.0.1', registry: metrics.registry });
    client = new SteadytuneClient(`127.0.0.1:${server.port}`, { defaultDeadlineMs: 60_000 });
  });

  after(async () => {
    client.close();
    await metricsServer.close();
    server.drain();
    await jobService.shutdown();
    await server.close(2_000);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows the job running and its step series moving, then matches the event log exactly', async () => {
    // All the digits, one seed: hundreds of steps, so several scrapes land while it trains.
    const started = await client.startFineTune({ spec: tinySpec({ examples: 0, seeds: [7] }) });
    const jobId = started.job?.id ?? assert.fail('no job id');

    const stepsSeen: number[] = [];
    let sawRunning = false;
    const deadline = Date.now() + 120_000;
    while (stepsSeen.filter((steps) => steps > 0).length < 3) {
      assert.ok(Date.now() < deadline, `steps did not move in time: ${stepsSeen.join(', ')}`);
      const text = await scrape();
      sawRunning ||= sample(text, 'steadytune_jobs', 'state="RUNNING"') === 1;
      const steps = sample(text, 'steadytune_train_steps_total', RUN) ?? 0;
      if (steps !== stepsSeen.at(-1)) stepsSeen.push(steps);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(sawRunning, 'steadytune_jobs{state="RUNNING"} was 1 while the job trained');
    const moving = stepsSeen.filter((steps) => steps > 0);
    assert.deepEqual(moving, [...moving].sort((a, b) => a - b), 'a counter only grows');

    // Stop it here: the rest of the epoch adds nothing to what is being tested.
    await client.cancelJob(jobId);
    await waitForLogClosed(log, jobId);
    assert.equal((await client.getJob(jobId)).state, JobState.JOB_STATE_CANCELLED);

    const text = await scrape();
    const events = await log.read(jobId, 0);
    const steps = events.flatMap((e) => (e.body.kind === 'step' ? [e.body.step] : []));
    assert.ok(steps.length >= 3);
    assert.equal(sample(text, 'steadytune_train_steps_total', RUN), steps.length);
    assert.equal(sample(text, 'steadytune_gradient_norm_count', RUN), steps.length);
    assert.equal(sample(text, 'steadytune_step_duration_seconds_count', RUN), steps.length);
    const headCosines = steps.filter((s) => s.headConflictCosine !== null).length;
    assert.equal(sample(text, 'steadytune_gradient_conflict_cosine_count', `${RUN},scope="head"`) ?? 0, headCosines);
    const last = steps.at(-1) ?? assert.fail('no steps');
    assert.equal(sample(text, 'steadytune_dsgd_alpha', RUN), last.alpha);
    assert.equal(sample(text, 'steadytune_train_loss', RUN), last.loss);
    assert.ok(last.alpha > 0 && last.alpha < 1, `DSGD's alpha rises from 0 toward lambda: ${last.alpha}`);

    for (const state of ['QUEUED', 'RUNNING', 'CANCELLING']) assert.equal(sample(text, 'steadytune_jobs', `state="${state}"`), 0);
    assert.equal(sample(text, 'steadytune_jobs_finished_total', 'method="dsgd",model_family="mlp",outcome="cancelled"'), 1);
    assert.equal(sample(text, 'steadytune_runs_finished_total', `${RUN},outcome="cancelled"`), 1);
  });
});

async function waitForLogClosed(log: InMemoryEventLog, jobId: string): Promise<void> {
  // follow() ends once the terminal state_changed is in the log: then every metric has been fed.
  for await (const event of log.follow(jobId, 0, AbortSignal.timeout(60_000))) void event;
}
