// Seed models on disk: <modelDir>/<jobId>/seed-<seed>/ holds model.json + weights.bin in
// TF.js's artifact format (specs and bytes from engine/weights-format.ts). model.json also
// carries the model card (what the model was trained on) in userDefinedMetadata, for
// Evaluate/Predict. Each file is written to a temp name, fsynced, then renamed, so a reader
// never sees half a file; model.json goes last, since it names weights.bin.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeWeights, encodeWeights, weightsManifest, WEIGHTS_FILE_NAME, type NamedWeight, type Weights } from '../../engine/tf-free.js';
import { writeAtomically } from './atomic-file.js';
import { storageError } from '../storage-faults.js';
import type { ModelCard } from '../worker/protocol.js';

export interface ModelFiles {
  save(jobId: string, seed: number, weights: Weights, card: ModelCard): Promise<void>;
  load(jobId: string, seed: number): Promise<{ weights: Weights; card: ModelCard }>;
}

const MODEL_JSON = 'model.json';
const SEED_MODEL = 'a seed model';

type WeightsManifest = ReturnType<typeof weightsManifest>;

/** The model.json we write: TF.js's layout, with our card as user-defined metadata. */
interface SeedModelJson {
  readonly format: 'steadytune-weights';
  readonly generatedBy: string;
  readonly convertedBy: null;
  /** No Keras topology: the architecture is the card's model spec. */
  readonly modelTopology: Record<string, never>;
  readonly weightsManifest: WeightsManifest;
  readonly userDefinedMetadata: { readonly card: ModelCard };
}

export class DirectoryModelFiles implements ModelFiles {
  constructor(private readonly modelDir: string) {}

  /** Where one seed's files live. */
  seedDir(jobId: string, seed: number): string {
    // Job ids come from the store (UUIDs); refuse anything that could leave modelDir anyway.
    if (!/^[A-Za-z0-9_-]+$/.test(jobId) || !Number.isInteger(seed)) throw new Error(`unsafe model path for ${jobId}/${seed}`);
    return path.join(this.modelDir, jobId, `seed-${seed}`);
  }

  async save(jobId: string, seed: number, weights: Weights, card: ModelCard): Promise<void> {
    const dir = this.seedDir(jobId, seed);
    await mkdir(dir, { recursive: true }).catch((error: unknown) => Promise.reject(storageError(error, SEED_MODEL)));
    const encoded = encodeWeights(weights);
    const modelJson: SeedModelJson = {
      format: 'steadytune-weights',
      generatedBy: 'steadytune',
      convertedBy: null,
      modelTopology: {},
      weightsManifest: weightsManifest(encoded.weightSpecs, WEIGHTS_FILE_NAME),
      userDefinedMetadata: { card },
    };
    await writeAtomically(path.join(dir, WEIGHTS_FILE_NAME), new Uint8Array(encoded.weightData), SEED_MODEL);
    await writeAtomically(path.join(dir, MODEL_JSON), Buffer.from(JSON.stringify(modelJson)), SEED_MODEL);
  }

  async load(jobId: string, seed: number): Promise<{ weights: Weights; card: ModelCard }> {
    const dir = this.seedDir(jobId, seed);
    const modelJson = JSON.parse(await readFile(path.join(dir, MODEL_JSON), 'utf8')) as SeedModelJson;
    const weights: NamedWeight[] = [];
    for (const group of modelJson.weightsManifest) {
      // Shards are read in manifest order; names stay inside the seed's directory.
      const shards = await Promise.all(group.paths.map((shard) => readFile(path.join(dir, path.basename(shard)))));
      weights.push(...decodeWeights(group.weights, shards.map(toArrayBuffer)));
    }
    return { weights, card: modelJson.userDefinedMetadata.card };
  }
}

/** A Buffer's bytes as an ArrayBuffer of their own (Node pools small Buffers). */
function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  const copy = new Uint8Array(buffer.byteLength);
  copy.set(buffer);
  return copy.buffer;
}
