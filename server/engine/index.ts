// The engine's public surface: jobs/ and rpc/ import from here only.
export type * from './types.js';
export { train, type TrainRequest } from './trainer.js';
export { plannedOptimizerSteps } from './batching.js';
export { evaluateWeights, predict } from './inference.js';
export { createMethod } from './methods/index.js';
export type { TrainingMethod } from './methods/method.js';
export { dynamicScaler } from './scaler.js';
export { buildModel, describeInputs, type InputMeta, type ModelBuilder } from './models/index.js';
