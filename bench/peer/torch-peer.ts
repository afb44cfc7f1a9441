// torch_peer.py as a long-lived child process of the PyTorch comparison (run.ts): starts it with
// one BLAS/OpenMP thread, asks what the PyTorch build offers, and hands it the workloads' data.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TorchCapabilities } from './peer-stats.js';
import type { Workload } from './workloads.js';

const PYTHON = '/usr/bin/python3';

export type Reply = Record<string, unknown>;

/** torch_peer.py as a long-lived child: one JSON request, one JSON reply. */
export class TorchPeer {
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
export function writeData(workload: Workload, folder: string): { inputs: string; labels: string; count: number } {
  const inputs = path.join(folder, `${workload.name}.inputs.bin`);
  const labels = path.join(folder, `${workload.name}.labels.bin`);
  const source = workload.data.inputs;
  const array = source.kind === 'features' ? source.values : source.ids;
  writeFileSync(inputs, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  const labelArray = workload.data.labels;
  writeFileSync(labels, new Uint8Array(labelArray.buffer, labelArray.byteOffset, labelArray.byteLength));
  return { inputs, labels, count: labelArray.length };
}

export interface Peer {
  readonly process: TorchPeer;
  readonly capabilities: TorchCapabilities;
}

/** Starts torch_peer.py and states its configuration; undefined (with the SKIP line) without PyTorch. */
export async function startPeer(): Promise<Peer | undefined> {
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
