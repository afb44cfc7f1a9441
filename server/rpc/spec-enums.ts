// The spec's wire enums → domain values. UNSPECIFIED maps to the documented default; a number
// missing here (sent by a newer client) is reported as a field violation by the caller.
import {
  AlphaSchedule,
  BuiltinName,
  DatasetSplit,
  Delivery,
  ImbalanceKind,
  LrSchedule,
  OptimizerKind,
  Pooling,
} from '../../client/gen/steadytune/v1/spec.js';
import type { AlphaScheduleKind, OptimizerSpec } from '../engine/tf-free.js';
import type { DatasetSplit as SplitName } from '../data/index.js';
import type { DeliveryMode, ImbalanceSpec } from '../jobs/types.js';

export const BUILTIN_NAMES: ReadonlyMap<number, 'mnist' | 'fashion-mnist'> = new Map([
  [BuiltinName.BUILTIN_NAME_MNIST, 'mnist'],
  [BuiltinName.BUILTIN_NAME_FASHION_MNIST, 'fashion-mnist'],
]);
export const IMBALANCE_KINDS: ReadonlyMap<number, ImbalanceSpec['kind']> = new Map([
  [ImbalanceKind.IMBALANCE_KIND_UNSPECIFIED, 'none'],
  [ImbalanceKind.IMBALANCE_KIND_NONE, 'none'],
  [ImbalanceKind.IMBALANCE_KIND_LONG_TAILED, 'long_tailed'],
  [ImbalanceKind.IMBALANCE_KIND_STEP, 'step'],
]);
export const POOLINGS: ReadonlyMap<number, 'cls' | 'mean'> = new Map([
  [Pooling.POOLING_UNSPECIFIED, 'cls'],
  [Pooling.POOLING_CLS, 'cls'],
  [Pooling.POOLING_MEAN, 'mean'],
]);
export const ALPHA_SCHEDULES: ReadonlyMap<number, AlphaScheduleKind> = new Map([
  [AlphaSchedule.ALPHA_SCHEDULE_UNSPECIFIED, 'linear'],
  [AlphaSchedule.ALPHA_SCHEDULE_LINEAR, 'linear'],
  [AlphaSchedule.ALPHA_SCHEDULE_COSINE, 'cosine'],
  [AlphaSchedule.ALPHA_SCHEDULE_LINEAR_DESCENDING, 'linear_descending'],
  [AlphaSchedule.ALPHA_SCHEDULE_STATIC, 'static'],
]);
export const OPTIMIZER_KINDS: ReadonlyMap<number, OptimizerSpec['kind']> = new Map([
  [OptimizerKind.OPTIMIZER_KIND_UNSPECIFIED, 'adamw'],
  [OptimizerKind.OPTIMIZER_KIND_ADAMW, 'adamw'],
  [OptimizerKind.OPTIMIZER_KIND_ADAM, 'adam'],
  [OptimizerKind.OPTIMIZER_KIND_SGD, 'sgd'],
]);
export const LR_SCHEDULES: ReadonlyMap<number, OptimizerSpec['lrSchedule']> = new Map([
  [LrSchedule.LR_SCHEDULE_UNSPECIFIED, 'linear'],
  [LrSchedule.LR_SCHEDULE_LINEAR, 'linear'],
  [LrSchedule.LR_SCHEDULE_CONSTANT, 'constant'],
]);
/** UNSPECIFIED is left to the caller: it means the split a DatasetRef's place names. */
export const DATASET_SPLITS: ReadonlyMap<number, SplitName> = new Map([
  [DatasetSplit.DATASET_SPLIT_TRAIN, 'train'],
  [DatasetSplit.DATASET_SPLIT_VALIDATION, 'validation'],
  [DatasetSplit.DATASET_SPLIT_TEST, 'test'],
]);
/** UNSPECIFIED is left to the caller: the job applies its default. */
export const DELIVERY_MODES: ReadonlyMap<number, DeliveryMode> = new Map([
  [Delivery.DELIVERY_ENSEMBLE, 'ensemble'],
  [Delivery.DELIVERY_BEST_VALIDATION, 'best_validation'],
  [Delivery.DELIVERY_ALL, 'all'],
]);
