// The committed dashboard JSON is exactly what deploy/grafana/dashboard.ts generates, and it
// covers the panels operators were promised. PromQL parsing is observability-promtool.spec.ts's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DASHBOARD_JSON_PATH, buildDashboard, dashboardExpressions, dashboardJson } from '../../deploy/grafana/dashboard.js';

describe('Grafana dashboard', () => {
  test('the committed JSON equals the generator output (run `npm run grafana:dashboard` to refresh)', () => {
    assert.equal(readFileSync(DASHBOARD_JSON_PATH, 'utf8'), dashboardJson());
  });

  test('has the promised panels, each querying the metrics the service exports', () => {
    const dashboard = buildDashboard();
    const titles = (dashboard.panels ?? []).map((panel) => panel.title);
    for (const title of [
      'Gradient conflict cosine',
      'Gradient norm',
      'DSGD alpha and correct fraction',
      'Training loss',
      'Training accuracy',
      'Step time',
      'Jobs by state',
      'Collapsed runs',
      'RPC latency',
    ]) {
      assert.ok(titles.includes(title), `panel ${title}`);
    }
    const expressions = dashboardExpressions(dashboard).join('\n');
    for (const metric of [
      'steadytune_gradient_conflict_cosine_sum',
      'steadytune_gradient_norm_sum',
      'steadytune_dsgd_alpha',
      'steadytune_train_loss',
      'steadytune_train_accuracy',
      'steadytune_step_duration_seconds_bucket',
      'steadytune_jobs',
      'steadytune_collapsed_runs_total',
      'steadytune_rpc_duration_seconds_bucket',
      'steadytune_queue_depth',
      'steadytune_worker_utilization_ratio',
    ]) {
      assert.ok(expressions.includes(metric), `some panel queries ${metric}`);
    }
    // The conflict panel shows both scopes (head and full) through its `by (method, scope)`.
    assert.match(expressions, /steadytune_gradient_conflict_cosine_sum\{[^}]*\}\[[^\]]+\]\)\) \/ sum by \(method, scope\)/);
  });
});
