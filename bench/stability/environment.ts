// The machine and versions a report was produced on, and which optional pieces were present.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { createMethod, type MethodSpec } from '../../server/engine/index.js';
import type { MethodVariant } from './protocol.js';

export function environmentLines(backend: string, workers: number): string[] {
  const cpus = os.cpus();
  return [
    `Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
      `${os.type()} ${os.release()}; load average when this report was written ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')} (a machine shared with other jobs)`,
    `Node ${process.version}, TensorFlow.js ${tf.version.tfjs}, backend ${backend}, ${workers} worker threads (one run per thread)`,
  ];
}

/** Whether the engine can build the method (noisytune/lnsr/swa are wired in by another change). */
export function methodAvailable(spec: MethodSpec): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  try {
    createMethod(spec).dispose?.();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

export function splitAvailable(methods: readonly MethodVariant[]): { available: MethodVariant[]; missing: string[] } {
  const available: MethodVariant[] = [];
  const missing: string[] = [];
  for (const method of methods) {
    const check = methodAvailable(method.spec);
    if (check.ok) available.push(method);
    else missing.push(`method ${method.label}: ${check.reason}`);
  }
  return { available, missing };
}
