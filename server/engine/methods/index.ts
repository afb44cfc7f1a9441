import type { MethodSpec } from '../types.js';
import type { TrainingMethod } from './method.js';
import { createDsgd } from './dsgd.js';
import { createFft } from './fft.js';
import { createFocal } from './focal.js';
import { createPcgrad } from './pcgrad.js';

export type { TrainingMethod } from './method.js';

/** The training method a run's spec names. */
export function createMethod(spec: MethodSpec): TrainingMethod {
  switch (spec.kind) {
    case 'fft':
      return createFft();
    case 'dsgd':
      return createDsgd(spec.lambda, spec.schedule);
    case 'focal':
      return createFocal(spec.gamma, spec.classWeights);
    case 'pcgrad':
      return createPcgrad();
    case 'noisytune':
    case 'lnsr':
    case 'swa':
      // TODO(lead): wire in ./noisytune.js, ./lnsr.js, ./swa.js once they land.
      throw new Error(`method '${spec.kind}' is not implemented in the engine yet`);
  }
}
