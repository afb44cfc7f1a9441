import type { MethodSpec } from '../types.js';
import type { TrainingMethod } from './method.js';
import { createDsgd } from './dsgd.js';
import { createFft } from './fft.js';
import { createFocal } from './focal.js';
import { createLnsr } from './lnsr.js';
import { createNoisyTune } from './noisytune.js';
import { createPcgrad } from './pcgrad.js';
import { createSwa } from './swa.js';

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
      return createNoisyTune(spec.noise);
    case 'lnsr':
      return createLnsr(spec.noiseStd, spec.weight);
    case 'swa':
      return createSwa(spec.window);
  }
}
