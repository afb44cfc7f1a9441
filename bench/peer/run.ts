// The engine against PyTorch on the same models, data, batch, optimizer and DSGD weighting,
// in one run: the engine (fast kernels on), the engine with its kernels off (the stock-op
// path, the "before"), and PyTorch (torch_peer.py, one thread) take turns in rounds, and each
// figure is the median step time, so load from other processes on the machine falls on all
// three alike. Prints a markdown table: ms/step, throughput ratio (PyTorch ms / ours ms) and
// achieved GFLOP/s (flops.ts).
//
//   npm run bench:peer -- [--quick] [--models=mlp,transformer] [--backend=wasm]
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
import { engineRunner, median, mlpWorkload, transformerWorkload, type EngineRunner, type Workload } from './workloads.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string =>
  args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const quick = args.includes('--quick');
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
    this.child = spawn(PYTHON, [script], { env: { ...process.env, ...threads }, stdio: ['pipe', 'pipe', 'inherit'] });
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

interface Contender {
  readonly label: string;
  readonly times: number[];
  steps(count: number): Promise<void>;
}

function engineContender(label: string, runner: EngineRunner, fast: boolean): Contender {
  const times: number[] = [];
  return {
    label, times,
    async steps(count) {
      setFastKernelsEnabled(fast);
      for (let i = 0; i < count; i++) times.push(await runner.step());
      setFastKernelsEnabled(true);
    },
  };
}

async function compare(workload: Workload, flops: number, peer: TorchPeer | undefined, folder: string): Promise<void> {
  const ours = engineRunner(workload);
  const stock = engineRunner(workload);
  const contenders = [engineContender('steadytune (fast kernels)', ours, true), engineContender('steadytune (stock ops)', stock, false)];
  const params = ours.model.trainable.reduce((sum, variable) => sum + variable.size, 0);
  let torchParams: unknown;
  if (peer) {
    const built = await peer.request({ cmd: 'build', model: workload.name, ...writeData(workload, folder) });
    torchParams = built.params;
    const times: number[] = [];
    contenders.push({
      label: 'PyTorch (1 thread)', times,
      async steps(count) {
        const reply = await peer.request({ cmd: 'steps', model: workload.name, count });
        times.push(...(reply.ms as number[]));
      },
    });
  }
  const isMlp = workload.name === 'mlp';
  const [rounds, perRound] = isMlp ? [quick ? 4 : 10, 10] : [quick ? 2 : 5, 2];
  for (const contender of contenders) await contender.steps(isMlp ? 10 : 3); // warm-up: tier-up, allocations
  for (const contender of contenders) contender.times.length = 0;
  const loadBefore = os.loadavg()[0];
  const tensorsBefore = tf.memory().numTensors;
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) await contender.steps(perRound);
  }
  const torchMs = peer ? median(contenders[contenders.length - 1].times) : undefined;
  console.log(`\n### ${workload.label}: ${(params / 1e6).toFixed(3)}M params (PyTorch ${String(torchParams ?? '-')}), ` +
    `batch 32, ${(flops / 1e9).toFixed(3)} GFLOP/step; load ${loadBefore.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`);
  console.log('| contender | ms/step (median) | steps | throughput vs PyTorch (PyTorch ms / ms) | GFLOP/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const contender of contenders) {
    const ms = median(contender.times);
    const ratio = torchMs === undefined ? '-' : (torchMs / ms).toFixed(3);
    console.log(`| ${contender.label} | ${ms.toFixed(2)} | ${contender.times.length} | ${ratio} | ${(flops / ms / 1e6).toFixed(2)} |`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) console.log(`(tensor count changed by ${leaked} during measurement)`);
  ours.dispose();
  stock.dispose();
}

async function main(): Promise<void> {
  const backend = option('backend', 'wasm') as BackendName;
  const models = option('models', 'mlp,transformer').split(',');
  await selectBackend(backend);
  const cpus = os.cpus();
  console.log(`# steadytune vs PyTorch — ${new Date().toISOString()}`);
  console.log(`CPU: ${cpus[0]?.model ?? 'unknown'} x${cpus.length}; Node ${process.version}; tfjs ${tf.version.tfjs}, backend ${tf.getBackend()} (one thread)`);
  console.log(`load average at start: ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`);
  let peer: TorchPeer | undefined = new TorchPeer();
  const hello = await peer.request({ cmd: 'hello' });
  if (hello.ok !== true) {
    console.log(String(hello.skip ?? 'SKIP: PyTorch peer unavailable'));
    peer.close();
    peer = undefined;
  } else {
    console.log(`PyTorch ${String(hello.torch)}, ${String(hello.threads)} thread; BLAS: ${String(hello.blas)}`);
  }
  const folder = mkdtempSync(path.join(os.tmpdir(), 'steadytune-peer-'));
  try {
    if (models.includes('mlp')) await compare(mlpWorkload(), mlpStepFlops(), peer, folder);
    if (models.includes('transformer')) await compare(transformerWorkload(), transformerStepFlops(), peer, folder);
  } finally {
    peer?.close();
    rmSync(folder, { recursive: true, force: true });
  }
  console.log(`\nload average at end: ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`);
}

await main();
