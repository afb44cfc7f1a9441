// The engine against PyTorch on the same models, data, batch, optimizer and DSGD weighting,
// in one run: the engine (fast kernels on), the engine with its kernels off (the stock-op
// path, the "before"), and PyTorch (torch_peer.py, one thread) in every AdamW path this build has
// (peer-stats.ts: the default per-parameter loop, foreach, fused; flush-denormal off and on)
// take turns in rounds, in an order rotated each round. Each figure is a median wall-clock step
// time, so load from other processes falls on all alike; the CPU time of the thread running the
// same steps stands beside it (preemption on a loaded machine does not inflate it, cache sharing
// still does). The peer is the fastest PyTorch path in this run; the ratio that counts is ours
// against it. Prints a markdown table (ms/step, GFLOP/s from flops.ts) and the throughput ratios
// (PyTorch ms / ours ms) with their spread across rounds.
//
//   npm run bench:peer -- [--quick] [--models=mlp,transformer] [--backend=wasm] [--rounds=N] [--no-stock]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../server/engine/backend.js';
import { setFastKernelsEnabled } from '../../server/engine/kernels/index.js';
import type { BackendName } from '../../server/engine/types.js';
import { mlpStepFlops, transformerStepFlops } from './flops.js';
import {
  fastestIndex,
  formatRatio,
  median,
  parsePeerArgs,
  roundOrder,
  roundRatios,
  spreadOf,
  throughputRatio,
  torchConfigs,
  type TorchCapabilities,
  type TorchConfig,
} from './peer-stats.js';
import { type Peer, startPeer, type TorchPeer, writeData } from './torch-peer.js';
import { engineRunner, mlpWorkload, transformerWorkload, type EngineRunner, type Workload } from './workloads.js';

const options = parsePeerArgs(process.argv.slice(2));

type ContenderKind = 'ours' | 'stock' | 'torch';

/**
 * CPU time of this (the main) thread in ms, from the scheduler's own count, so V8's helper
 * threads (GC, compiler) are not charged to the step, as torch_peer.py's thread_time() charges
 * only its thread. Off Linux, the process's CPU time.
 */
function threadCpuMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
}

interface Contender {
  readonly label: string;
  readonly kind: ContenderKind;
  readonly torch?: TorchConfig;
  /** Wall-clock step times (ms), one array per round (warm-up steps excluded). */
  readonly rounds: number[][];
  /** The same steps' CPU time on the thread that runs them (ms): preemption does not inflate it. */
  readonly cpuRounds: number[][];
  steps(count: number): Promise<StepTimes>;
}

interface StepTimes {
  readonly wall: number[];
  readonly cpu: number[];
}

function engineContender(label: string, kind: ContenderKind, runner: EngineRunner, fast: boolean): Contender {
  return {
    label,
    kind,
    rounds: [],
    cpuRounds: [],
    async steps(count) {
      setFastKernelsEnabled(fast);
      const times: StepTimes = { wall: [], cpu: [] };
      for (let i = 0; i < count; i++) {
        const cpuBefore = threadCpuMs();
        times.wall.push(await runner.step());
        times.cpu.push(threadCpuMs() - cpuBefore);
      }
      setFastKernelsEnabled(true);
      return times;
    },
  };
}

async function torchContenders(workload: Workload, peer: TorchPeer, capabilities: TorchCapabilities, folder: string) {
  const data = writeData(workload, folder);
  const contenders: Contender[] = [];
  let params: unknown;
  for (const config of torchConfigs(capabilities)) {
    const id = `${workload.name}/${config.id}`;
    const built = await peer.request({
      cmd: 'build',
      id,
      model: workload.name,
      ...data,
      foreach: config.foreach,
      fused: config.fused,
      flush_denormal: config.flushDenormal,
    });
    if (built.ok !== true) throw new Error(`torch_peer.py could not build ${id}: ${JSON.stringify(built)}`);
    params = built.params;
    contenders.push({
      label: config.label,
      kind: 'torch',
      torch: config,
      rounds: [],
      cpuRounds: [],
      async steps(count) {
        const reply = await peer.request({ cmd: 'steps', id, count });
        if (!Array.isArray(reply.ms) || !Array.isArray(reply.cpu_ms)) {
          throw new Error(`torch_peer.py failed on ${id}: ${JSON.stringify(reply)}`);
        }
        return { wall: reply.ms.map(Number), cpu: reply.cpu_ms.map(Number) };
      },
    });
  }
  return { contenders, params };
}

const loadNow = (): string => os.loadavg()[0].toFixed(2);
const allTimes = (contender: Contender): number[] => contender.rounds.flat();
const allCpuTimes = (contender: Contender): number[] => contender.cpuRounds.flat();

async function compare(workload: Workload, flops: number, peer: Peer | undefined, folder: string): Promise<void> {
  const ours = engineRunner(workload);
  const stock = options.stock ? engineRunner(workload) : undefined;
  const contenders = [engineContender('steadytune (fast kernels)', 'ours', ours, true)];
  if (stock) contenders.push(engineContender('steadytune (stock ops)', 'stock', stock, false));
  const params = ours.model.trainable.reduce((sum, variable) => sum + variable.size, 0);
  let torchParams: unknown;
  if (peer) {
    const torch = await torchContenders(workload, peer.process, peer.capabilities, folder);
    contenders.push(...torch.contenders);
    torchParams = torch.params;
  }
  const isMlp = workload.name === 'mlp';
  const rounds = options.rounds ?? (isMlp ? (options.quick ? 4 : 12) : options.quick ? 2 : 8);
  const perRound = isMlp ? 20 : 3;
  for (const contender of contenders) await contender.steps(isMlp ? 10 : 2); // warm-up: tier-up, allocations
  const loadBefore = loadNow();
  const tensorsBefore = tf.memory().numTensors;
  for (let round = 0; round < rounds; round++) {
    for (const index of roundOrder(contenders.length, round)) {
      const times = await contenders[index].steps(perRound);
      contenders[index].rounds.push(times.wall);
      contenders[index].cpuRounds.push(times.cpu);
    }
  }
  const loadAfter = loadNow();
  console.log(
    `\n### ${workload.label}: ${(params / 1e6).toFixed(3)}M params (PyTorch ${String(torchParams ?? '-')}), ` +
      `batch 32, ${(flops / 1e9).toFixed(3)} GFLOP/step; ${rounds} rounds x ${perRound} steps; load ${loadBefore} -> ${loadAfter}`,
  );
  const torchRuns = contenders.filter((contender) => contender.kind === 'torch');
  const best = torchRuns.length > 0 ? torchRuns[fastestIndex(torchRuns.map(allTimes))] : undefined;
  console.log('| contender | ms/step (median) | round medians (min–max) | thread CPU ms/step (median) | steps | GFLOP/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const contender of contenders) {
    const ms = median(allTimes(contender));
    const roundMs = spreadOf(contender.rounds.map(median));
    const name = contender === best ? `**${contender.label} (the peer)**` : contender.label;
    console.log(
      `| ${name} | ${ms.toFixed(2)} | ${roundMs.min.toFixed(2)}–${roundMs.max.toFixed(2)} | ${median(allCpuTimes(contender)).toFixed(2)} | ` +
        `${allTimes(contender).length} | ${(flops / ms / 1e6).toFixed(2)} |`,
    );
  }
  const torchDefault = contenders.find((contender) => contender.torch?.isDefault === true);
  if (best && torchDefault) {
    const ratioLine = (mine: Contender, theirs: Contender): string =>
      formatRatio(throughputRatio(median(allTimes(theirs)), median(allTimes(mine))), spreadOf(roundRatios(theirs.rounds, mine.rounds)));
    const cpuRatioLine = (mine: Contender, theirs: Contender): string =>
      formatRatio(
        throughputRatio(median(allCpuTimes(theirs)), median(allCpuTimes(mine))),
        spreadOf(roundRatios(theirs.cpuRounds, mine.cpuRounds)),
      );
    console.log(`Throughput ratios (PyTorch ms / ms; the peer = ${best.label}):`);
    for (const mine of contenders.filter((contender) => contender.kind !== 'torch')) {
      console.log(
        `- ${mine.label}: **${ratioLine(mine, best)} of the peer**; ${ratioLine(mine, torchDefault)} of PyTorch's default AdamW path` +
          ` (by thread CPU time: ${cpuRatioLine(mine, best)} and ${cpuRatioLine(mine, torchDefault)})`,
      );
    }
    console.log(`- the peer against PyTorch's default path: ${ratioLine(best, torchDefault)}`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) console.log(`(tensor count changed by ${leaked} during measurement)`);
  ours.dispose();
  stock?.dispose();
}

async function main(): Promise<void> {
  await selectBackend(options.backend as BackendName);
  const cpus = os.cpus();
  console.log(`# steadytune vs PyTorch — ${new Date().toISOString()}`);
  console.log(
    `CPU: ${cpus[0]?.model ?? 'unknown'} x${cpus.length}; Node ${process.version}; tfjs ${tf.version.tfjs}, backend ${tf.getBackend()} (one thread)`,
  );
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
  const peer = await startPeer();
  const folder = mkdtempSync(path.join(os.tmpdir(), 'steadytune-peer-'));
  try {
    if (options.models.includes('mlp')) await compare(mlpWorkload(), mlpStepFlops(), peer, folder);
    if (options.models.includes('transformer')) await compare(transformerWorkload(), transformerStepFlops(), peer, folder);
  } finally {
    peer?.process.close();
    rmSync(folder, { recursive: true, force: true });
  }
  console.log(
    `\nload average at end: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
}

await main();
