// Job persistence settings (documented in config.ts): which store, and how often runs checkpoint.
import type { StoreKind } from './jobs/persistence/index.js';

export interface DurabilityConfig {
  /** sqlite: <dataDir>/steadytune.db, jobs resume after a restart; memory: nothing survives one. */
  readonly store: StoreKind;
  /** Checkpoint each run every n optimizer steps, besides every epoch end; 0 = epoch ends only. */
  readonly checkpointEverySteps: number;
  /** Newest checkpoints kept per run: an older one is the fallback when the newest is unreadable. */
  readonly checkpointsKept: number;
}

export const DEFAULT_DURABILITY: DurabilityConfig = { store: 'sqlite', checkpointEverySteps: 50, checkpointsKept: 2 };

/** The part of config.ts's environment reader this module needs. */
export interface DurabilityEnvReader {
  optional(name: string): string | undefined;
  integer(name: string, fallback: number, min: number, max: number): number;
  problem(message: string): void;
}

const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'memory'];

export function loadDurabilityConfig(env: DurabilityEnvReader): DurabilityConfig {
  const rawStore = (env.optional('STEADYTUNE_STORE') ?? DEFAULT_DURABILITY.store).toLowerCase();
  const store = STORE_KINDS.find((kind) => kind === rawStore);
  if (store === undefined) env.problem(`STEADYTUNE_STORE=${JSON.stringify(rawStore)}: expected one of ${STORE_KINDS.join(', ')}`);
  return {
    store: store ?? DEFAULT_DURABILITY.store,
    checkpointEverySteps: env.integer('STEADYTUNE_CHECKPOINT_EVERY_STEPS', DEFAULT_DURABILITY.checkpointEverySteps, 0, 1_000_000),
    checkpointsKept: env.integer('STEADYTUNE_CHECKPOINTS_KEPT', DEFAULT_DURABILITY.checkpointsKept, 1, 100),
  };
}
