// The stability benchmark: seeds × methods × learning rates on small imbalanced Fashion-MNIST
// tasks from an mnist-pretrained MLP body and from ImageNet-pretrained MobileNetV2's last blocks,
// and on SpamAssassin from a GloVe-initialised bag of embeddings, then the λ / schedule sweep on
// each backbone's most seed-sensitive cell. Writes bench/STABILITY.md, the figures and the per-run JSON.
//   node --import tsx bench/stability/run.ts [--quick] [--workers N] [--fresh]
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../../server/engine/backend.js';
import type { Weights } from '../../server/engine/index.js';
import { buildSettingData, loadFashionSplits, type SettingData } from './datasets.js';
import { buildSpamSetting, gloveBackbone } from './spam-data.js';
import { environmentLines, splitAvailable } from './environment.js';
import { mobileNetSetting, type MobileNetSetting } from './mobilenet-data.js';
import { writeAllFigures } from './figures.js';
import { pretrainedBody } from './pretrained-body.js';
import { runOnWorkers, type PoolRunFailure } from './pool.js';
import { buildJobs, protocolLines } from './plan.js';
import {
  LEARNING_RATES,
  METHODS,
  PAPER_SEEDS,
  SENSITIVITY,
  SETTINGS,
  backboneOf,
  jobKey,
  type Backbone,
  type RunJob,
  type SettingId,
  type SettingSpec,
} from './protocol.js';
import type { EmbeddingTable } from '../../server/engine/models/pretrained/index.js';
import { renderReport } from './report.js';
import { learningRateLabel } from './report-format.js';
import type { RunResult } from './run-result.js';
import { mostSeedSensitive, summarizeCells } from './summary.js';
import { keepSection } from '../auto-remedy/report.js';

const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('.cache/', import.meta.url));

interface Options {
  readonly quick: boolean;
  readonly workers: number;
  readonly fresh: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const workersAt = argv.indexOf('--workers');
  const workers = workersAt >= 0 ? Number(argv[workersAt + 1]) : Math.min(2, os.availableParallelism());
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers needs a positive integer');
  return { quick: argv.includes('--quick'), workers, fresh: argv.includes('--fresh') };
}

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

/** Finished runs survive a crash or a rerun: one JSON line per run, keyed by jobKey. */
async function loadRunCache(file: string): Promise<Map<string, RunResult>> {
  const cached = new Map<string, RunResult>();
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const result = JSON.parse(line) as RunResult;
    cached.set(jobKey(result.job), result);
  }
  return cached;
}

async function runJobs(
  jobs: readonly RunJob[],
  cache: Map<string, RunResult>,
  cacheFile: string,
  workers: number,
  shared: { settings: Partial<Record<SettingId, SettingData>>; bodyWeights: Weights; gloveTable?: EmbeddingTable },
): Promise<{ results: RunResult[]; failures: PoolRunFailure[]; reused: number }> {
  const reused = jobs.filter((job) => cache.has(jobKey(job)));
  const pending = jobs.filter((job) => !cache.has(jobKey(job)));
  log(`${jobs.length} runs: ${reused.length} from cache, ${pending.length} to train on ${workers} workers`);
  const started = performance.now();
  const outcome = await runOnWorkers(pending, workers, shared, (result, done, total) => {
    cache.set(jobKey(result.job), result);
    void fs.appendFile(cacheFile, `${JSON.stringify(result)}\n`);
    const eta = (((performance.now() - started) / done) * (total - done)) / 1000;
    const { job } = result;
    log(
      `[${done}/${total}] ${job.settingId} lr ${learningRateLabel(job.learningRate)} ${job.method.label} seed ${job.seed}: ` +
        `bal ${result.balancedAccuracy.toFixed(3)} ${result.verdict} (${result.wallSeconds.toFixed(1)} s; eta ${(eta / 60).toFixed(1)} min)`,
    );
  });
  for (const failure of outcome.failures) log(`FAILED ${failure.job.method.label} seed ${failure.job.seed}: ${failure.message}`);
  const results = jobs.flatMap((job) => {
    const result = cache.get(jobKey(job));
    return result ? [result] : [];
  });
  return { results, failures: outcome.failures, reused: reused.length };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const outputDir = options.quick ? path.join(CACHE_DIR, 'quick') : BENCH_DIR;
  await fs.mkdir(outputDir, { recursive: true });
  await fs.mkdir(CACHE_DIR, { recursive: true });
  const seeds = options.quick ? PAPER_SEEDS.slice(0, 2) : PAPER_SEEDS;
  const learningRates = options.quick ? [1e-3] : LEARNING_RATES;

  const backend = await selectBackend('wasm');
  const environment = environmentLines(backend.name, options.workers);
  const fashion = await loadFashionSplits();
  const spam = buildSpamSetting();
  const glove = await gloveBackbone(path.join(CACHE_DIR, 'vectors'), spam.tokens, log);
  let mobileNet: MobileNetSetting | undefined;
  const settings: Array<{ spec: SettingSpec; data: SettingData }> = [];
  for (const spec of SETTINGS) {
    const data = buildSettingData(spec.id, { fashion, spam: spam.data });
    if (spec.backbone !== 'mobilenet-v2') {
      settings.push({ spec, data });
      continue;
    }
    mobileNet = await mobileNetSetting(data, spec.id, path.join(CACHE_DIR, 'features'), log);
    settings.push({ spec, data: mobileNet.data });
  }
  const body = await pretrainedBody(CACHE_DIR, log);
  const { available: methods, missing } = splitAvailable(METHODS);
  const shared = {
    settings: Object.fromEntries(settings.map(({ spec, data }) => [spec.id, data])) as Partial<Record<SettingId, SettingData>>,
    bodyWeights: body.weights,
    gloveTable: glove.table,
    ...(mobileNet === undefined ? {} : { mobileNetTail: mobileNet.tail }),
  };

  const cacheFile = path.join(CACHE_DIR, options.quick ? 'quick-runs.jsonl' : 'runs.jsonl');
  if (options.fresh) await fs.rm(cacheFile, { force: true });
  const cache = await loadRunCache(cacheFile);
  const grid = await runJobs(buildJobs(SETTINGS, methods, learningRates, seeds, 'grid'), cache, cacheFile, options.workers, shared);
  const gridCells = summarizeCells(grid.results);
  const headline = mostSeedSensitive(gridCells.values());

  // The sweep runs on each backbone's most seed-sensitive FFT cell (the MLP's and the GloVe bag's).
  const backbones = [...new Set(SETTINGS.map((spec) => spec.backbone))];
  const sweeps = backbones.flatMap(
    (backbone: Backbone) => mostSeedSensitive(gridCells.values(), (id) => backboneOf(id) === backbone) ?? [],
  );
  const sensitivityJobs = sweeps.flatMap((target) =>
    buildJobs(
      SETTINGS.filter((s) => s.id === target.settingId),
      SENSITIVITY,
      [target.learningRate],
      seeds,
      'sensitivity',
    ),
  );
  const sensitivity = await runJobs(sensitivityJobs, cache, cacheFile, options.workers, shared);
  const allResults = [...grid.results, ...sensitivity.results];
  const cells = summarizeCells(allResults);

  const figures = await writeAllFigures(
    outputDir,
    cells,
    headline,
    sweeps,
    settings.map(({ spec }) => spec),
    methods,
    learningRates,
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const markdown = renderReport({
    quick: options.quick,
    generatedAt: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    wallSeconds,
    environment,
    protocolLines: protocolLines(body, glove, mobileNet, seeds, learningRates, methods),
    settings,
    notRun: missing,
    methods,
    learningRates,
    seeds,
    cells,
    headline,
    sweeps,
    sensitivity: SENSITIVITY,
    figures,
    failures: [...grid.failures, ...sensitivity.failures],
    reusedRuns: grid.reused + sensitivity.reused,
    workers: options.workers,
  });
  // The auto-remedy benchmark owns the last section: kept as it is.
  const previous = await fs.readFile(path.join(outputDir, 'STABILITY.md'), 'utf8').catch(() => '');
  await fs.writeFile(path.join(outputDir, 'STABILITY.md'), keepSection(markdown, previous));
  // One run per line: diffs between reruns stay readable.
  await fs.writeFile(
    path.join(outputDir, 'stability-runs.json'),
    `[\n${allResults.map((result) => JSON.stringify(result)).join(',\n')}\n]\n`,
  );
  log(`wrote ${path.join(outputDir, 'STABILITY.md')} in ${(wallSeconds / 60).toFixed(1)} min`);
}

await main();
