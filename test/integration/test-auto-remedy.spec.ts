// Auto-remedy over the real server: a learning rate that collapses plain fine-tuning, then the
// same spec with each policy on, ending with a healthy run whose every phase is on record.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AutoRemedy_Policy,
  JobState,
  Verdict,
  type FineTuneSpec,
  type Job,
  type SeedRun,
  type StreamMetricsResponse,
} from '../../client/index.js';
import { COLLAPSE_DETECTION, collapsingSpec } from '../../bench/auto-remedy/collapsing-spec.js';
import { assertDense, collect, startTestServer, type TestServer } from '../fixtures/server-harness.js';

/** The seed (of the paper's ten) whose FFT run collapses for good under this spec (bench/auto-remedy). */
const COLLAPSING_SEED = 112;
const MIN_GRADIENT_NORM = COLLAPSE_DETECTION.minGradientNorm;
const WINDOW_STEPS = COLLAPSE_DETECTION.windowSteps;

async function runToEnd(server: TestServer, spec: FineTuneSpec): Promise<{ job: Job; events: StreamMetricsResponse[] }> {
  const started = await server.client.startFineTune({ spec });
  assert.ok(started.job);
  const events = await collect(server.client.streamMetrics(started.job.id));
  assertDense(events);
  return { job: await server.client.getJob(started.job.id), events };
}

function gradientNorms(events: readonly StreamMetricsResponse[]): number[] {
  return events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value.gradientNorm] : []));
}

function remedyNotices(events: readonly StreamMetricsResponse[]): string[] {
  return events.flatMap((e) =>
    e.event?.$case === 'notice' && e.event.value.message.startsWith('auto-remedy:') ? [e.event.value.message] : [],
  );
}

/**
 * The stream's structured record of the phase changes: one phase_started event per change, equal
 * to the run's phases, each followed by the notice restating it for clients that predate it.
 */
function assertPhaseEvents(
  events: readonly StreamMetricsResponse[],
  run: SeedRun | undefined,
  policy: AutoRemedy_Policy,
  notices: readonly string[],
): void {
  const phases = run?.phases ?? [];
  const changes = events.flatMap((e, position) =>
    e.event?.$case === 'phaseStarted' ? [{ seed: e.seed, started: e.event.value, position }] : [],
  );
  assert.equal(changes.length, phases.length - 1);
  changes.forEach(({ seed, started, position }, index) => {
    const next = phases[index + 1];
    assert.equal(seed, run?.seed);
    assert.deepEqual([started.phaseIndex, started.policy, started.notice], [index + 1, policy, notices[index]]);
    assert.deepEqual(started.ended, phases[index]);
    assert.deepEqual(started.phase, next && { ...next, endStep: next.startStep, verdict: Verdict.VERDICT_UNSPECIFIED, reason: '' });
    assert.deepEqual(events[position + 1]?.event, { $case: 'notice', value: { message: started.notice } });
  });
}

describe('auto-remedy', () => {
  let server: TestServer;
  const results = new Map<string, Promise<{ job: Job; events: StreamMetricsResponse[] }>>();

  before(async () => {
    server = await startTestServer({ concurrency: 2 });
    // All three at once: the machine has two workers.
    results.set('off', runToEnd(server, collapsingSpec([COLLAPSING_SEED])));
    results.set('restart', runToEnd(server, collapsingSpec([COLLAPSING_SEED], AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED)));
    results.set('continue', runToEnd(server, collapsingSpec([COLLAPSING_SEED], AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD)));
  });
  after(() => server.stop());

  it('has a spec that really collapses plain fine-tuning: one class, gradient norm ~0', async () => {
    const { job, events } = await (results.get('off') ?? assert.fail());
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    const [run] = job.runs;
    assert.equal(run?.metrics?.verdict, Verdict.VERDICT_COLLAPSED);
    const norms = gradientNorms(events);
    assert.equal(norms.length, 30);
    // Large while it trained, vanished once it collapsed: the last steps are flat.
    assert.ok(Math.max(...norms.slice(0, 10)) > 1, `early norms ${norms.slice(0, 10).join(' ')}`);
    assert.ok(
      norms.slice(-WINDOW_STEPS).every((norm) => norm < MIN_GRADIENT_NORM),
      `last norms ${norms.slice(-WINDOW_STEPS).join(' ')}`,
    );
    assert.equal(remedyNotices(events).length, 0);
    assert.equal(events.filter((e) => e.event?.$case === 'phaseStarted').length, 0);
    assert.equal(run?.phases.length, 1, 'a run without remedies is one phase');
    assert.ok((run?.peakMemoryBytes ?? 0) > 0, 'peak memory is reported');
  });

  it('RESTART_NEXT_SEED ends healthy under a later seed, with every phase in the log and the result', async () => {
    const { job, events } = await (results.get('restart') ?? assert.fail());
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    const [run] = job.runs;
    assert.equal(run?.seed, COLLAPSING_SEED);
    assert.equal(run?.metrics?.verdict, Verdict.VERDICT_OK);
    const phases = run?.phases ?? [];
    assert.ok(phases.length >= 2, `phases: ${JSON.stringify(phases)}`);
    phases.forEach((phase, index) => {
      assert.equal(phase.seed, COLLAPSING_SEED + 1000 * index);
      assert.equal(phase.method?.method?.$case, 'fft');
      assert.equal(phase.startStep, 0);
      const last = index === phases.length - 1;
      assert.equal(phase.verdict, last ? Verdict.VERDICT_OK : Verdict.VERDICT_COLLAPSED);
      assert.equal(phase.endStep, last ? 30 : phase.endStep);
      assert.match(phase.reason, last ? /^$/ : /^collapsed at step \d+: one class on validation, gradient norm < 0.02 for \d+ steps$/);
    });
    const notices = remedyNotices(events);
    assert.equal(notices.length, phases.length - 1);
    notices.forEach((notice, index) => {
      assert.match(
        notice,
        new RegExp(
          `^auto-remedy: seed ${COLLAPSING_SEED} phase ${index + 2} from step 0: .*restarting under seed ${COLLAPSING_SEED + 1000 * (index + 1)}`,
        ),
      );
    });
    assert.deepEqual(
      job.notices.filter((n) => n.startsWith('auto-remedy:')),
      notices,
    );
    assertPhaseEvents(events, run, AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED, notices);
    // Every step of every phase is in the log: the phases train their steps from 0 again.
    const stepEvents = events.filter((e) => e.event?.$case === 'step').length;
    assert.equal(
      stepEvents,
      phases.reduce((sum, phase) => sum + phase.endStep - phase.startStep, 0),
    );
  });

  it('CONTINUE_UNDER_DSGD ends healthy under DSGD from a healthy checkpoint of the same seed', async () => {
    const { job, events } = await (results.get('continue') ?? assert.fail());
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    const [run] = job.runs;
    assert.equal(run?.metrics?.verdict, Verdict.VERDICT_OK);
    const [collapsed, continued, ...more] = run?.phases ?? [];
    assert.equal(more.length, 0);
    assert.deepEqual(
      [collapsed?.seed, collapsed?.method?.method?.$case, collapsed?.startStep, collapsed?.verdict],
      [COLLAPSING_SEED, 'fft', 0, Verdict.VERDICT_COLLAPSED],
    );
    assert.equal(continued?.seed, COLLAPSING_SEED);
    assert.deepEqual(continued?.method?.method, { $case: 'dsgd', value: { lambda: 1, schedule: 1 } });
    assert.ok(
      (continued?.startStep ?? 0) > 0 && (continued?.startStep ?? 0) < (collapsed?.endStep ?? 0),
      'from a checkpoint before the collapse',
    );
    assert.deepEqual([continued?.endStep, continued?.verdict, continued?.reason], [30, Verdict.VERDICT_OK, '']);
    const [notice, ...others] = remedyNotices(events);
    assert.equal(others.length, 0);
    assertPhaseEvents(events, run, AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD, [notice ?? '']);
    assert.match(
      notice ?? '',
      new RegExp(
        `^auto-remedy: seed ${COLLAPSING_SEED} phase 2 from step ${continued?.startStep}: collapsed at step ${collapsed?.endStep}: .*` +
          `continuing from the healthy checkpoint at step ${continued?.startStep} under dsgd λ=1, linear`,
      ),
    );
    // After the notice the steps count on from the checkpoint, with DSGD's alpha below 1.
    const afterNotice = events.slice(events.findIndex((e) => e.event?.$case === 'notice' && e.event.value.message === notice) + 1);
    const firstStep = afterNotice.find((e) => e.event?.$case === 'step');
    assert.equal(firstStep?.event?.$case === 'step' && firstStep.event.value.step, (continued?.startStep ?? 0) + 1);
    assert.ok(firstStep?.event?.$case === 'step' && firstStep.event.value.alpha < 1);
  });
});
