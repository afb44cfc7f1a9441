// The steadytune Grafana dashboard, as code. `npm run grafana:dashboard` writes it to
// steadytune-dashboard.json beside this file; a unit test fails when the two drift, and the
// promtool test parses every expression here against Prometheus's own parser.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BigValueGraphMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  ScaleDistribution,
  ScaleDistributionConfigBuilder,
  SortOrder,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

export const DASHBOARD_JSON_PATH = fileURLToPath(new URL('./steadytune-dashboard.json', import.meta.url));

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, resolved by the dashboard
const PROMETHEUS: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
/** Every training series is filtered by the dashboard's method and model family pickers. */
const RUN = 'method=~"$method", model_family=~"$model_family"';
const RATE = '$__rate_interval';
/** Streams stay open for minutes; their "latency" would hide the unary calls'. */
const UNARY_RPCS = 'rpc_method!~".*/(StreamMetrics|Watch|ServerReflectionInfo)"';

interface Query {
  readonly expr: string;
  readonly legend: string;
}

function queries(list: readonly Query[]): DataqueryBuilder[] {
  return list.map(({ expr, legend }, i) =>
    new DataqueryBuilder()
      .datasource(PROMETHEUS)
      .expr(expr)
      .legendFormat(legend)
      .refId(String.fromCharCode(65 + i)),
  );
}

function timeseries(title: string, description: string, unit: string, list: readonly Query[]): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(unit)
    .height(8)
    .span(12)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  for (const target of queries(list)) panel.withTarget(target);
  return panel;
}

function stat(title: string, description: string, list: readonly Query[]): StatPanelBuilder {
  const panel = new StatPanelBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit('short')
    .height(8)
    .span(6)
    .graphMode(BigValueGraphMode.Area)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  for (const target of queries(list)) panel.withTarget(target);
  return panel;
}

function meanOf(histogram: string, selector: string, by: string): string {
  return `sum by (${by}) (rate(${histogram}_sum{${selector}}[${RATE}])) / sum by (${by}) (rate(${histogram}_count{${selector}}[${RATE}]))`;
}

function quantileOf(q: number, histogram: string, selector: string, by: string): string {
  return `histogram_quantile(${q}, sum by (le, ${by}) (rate(${histogram}_bucket{${selector}}[${RATE}])))`;
}

export function buildDashboard(): Dashboard {
  const labelPicker = (name: string, label: string): QueryVariableBuilder =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(PROMETHEUS)
      .query(`label_values(steadytune_train_steps_total, ${name})`)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .current({ text: 'All', value: '$__all' });

  const dashboard = new DashboardBuilder('steadytune')
    .uid('steadytune')
    .description('Fine-tuning stability (DSGD telemetry), job flow and RPC latency of the steadytune service.')
    .tags(['steadytune', 'generated'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(labelPicker('method', 'Method'))
    .withVariable(labelPicker('model_family', 'Model family'))

    .withRow(new RowBuilder('Training stability'))
    .withPanel(
      timeseries(
        'Gradient conflict cosine',
        "Mean cos(g_W, g_C) between misclassified and correct examples' gradients. Head: every step, closed form; full: sampled steps, all parameters. Failed runs sit below -0.5.",
        'none',
        [{ expr: meanOf('steadytune_gradient_conflict_cosine', RUN, 'method, scope'), legend: '{{method}} {{scope}}' }],
      )
        .min(-1)
        .max(1),
    )
    .withPanel(
      timeseries(
        'Steps in strong conflict',
        'Share of head cosines at or below -0.5: the gradient-cancellation regime DSGD is meant to escape.',
        'percentunit',
        [
          {
            expr: `sum by (method) (rate(steadytune_gradient_conflict_cosine_bucket{scope="head", le="-0.5", ${RUN}}[${RATE}])) / sum by (method) (rate(steadytune_gradient_conflict_cosine_count{scope="head", ${RUN}}[${RATE}]))`,
            legend: '{{method}}',
          },
        ],
      )
        .min(0)
        .max(1),
    )
    .withPanel(
      timeseries(
        'Gradient norm',
        "Mean global L2 norm of the update's gradient (before clipping); near zero means the run stalled.",
        'none',
        [{ expr: meanOf('steadytune_gradient_norm', RUN, 'method, model_family'), legend: '{{method}} {{model_family}}' }],
      ).scaleDistribution(new ScaleDistributionConfigBuilder().type(ScaleDistribution.Log).log(10)),
    )
    .withPanel(
      timeseries(
        'DSGD alpha and correct fraction',
        'alpha_t of the latest step (rises from 0 to lambda) and the share of correct examples |C|/|B|.',
        'none',
        [
          { expr: `max by (method, model_family) (steadytune_dsgd_alpha{${RUN}})`, legend: 'alpha {{method}} {{model_family}}' },
          { expr: `avg by (method, model_family) (steadytune_correct_fraction{${RUN}})`, legend: 'correct {{method}} {{model_family}}' },
        ],
      ).min(0),
    )
    .withPanel(
      timeseries('Training loss', 'Unweighted mean cross-entropy of the latest step.', 'none', [
        { expr: `avg by (method, model_family) (steadytune_train_loss{${RUN}})`, legend: '{{method}} {{model_family}}' },
      ]).min(0),
    )
    .withPanel(
      timeseries('Training accuracy', "Accuracy of the latest step's batch, before the update.", 'percentunit', [
        { expr: `avg by (method, model_family) (steadytune_train_accuracy{${RUN}})`, legend: '{{method}} {{model_family}}' },
      ])
        .min(0)
        .max(1),
    )

    .withRow(new RowBuilder('Throughput'))
    .withPanel(
      timeseries('Step time', 'Wall time of one optimizer step in a worker thread.', 's', [
        { expr: quantileOf(0.5, 'steadytune_step_duration_seconds', RUN, 'method, backend'), legend: 'p50 {{method}} {{backend}}' },
        { expr: quantileOf(0.95, 'steadytune_step_duration_seconds', RUN, 'method, backend'), legend: 'p95 {{method}} {{backend}}' },
      ]),
    )
    .withPanel(
      timeseries('Training steps', 'Optimizer steps per second, all running seeds together.', 'ops', [
        { expr: `sum by (method, backend) (rate(steadytune_train_steps_total{${RUN}}[${RATE}]))`, legend: '{{method}} {{backend}}' },
      ]),
    )

    .withRow(new RowBuilder('Jobs and runs'))
    .withPanel(
      timeseries('Jobs by state', 'Jobs queued, running and cancelling right now.', 'short', [
        { expr: 'sum by (state) (steadytune_jobs)', legend: '{{state}}' },
      ]).min(0),
    )
    .withPanel(
      timeseries('Worker pool', 'Tasks waiting for a worker thread, and the share of workers busy.', 'short', [
        { expr: 'sum(steadytune_queue_depth)', legend: 'queued tasks' },
        { expr: 'avg(steadytune_worker_utilization_ratio)', legend: 'utilisation' },
      ]).min(0),
    )
    .withPanel(
      stat('Collapsed runs', 'Seed runs whose validation predictions collapsed to one class, in the selected time range.', [
        { expr: `sum by (method) (increase(steadytune_collapsed_runs_total{${RUN}}[$__range]))`, legend: '{{method}}' },
      ]),
    )
    .withPanel(
      stat('Degenerate runs', 'Seed runs that ended near chance accuracy, in the selected time range.', [
        { expr: `sum by (method) (increase(steadytune_degenerate_runs_total{${RUN}}[$__range]))`, legend: '{{method}}' },
      ]),
    )
    .withPanel(
      timeseries('Jobs finished', 'Jobs reaching a terminal state, by outcome.', 'short', [
        { expr: `sum by (outcome) (increase(steadytune_jobs_finished_total{${RUN}}[${RATE}]))`, legend: '{{outcome}}' },
      ]).min(0),
    )
    .withPanel(
      timeseries('Automatic remedies', 'Remedies the service applied on its own during training (notices tagged auto-remedy:).', 'short', [
        { expr: `sum by (method) (increase(steadytune_auto_remedies_total{${RUN}}[${RATE}]))`, legend: '{{method}}' },
      ]).min(0),
    )

    .withRow(new RowBuilder('RPC'))
    .withPanel(
      timeseries('RPC latency', 'Unary gRPC calls, p50 and p99 by method (streams excluded).', 's', [
        { expr: quantileOf(0.5, 'steadytune_rpc_duration_seconds', UNARY_RPCS, 'rpc_method'), legend: 'p50 {{rpc_method}}' },
        { expr: quantileOf(0.99, 'steadytune_rpc_duration_seconds', UNARY_RPCS, 'rpc_method'), legend: 'p99 {{rpc_method}}' },
      ]),
    )
    .withPanel(
      timeseries('RPC rate by status', 'Calls per second by status code.', 'reqps', [
        { expr: `sum by (code) (rate(steadytune_rpc_duration_seconds_count[${RATE}]))`, legend: '{{code}}' },
      ]),
    )
    .build();
  // Fixed ids in layout order: links to one panel (viewPanel=N) survive regeneration.
  for (const [index, panel] of (dashboard.panels ?? []).entries()) panel.id = index + 1;
  return dashboard;
}

/** The file's exact content: stable key order from the builder, two-space indent, final newline. */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

/** Every PromQL expression in the dashboard (panels and variable queries excluded: those are Grafana's). */
export function dashboardExpressions(dashboard: Dashboard = buildDashboard()): string[] {
  return (dashboard.panels ?? []).flatMap((panel) =>
    'targets' in panel
      ? (panel.targets ?? []).flatMap((target) => ('expr' in target && typeof target.expr === 'string' ? [target.expr] : []))
      : [],
  );
}

const entryPoint = process.argv[1];
if (entryPoint !== undefined && import.meta.url === pathToFileURL(entryPoint).href) {
  writeFileSync(DASHBOARD_JSON_PATH, dashboardJson());
  process.stdout.write(`wrote ${DASHBOARD_JSON_PATH}\n`);
}
