// /metrics during a real DSGD job, on the composition root main.ts runs (startSteadytune: gRPC
// server with the RPC metrics interceptor, job service with the recorder on its store and
// event log, worker threads, the scrape endpoint), scraped over HTTP while the job trains.
// The series must move while it runs, pass promtool's lint mid-training and, once the job
// ends, agree exactly with the job's event log as StreamMetrics replays it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobState, type StepMetrics } from '../../client/index.js';
import { promtool, promtoolSkip } from '../fixtures/promtool.js';
import { collect, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

const RUN = 'method="dsgd",model_family="mlp",backend="[a-z]+"';
const TRAINER = 'steadytune.v1.Trainer';

/** The value of the one sample whose name and labels match (labels as a regex fragment, in order). */
function sample(exposition: string, name: string, labels = ''): number | undefined {
  const line = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(exposition);
  return line?.[1] === undefined ? undefined : Number(line[1]);
}

/** The value of the sample of `name` carrying every one of `labels`, in whatever order. */
function sampleWith(exposition: string, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of exposition.split('\n')) {
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return undefined;
}

describe('metrics during a real fine-tune', () => {
  let server: TestServer;
  const promtoolSkipReason = promtoolSkip();

  const scrape = async (): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${server.app.metricsPort}/metrics`);
    assert.equal(response.status, 200);
    return response.text();
  };

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
  });

  after(async () => {
    await server.stop();
  });

  it('shows the job running and its step series moving, lints clean mid-training, then matches the event log exactly', async (t) => {
    const { client } = server;
    // All the digits, one seed, 20 epochs: thousands of steps (a few seconds at least, however
    // fast the engine gets), so several scrapes land while it trains; it is cancelled below.
    const started = await client.startFineTune({ spec: tinySpec({ examples: 0, seeds: [7], epochs: 20 }) });
    const jobId = started.job?.id ?? assert.fail('no job id');

    const stepsSeen: number[] = [];
    let sawRunning = false;
    let trainingScrape = '';
    const deadline = Date.now() + 120_000;
    while (stepsSeen.filter((steps) => steps > 0).length < 3) {
      assert.ok(Date.now() < deadline, `steps did not move in time: ${stepsSeen.join(', ')}`);
      const text = await scrape();
      const running = sample(text, 'steadytune_jobs', 'state="RUNNING"') === 1;
      sawRunning ||= running;
      const steps = sample(text, 'steadytune_train_steps_total', RUN) ?? 0;
      if (running && steps > 0) trainingScrape = text;
      if (steps !== stepsSeen.at(-1)) stepsSeen.push(steps);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(sawRunning, 'steadytune_jobs{state="RUNNING"} was 1 while the job trained');
    const moving = stepsSeen.filter((steps) => steps > 0);
    assert.deepEqual(
      moving,
      [...moving].sort((a, b) => a - b),
      'a counter only grows',
    );

    await t.test('promtool check metrics: a live scrape taken while the job trains', { skip: promtoolSkipReason }, () => {
      assert.notEqual(trainingScrape, '', 'a scrape with the job RUNNING and steps counted');
      const { status, output } = promtool(['check', 'metrics'], { input: trainingScrape });
      assert.equal(status, 0, output);
      assert.equal(output.trim(), '', 'no lint findings');
    });

    // Stop it here: the rest of the epoch adds nothing to what is being tested.
    await client.cancelJob(jobId);
    // The stream ends once the terminal state_changed is in the log: then every metric has been fed.
    const events = await collect(client.streamMetrics(jobId));
    assert.equal((await client.getJob(jobId)).state, JobState.JOB_STATE_CANCELLED);

    const text = await scrape();
    const steps = events.flatMap((e): StepMetrics[] => (e.event?.$case === 'step' ? [e.event.value] : []));
    assert.ok(steps.length >= 3);
    assert.equal(sample(text, 'steadytune_train_steps_total', RUN), steps.length);
    assert.equal(sample(text, 'steadytune_gradient_norm_count', RUN), steps.length);
    assert.equal(sample(text, 'steadytune_step_duration_seconds_count', RUN), steps.length);
    const headCosines = steps.filter((s) => s.headConflictCosine !== undefined).length;
    assert.equal(sample(text, 'steadytune_gradient_conflict_cosine_count', `${RUN},scope="head"`) ?? 0, headCosines);
    const last = steps.at(-1) ?? assert.fail('no steps');
    assert.equal(sample(text, 'steadytune_dsgd_alpha', RUN), last.alpha);
    assert.equal(sample(text, 'steadytune_train_loss', RUN), last.loss);
    assert.ok(last.alpha > 0 && last.alpha < 1, `DSGD's alpha rises from 0 toward lambda: ${last.alpha}`);

    for (const state of ['QUEUED', 'RUNNING', 'CANCELLING']) assert.equal(sample(text, 'steadytune_jobs', `state="${state}"`), 0);
    assert.equal(sample(text, 'steadytune_jobs_finished_total', 'method="dsgd",model_family="mlp",outcome="cancelled"'), 1);
    assert.equal(sample(text, 'steadytune_runs_finished_total', `${RUN},outcome="cancelled"`), 1);

    // The interceptor timed the calls this test made, each under its method and status.
    for (const method of ['StartFineTune', 'GetJob', 'CancelJob']) {
      const count = sampleWith(text, 'steadytune_rpc_duration_seconds_count', { rpc_method: `${TRAINER}/${method}`, code: 'OK' });
      assert.ok(count !== undefined && count >= 1, `steadytune_rpc_duration_seconds_count for ${method} OK: ${count}`);
    }
  });
});
