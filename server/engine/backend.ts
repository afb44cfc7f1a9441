import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import type { BackendName, ModelFamily } from './types.js';

// Picks the TF.js backend a worker trains on: native TensorFlow when its binding is installed,
// else wasm, else the pure-JS cpu backend (~20x slower than wasm; docs/ENGINE.md §Backend choice). The caller
// passes any preference (the server reads STEADYTUNE_BACKEND); the engine reads no env.

export interface BackendSelection {
  readonly name: BackendName;
  /** What was tried and why it was or was not used: for the job's notices and the logs. */
  readonly notes: string[];
}

/** The native bindings, GPU first. Optional dependencies: absent where libtensorflow could not download. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const reason = (error: unknown): string => (error instanceof Error ? error.message.split('\n')[0] : String(error));

async function tryNative(notes: string[]): Promise<boolean> {
  for (const specifier of NATIVE_PACKAGES) {
    try {
      // A string variable keeps tsc from resolving a package that is legitimately absent.
      const moduleName: string = specifier;
      await import(moduleName);
    } catch (error) {
      notes.push(`${specifier} unavailable: ${reason(error)}`);
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      notes.push(
        specifier.endsWith('-gpu')
          ? `using ${specifier}; libtensorflow 2.9 needs CUDA 11.2 + cuDNN 8.1, without them it runs on CPU silently`
          : `using ${specifier}`,
      );
      return true;
    }
    notes.push(`${specifier} loaded but the 'tensorflow' backend failed to initialise`);
  }
  return false;
}

/** The package's dist folder, where the .wasm binaries ship, as a URL-style prefix. */
function wasmBinaryFolder(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    return entry.slice(0, entry.lastIndexOf('/') + 1);
  } catch {
    return undefined;
  }
}

async function tryWasm(notes: string[]): Promise<boolean> {
  let wasmModule: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasmModule = await import('@tensorflow/tfjs-backend-wasm');
  } catch (error) {
    notes.push(`@tensorflow/tfjs-backend-wasm unavailable: ${reason(error)}`);
    return false;
  }
  if (await tf.setBackend('wasm')) return true;
  // The emscripten loader looks beside its own script; point it at the package explicitly.
  const folder = wasmBinaryFolder();
  if (folder !== undefined) {
    try {
      wasmModule.setWasmPaths(folder);
      if (await tf.setBackend('wasm')) {
        notes.push(`wasm binaries loaded from ${folder}`);
        return true;
      }
    } catch (error) {
      notes.push(`wasm with explicit path ${folder} failed: ${reason(error)}`);
    }
  }
  notes.push('the wasm backend failed to initialise');
  return false;
}

async function tryCpu(notes: string[]): Promise<boolean> {
  if (await tf.setBackend('cpu')) return true;
  notes.push('the cpu backend failed to initialise');
  return false;
}

const ATTEMPTS: Record<BackendName, (notes: string[]) => Promise<boolean>> = {
  tensorflow: tryNative,
  wasm: tryWasm,
  cpu: tryCpu,
};

/**
 * Makes the best available backend TF.js's current one. With `preferred`, only that backend
 * is tried and its absence is an error (a forced choice silently replaced would mislead).
 */
export async function selectBackend(preferred?: BackendName): Promise<BackendSelection> {
  const notes: string[] = [];
  if (preferred !== undefined) {
    if (!(preferred in ATTEMPTS)) throw new Error(`unknown backend '${preferred}': use tensorflow, wasm or cpu`);
    if (await ATTEMPTS[preferred](notes)) {
      await tf.ready();
      return { name: preferred, notes: [...notes, `backend ${preferred} (requested)`] };
    }
    throw new Error(`backend '${preferred}' was requested but is unavailable: ${notes.join('; ')}`);
  }
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    if (await ATTEMPTS[name](notes)) {
      await tf.ready();
      if (name === 'cpu') notes.push('falling back to the pure-JS cpu backend: expect ~20x slower steps than wasm');
      return { name, notes: [...notes, `backend ${name}`] };
    }
  }
  throw new Error(`no TF.js backend could be initialised: ${notes.join('; ')}`);
}

/**
 * Families the engine can train, including planned ones, with the kernels their training step
 * needs beyond the basics. The transformer's embedding and matMul gradients are custom ops
 * (ops.ts), so it avoids UnsortedSegmentSum; convolutional backbones cannot avoid
 * Conv2DBackpropFilter, which wasm lacks.
 */
export type TrainableFamily = ModelFamily | 'convnet';

export const TRAINING_KERNELS: Readonly<Record<TrainableFamily, readonly string[]>> = {
  mlp: ['BatchMatMul', 'Transpose', 'Relu', 'Step', 'Softmax'],
  transformer: ['BatchMatMul', 'Transpose', 'GatherV2', 'ScatterNd', 'Softmax', 'Sigmoid', 'Rsqrt', 'NotEqual'],
  // The tail's 3x3 depthwise convolution is shifted slices of a padded map (mobilenet-tail.ts).
  mobilenet_v2: ['BatchMatMul', 'Transpose', 'Relu6', 'Step', 'LessEqual', 'PadV2', 'Slice', 'Mean', 'Softmax'],
  glove_bag: ['BatchMatMul', 'Transpose', 'GatherV2', 'ScatterNd', 'NotEqual', 'Relu', 'Step', 'Softmax'],
  // The body is frozen: only the dense head trains.
  layers_model: ['BatchMatMul', 'Transpose', 'Relu', 'Step', 'Softmax'],
  hf_encoder: ['BatchMatMul', 'Transpose', 'GatherV2', 'ScatterNd', 'Softmax', 'Sigmoid', 'Rsqrt', 'NotEqual'],
  convnet: [
    'Conv2D',
    'Conv2DBackpropFilter',
    'Conv2DBackpropInput',
    'DepthwiseConv2dNative',
    'DepthwiseConv2dNativeBackpropFilter',
    'DepthwiseConv2dNativeBackpropInput',
  ],
};

/** Kernels the family's training step needs that `backend` has not registered. */
export function missingTrainingKernels(family: TrainableFamily, backend: BackendName): string[] {
  return TRAINING_KERNELS[family].filter((kernel) => tf.getKernel(kernel, backend) === undefined);
}

export interface TrainingBackend {
  readonly backend: BackendName;
  /** Set when the family cannot train on the requested backend and another was chosen. */
  readonly note?: string;
}

const isRegistered = (backend: BackendName): boolean => tf.findBackendFactory(backend) !== null;

/**
 * The backend to train `family` on when `backend` is the selected one: itself when it has every
 * gradient kernel the family needs, else native TensorFlow if registered, else cpu (which has
 * them all). The caller switches with tf.setBackend and reports the note.
 */
export function trainingFallbackFor(family: TrainableFamily, backend: BackendName): TrainingBackend {
  const missing = missingTrainingKernels(family, backend);
  if (missing.length === 0) return { backend };
  const candidates = (['tensorflow', 'cpu'] as const).filter((name) => name !== backend && isRegistered(name));
  const fallback = candidates.find((name) => missingTrainingKernels(family, name).length === 0);
  if (fallback === undefined) {
    throw new Error(`no registered backend can train a ${family} model: ${backend} lacks ${missing.join(', ')}`);
  }
  return {
    backend: fallback,
    note:
      `${backend} lacks ${missing.join(', ')} needed to train a ${family} model: training on ${fallback}` +
      (fallback === 'cpu' ? ' (much slower)' : ''),
  };
}
