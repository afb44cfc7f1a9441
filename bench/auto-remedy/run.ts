// Auto-remedy benchmark: the collapsing spec (collapsing-spec.ts) over the paper's ten seeds,
// without a remedy and under each policy, through the real service (main.ts's wiring, worker
// threads, the gRPC API). Writes bench/auto-remedy-runs.json and the "Auto-remedy" section
// at the end of bench/STABILITY.md (replacing an earlier one; the rest of the file is kept).
// Reproduce: npm run bench:auto-remedy
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoRemedy_Policy, JobState, PAPER_SEEDS, SteadytuneClient, type Job } from '../../client/index.js';
import { silentLogger } from '../../server/logger.js';
import { startSteadytune } from '../../server/main.js';
import { environmentLines } from '../stability/environment.js';
import { collapsingSpec } from './collapsing-spec.js';
import { autoRemedySection, replaceSection, summarizeArm, type Arm, type ArmResult } from './report.js';

const WORKERS = 2;
const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const ARMS: readonly Arm[] = [
  { name: 'no remedy' },
  { name: 'RESTART_NEXT_SEED', policy: AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED },
  { name: 'CONTINUE_UNDER_DSGD', policy: AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD },
];

async function runArm(client: SteadytuneClient, arm: Arm): Promise<{ job: Job; wallSeconds: number }> {
  const started = Date.now();
  const response = await client.startFineTune({
    spec: collapsingSpec(PAPER_SEEDS, arm.policy),
    displayName: `auto-remedy bench: ${arm.name}`,
  });
  if (response.job === undefined) throw new Error('StartFineTune returned no job');
  const job = await client.waitForJob(response.job.id);
  if (job.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`${arm.name}: job ${job.id} ended ${job.state}: ${job.reason}`);
  return { job, wallSeconds: (Date.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-bench-remedy-'));
  const app = await startSteadytune(
    {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      concurrency: WORKERS,
      backend: 'auto',
      logLevel: 'warn',
      metricsPort: 0,
      durability: { store: 'memory', checkpointEverySteps: 0, checkpointsKept: 1 },
    },
    silentLogger,
  );
  const client = new SteadytuneClient(`127.0.0.1:${app.port}`);
  const began = Date.now();
  try {
    // One arm at a time: each job spreads its ten runs over both workers, so timings compare.
    const results: ArmResult[] = [];
    for (const arm of ARMS) {
      const { job, wallSeconds } = await runArm(client, arm);
      results.push({ arm, job, wallSeconds });
      process.stderr.write(`${arm.name}: ${wallSeconds.toFixed(1)} s\n`);
    }
    const baseline = results[0];
    if (baseline === undefined) throw new Error('no baseline arm');
    const summaries = results.map((result) => summarizeArm(result, baseline));
    const section = autoRemedySection({
      summaries,
      environment: environmentLines(results[0]?.job.backend ?? 'unknown', WORKERS),
      minutes: (Date.now() - began) / 60_000,
      generated: new Date(),
    });
    const reportPath = path.join(BENCH_DIR, 'STABILITY.md');
    await writeFile(reportPath, replaceSection(await readFile(reportPath, 'utf8'), section));
    const runs = results.flatMap(({ arm, job }) =>
      job.runs.map((run) => ({
        arm: arm.name,
        seed: run.seed,
        accuracy: run.metrics?.accuracy,
        balancedAccuracy: run.metrics?.balancedAccuracy,
        verdict: run.metrics?.verdict,
        phases: run.phases.map((phase) => ({
          seed: phase.seed,
          method: phase.method?.method?.$case,
          startStep: phase.startStep,
          endStep: phase.endStep,
          verdict: phase.verdict,
          reason: phase.reason,
        })),
      })),
    );
    await writeFile(path.join(BENCH_DIR, 'auto-remedy-runs.json'), `[\n${runs.map((run) => JSON.stringify(run)).join(',\n')}\n]\n`);
    process.stdout.write(section);
  } finally {
    client.close();
    await app.stop(2_000);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
