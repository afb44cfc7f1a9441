// Scale-out settings (documented in config.ts): which role this process plays, and where the
// shared queue, event log (Redis) and job store (PostgreSQL) live. Absent = embedded.
import type { DurabilityEnvReader } from './durability-config.js';

export type ServiceMode = 'embedded' | 'api' | 'worker';
const MODES: readonly ServiceMode[] = ['embedded', 'api', 'worker'];

export interface ScaleOutConfig {
  /** api: Trainer API, enqueues and streams, trains nothing. worker: claims and trains jobs, serves health only. */
  readonly mode: 'api' | 'worker';
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** Namespace of every Redis key and channel (queue, event streams), so deployments can share a Redis. */
  readonly redisPrefix: string;
  /** A claimed job whose worker stops renewing its lock for this long goes back to the queue. */
  readonly lockMs: number;
  /** How often workers look for jobs whose lock expired. */
  readonly stalledCheckMs: number;
  /** Claims of one job (worker losses and hand-overs included) before it fails. */
  readonly maxJobStarts: number;
}

export const SCALEOUT_DEFAULTS = { redisPrefix: 'steadytune', lockMs: 30_000, stalledCheckMs: 30_000, maxJobStarts: 10 } as const;

export function loadScaleOutConfig(env: DurabilityEnvReader): ScaleOutConfig | undefined {
  const rawMode = (env.optional('STEADYTUNE_MODE') ?? 'embedded').toLowerCase();
  const mode = MODES.find((choice) => choice === rawMode);
  if (mode === undefined) env.problem(`STEADYTUNE_MODE=${JSON.stringify(rawMode)}: expected one of ${MODES.join(', ')}`);
  const redisUrl = env.optional('STEADYTUNE_REDIS_URL') ?? '';
  const databaseUrl = env.optional('STEADYTUNE_DATABASE_URL') ?? '';
  const lockMs = env.integer('STEADYTUNE_WORKER_LOCK_MS', SCALEOUT_DEFAULTS.lockMs, 1_000, 3_600_000);
  const stalledCheckMs = env.integer('STEADYTUNE_STALLED_CHECK_MS', SCALEOUT_DEFAULTS.stalledCheckMs, 100, 3_600_000);
  const maxJobStarts = env.integer('STEADYTUNE_MAX_JOB_STARTS', SCALEOUT_DEFAULTS.maxJobStarts, 1, 1_000);
  const redisPrefix = env.optional('STEADYTUNE_REDIS_PREFIX') ?? SCALEOUT_DEFAULTS.redisPrefix;
  if (mode !== 'api' && mode !== 'worker') return undefined;
  if (!/^redis(s)?:\/\//.test(redisUrl)) env.problem(`STEADYTUNE_REDIS_URL: STEADYTUNE_MODE=${mode} needs a redis:// or rediss:// URL`);
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    env.problem(`STEADYTUNE_DATABASE_URL: STEADYTUNE_MODE=${mode} needs a postgres:// URL`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(redisPrefix))
    env.problem(`STEADYTUNE_REDIS_PREFIX=${JSON.stringify(redisPrefix)}: letters, digits, _ . - only`);
  return { mode, redisUrl, databaseUrl, redisPrefix, lockMs, stalledCheckMs, maxJobStarts };
}
