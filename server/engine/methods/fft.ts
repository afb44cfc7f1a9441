import { plainGradient, type TrainingMethod } from './method.js';

/** Plain full fine-tuning: g = g_W + g_C. */
export function createFft(): TrainingMethod {
  return { kind: 'fft', gradient: plainGradient };
}
