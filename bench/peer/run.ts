// The engine against PyTorch on the same models, data, batch, optimizer and DSGD weighting,
// in one run: the engine (fast kernels on), the engine with its kernels off (the stock-op
// path, the "before"), and PyTorch (torch_peer.py, one thread) in its default AdamW path and in
// each fast path this build has (peer-stats.ts: foreach or fused, flush-denormal off and on)
// take turns in rounds, in an order rotated each round. Each figure is a median step time, so
// load from other processes falls on all alike. The peer is the fastest PyTorch path in this
// run; the ratio that counts is ours against it. Prints a markdown table (ms/step, GFLOP/s from
// flops.ts) and the throughput ratios (PyTorch ms / ours ms) with their spread across rounds.
//
//   npm run bench:peer -- [--quick] [--models=mlp,transformer] [--backend=wasm] [--rounds=N] [--no-stock]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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
import { engineRunner, mlpWorkload, transformerWorkload, type EngineRunner, type Workload } from './workloads.js';

const options = parsePeerArgs(process.argv.slice(2));
const PYTHON = '/usr/bin/python3';

type Reply = Record<string, unknown>;

/** torch_peer.py as a long-lived child: one JSON request, one JSON reply. */
class TorchPeer {
  private readonly replies: Reply[] = [];
  private waiting: ((reply: Reply) => void) | undefined;
  private readonly child;

  constructor() {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_peer.py');
    const threads = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
    // This machine's environment pins OpenBLAS to the Haswell kernels and a 512 KB L2; without
    // them it picks its AVX-512 kernels for this CPU. Only the benchmark's PyTorch child drops
    // them: the peer runs as fast as this build can.
    const { OPENBLAS_CORETYPE: _coreType, OPENBLAS_L2_SIZE: _l2Size, ...inherited } = process.env;
    this.child = spawn(PYTHON, [script], { env: { ...inherited, ...threads }, stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(reply);
      } else {
        this.replies.push(reply);
      }
    });
    this.child.on('exit', () => this.waiting?.({ ok: false, skip: 'torch_peer.py exited' }));
    this.child.on('error', (error) => this.waiting?.({ ok: false, skip: `SKIP: cannot run ${PYTHON}: ${error.message}` }));
  }

  request(message: Reply): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    const reply = new Promise<Reply>((resolve) => (this.waiting = resolve));
    if (this.child.stdin.writable) this.child.stdin.write(`${JSON.stringify(message)}\n`);
    return reply;
  }

  close(): void {
    if (this.child.stdin.writable) this.child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
  }
}

/** Writes the workload's batch source for torch_peer.py (raw little-endian arrays). */
function writeData(workload: Workload, folder: string): { inputs: string; labels: string; count: number } {
  const inputs = path.join(folder, `${workload.name}.inputs.bin`);
  const labels = path.join(folder, `${workload.name}.labels.bin`);
  const source = workload.data.inputs;
  const array = source.kind === 'features' ? source.values : source.ids;
  writeFileSync(inputs, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  const labelArray = workload.data.labels;
  writeFileSync(labels, new Uint8Array(labelArray.buffer, labelArray.byteOffset, labelArray.byteLength));
  return { inputs, labels, count: labelArray.length };
}

type ContenderKind = 'ours' | 'stock' | 'torch';

interface Contender {
  readonly label: string;
  readonly kind: ContenderKind;
  readonly torch?: TorchConfig;
  /** Step times, one array per round (warm-up steps excluded). */
  readonly rounds: number[][];
  steps(count: number): Promise<number[]>;
}

function engineContender(label: string, kind: ContenderKind, runner: EngineRunner, fast: boolean): Contender {
  return {
    label,
    kind,
    rounds: [],
    async steps(count) {
      setFastKernelsEnabled(fast);
      const times: number[] = [];
      for (let i = 0; i < count; i++) times.push(await runner.step());
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
      async steps(count) {
        const reply = await peer.request({ cmd: 'steps', id, count });
        if (!Array.isArray(reply.ms)) throw new Error(`torch_peer.py failed on ${id}: ${JSON.stringify(reply)}`);
        return reply.ms.map(Number);
      },
    });
  }
  return { contenders, params };
}

const loadNow = (): string => os.loadavg()[0].toFixed(2);
const allTimes = (contender: Contender): number[] => contender.rounds.flat();

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
  const rounds = options.rounds ?? (isMlp ? (options.quick ? 4 : 10) : options.quick ? 2 : 6);
  const perRound = isMlp ? 20 : 3;
  for (const contender of contenders) await contender.steps(isMlp ? 10 : 2); // warm-up: tier-up, allocations
  const loadBefore = loadNow();
  const tensorsBefore = tf.memory().numTensors;
  for (let round = 0; round < rounds; round++) {
    for (const index of roundOrder(contenders.length, round)) {
      contenders[index].rounds.push(await contenders[index].steps(perRound));
    }
  }
  const loadAfter = loadNow();
  console.log(
    `\n### ${workload.label}: ${(params / 1e6).toFixed(3)}M params (PyTorch ${String(torchParams ?? '-')}), ` +
      `batch 32, ${(flops / 1e9).toFixed(3)} GFLOP/step; ${rounds} rounds x ${perRound} steps; load ${loadBefore} -> ${loadAfter}`,
  );
  const candidates = contenders.filter((contender) => contender.torch?.role === 'candidate');
  const best = candidates.length > 0 ? candidates[fastestIndex(candidates.map(allTimes))] : undefined;
  console.log('| contender | ms/step (median) | round medians (min–max) | steps | GFLOP/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const contender of contenders) {
    const ms = median(allTimes(contender));
    const roundMs = spreadOf(contender.rounds.map(median));
    const name = contender === best ? `**${contender.label} (the peer)**` : contender.label;
    console.log(
      `| ${name} | ${ms.toFixed(2)} | ${roundMs.min.toFixed(2)}–${roundMs.max.toFixed(2)} | ` +
        `${allTimes(contender).length} | ${(flops / ms / 1e6).toFixed(2)} |`,
    );
  }
  const torchDefault = contenders.find((contender) => contender.torch?.role === 'default');
  if (best && torchDefault) {
    const ratioLine = (mine: Contender, theirs: Contender): string =>
      formatRatio(throughputRatio(median(allTimes(theirs)), median(allTimes(mine))), spreadOf(roundRatios(theirs.rounds, mine.rounds)));
    console.log(`Throughput ratios (PyTorch ms / ms; the peer = ${best.label}):`);
    for (const mine of contenders.filter((contender) => contender.kind !== 'torch')) {
      console.log(
        `- ${mine.label}: **${ratioLine(mine, best)} of the peer**; ` + `${ratioLine(mine, torchDefault)} of PyTorch's default AdamW path`,
      );
    }
    console.log(`- the peer against PyTorch's default path: ${ratioLine(best, torchDefault)}`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) console.log(`(tensor count changed by ${leaked} during measurement)`);
  ours.dispose();
  stock?.dispose();
}

interface Peer {
  readonly process: TorchPeer;
  readonly capabilities: TorchCapabilities;
}

/** Starts torch_peer.py and states its configuration; undefined (with the SKIP line) without PyTorch. */
async function startPeer(): Promise<Peer | undefined> {
  const child = new TorchPeer();
  const hello = await child.request({ cmd: 'hello' });
  if (hello.ok !== true) {
    console.log(String(hello.skip ?? 'SKIP: PyTorch peer unavailable'));
    child.close();
    return undefined;
  }
  const capabilities = { fusedAdamw: hello.fused_adamw === true, flushDenormal: hello.flush_denormal === true };
  console.log(
    `PyTorch ${String(hello.torch)}, ${String(hello.threads)} thread; BLAS: ${String(hello.blas)}; ` +
      `OpenBLAS kernels: ${String(hello.openblas_core)}; AdamW fused=True: ${capabilities.fusedAdamw ? 'yes' : 'not in this build'}; ` +
      `flush-denormal: ${capabilities.flushDenormal ? 'available' : 'not available on this CPU'}`,
  );
  return { process: child, capabilities };
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
