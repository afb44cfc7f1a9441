// Prometheus's own tool judges what we ship: the alert rules (check + unit tests), every PromQL
// expression of the Grafana dashboard, and the /metrics exposition, default Node metrics
// included. Skips when promtool is not installed, unless STEADYTUNE_REQUIRE_PROMTOOL=1 (CI).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { dashboardExpressions } from '../../deploy/grafana/dashboard.js';
import type { StepTelemetry } from '../../server/engine/types.js';
import type { JobEventBody } from '../../server/jobs/types.js';
import { AUTO_REMEDY_NOTICE_PREFIX, SteadytuneMetrics, type JobMetricLabels } from '../../server/observability/index.js';
import { promtool, promtoolSkip, type PromtoolOutcome } from '../fixtures/promtool.js';

const PROMETHEUS_DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

const skip = promtoolSkip();

function promtoolHere(args: readonly string[], input?: string): PromtoolOutcome {
  return promtool(args, { cwd: PROMETHEUS_DIR, input });
}

/**
 * Grafana's variables are not PromQL. Replace them with what Grafana would send: a duration for
 * the interval macros, a match-all regex for the pickers (they only appear inside `=~"..."`).
 */
function toPromql(expression: string): string {
  return expression.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?\w+\}?/g, '.*');
}

describe('promtool', { skip }, () => {
  test('check rules: deploy/prometheus/alerts.yml', () => {
    const { status, output } = promtoolHere(['check', 'rules', 'alerts.yml']);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: 5 rules found/);
  });

  test('check config: deploy/prometheus/prometheus.yml (scrape config + rule files)', () => {
    const { status, output } = promtoolHere(['check', 'config', 'prometheus.yml']);
    assert.equal(status, 0, output);
  });

  test('test rules: deploy/prometheus/alerts.test.yml', () => {
    const { status, output } = promtoolHere(['test', 'rules', 'alerts.test.yml']);
    assert.equal(status, 0, output);
  });

  test('every dashboard expression parses as PromQL', () => {
    const expressions = dashboardExpressions();
    assert.ok(expressions.length >= 15, `found ${expressions.length} expressions`);
    // Recording rules are parsed exactly like queries; `check rules` reports each bad one.
    const rules = expressions.map(
      (expr, i) => `      - record: steadytune:dashboard_expression_${i}:check\n        expr: ${JSON.stringify(toPromql(expr))}`,
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'steadytune-promql-'));
    try {
      const file = path.join(dir, 'dashboard-expressions.yml');
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const { status, output } = promtoolHere(['check', 'rules', file]);
      assert.equal(status, 0, `${output}\n${expressions.map((e, i) => `${i}: ${toPromql(e)}`).join('\n')}`);
      assert.match(output, new RegExp(`SUCCESS: ${expressions.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('check metrics: the full exposition, every family populated, lints clean', async () => {
    const metrics = new SteadytuneMetrics();
    feedEverySeries(metrics);
    // Lets the event-loop lag monitor take a first sample too.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const exposition = await metrics.exposition();
    for (const family of [
      'steadytune_gradient_conflict_cosine_bucket',
      'steadytune_rpc_duration_seconds_bucket',
      'nodejs_heap_size_used_bytes',
      'process_cpu_seconds_total',
    ]) {
      assert.match(exposition, new RegExp(`^${family}`, 'm'));
    }
    const { status, output } = promtoolHere(['check', 'metrics'], exposition);
    assert.equal(status, 0, output);
    assert.equal(output.trim(), '');
  });
});

function feedEverySeries(metrics: SteadytuneMetrics): void {
  const labels: JobMetricLabels = { method: 'dsgd', modelFamily: 'mlp', backend: 'cpu' };
  const step: StepTelemetry = {
    step: 1,
    totalSteps: 2,
    epoch: 0,
    loss: 0.9,
    accuracy: 0.5,
    alpha: 0.5,
    correctFraction: 0.5,
    gradientNorm: 0.3,
    learningRate: 0.001,
    headConflictCosine: -0.4,
    fullConflict: { cosine: -0.5, normWrong: 1, normCorrect: 1 },
    stepSeconds: 0.01,
  };
  const bodies: JobEventBody[] = [
    { kind: 'state_changed', state: 'QUEUED', reason: '' },
    { kind: 'run_started', totalSteps: 2, backend: 'cpu' },
    { kind: 'step', step },
    { kind: 'notice', message: `${AUTO_REMEDY_NOTICE_PREFIX} test` },
    { kind: 'run_finished', run: { seed: 1, state: 'FAILED', steps: 1, totalSteps: 2, meanStepSeconds: 0.01, durationMs: 10 } },
    { kind: 'state_changed', state: 'FAILED', reason: 'test' },
  ];
  bodies.forEach((body, i) => metrics.observeJobEvent({ sequence: i + 1, time: i, seed: 1, body }, labels));
  metrics.jobs.inc({ state: 'RUNNING' });
  metrics.bindWorkerPool({ size: 2, queuedTasks: () => 1, busyWorkers: () => 2 });
  metrics.rpcDuration.observe({ rpc_method: 'steadytune.v1.Trainer/StartFineTune', code: 'OK' }, 0.02);
}
