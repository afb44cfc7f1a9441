// The service's configuration, read once from the environment at start-up.
//
//   STEADYTUNE_PORT          TCP port to listen on (0 = any free port)   default 50051
//   STEADYTUNE_HOST          interface to bind                           default 0.0.0.0
//   STEADYTUNE_DATA_DIR      job store, event logs, checkpoints          default ./.data
//   STEADYTUNE_DATA_ROOT     files clients may name (RegisterDataset paths, layers_model and
//                            hf_encoder model paths); nothing outside it   default <data dir>/datasets
//   STEADYTUNE_CONCURRENCY   worker threads training at once (1..64)     default 2
//   STEADYTUNE_BACKEND       tensorflow | wasm | cpu | auto              default auto
//   STEADYTUNE_LOG_LEVEL     debug | info | warn | error                 default info
//   STEADYTUNE_METRICS_PORT  Prometheus /metrics port (0 = any free port) default 9464
//
// Job persistence (durability-config.ts):
//   STEADYTUNE_STORE                  sqlite (<data dir>/steadytune.db; jobs resume after a
//                                     restart) | memory (nothing survives one)   default sqlite
//   STEADYTUNE_CHECKPOINT_EVERY_STEPS checkpoint runs every n steps and at epoch
//                                     ends (0 = epoch ends only)                default 50
//   STEADYTUNE_CHECKPOINTS_KEPT       newest checkpoints kept per run (1..100)  default 2
//
// Scale-out (scaleout-config.ts; deploy/README.md). Unset or embedded = one process as above.
//   STEADYTUNE_MODE              embedded | api (Trainer API, enqueues, streams) |
//                                worker (claims and trains jobs, serves health only)  default embedded
//   STEADYTUNE_REDIS_URL         redis:// queue (BullMQ) and event log (streams)   api/worker: required
//   STEADYTUNE_DATABASE_URL      postgres:// job store shared by every pod          api/worker: required
//   STEADYTUNE_REDIS_PREFIX      namespace of Redis keys and channels              default steadytune
//   STEADYTUNE_WORKER_LOCK_MS    a dead worker's jobs go back to the queue after   default 30000
//   STEADYTUNE_STALLED_CHECK_MS  how often workers look for such jobs              default 30000
//   STEADYTUNE_MAX_JOB_STARTS    claims of one job before it fails                 default 10
// In scale-out STEADYTUNE_STORE is not read; checkpoints go to STEADYTUNE_DATA_DIR, which every
// pod must share (a ReadWriteMany volume).
//
// Authentication (api-config.ts). Tokens are given as sha256 hex digests, never in the clear
// (`npm run -s token -- new <tenant>` makes a token and its digest). With both unset
// authentication is off and every caller is tenant "default" (a warning is logged). Health and
// reflection never need a token (probes); mutual TLS authenticates the client, not a tenant.
//   STEADYTUNE_TOKENS        tenant:sha256hex[,tenant:sha256hex...]
//   STEADYTUNE_TOKENS_FILE   YAML or JSON list: [{tenant: acme, sha256: <64 hex>}, ...]
//
// TLS (PEM files; unset = plaintext):
//   STEADYTUNE_TLS_CERT      server certificate chain                    with STEADYTUNE_TLS_KEY
//   STEADYTUNE_TLS_KEY       its private key
//   STEADYTUNE_TLS_CLIENT_CA CA of client certificates: set = mutual TLS, clients must present one
//
// Limits (0 = no limit where allowed):
//   STEADYTUNE_MAX_MESSAGE_BYTES          largest request (RESOURCE_EXHAUSTED)   default 4194304
//   STEADYTUNE_MAX_PREDICT_EXAMPLES       examples per Predict (INVALID_ARGUMENT) default 1024
//   STEADYTUNE_MAX_UPLOAD_BYTES           bytes of one UploadDataset (INVALID_ARGUMENT) default 67108864
//   STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT queued+running jobs of one tenant      default 16
//   STEADYTUNE_MAX_ACTIVE_JOBS            queued+running jobs of all tenants     default 64
//   STEADYTUNE_MAX_STREAMS_PER_JOB        open StreamMetrics calls on one job    default 16
//   STEADYTUNE_MAX_STREAMS                open StreamMetrics calls in all        default 1024
//   STEADYTUNE_MAX_LINE_BYTES             one line of a JSONL/CSV file, uploaded (checked as
//                                         chunks arrive) or registered (INVALID_ARGUMENT) default 1048576
//   STEADYTUNE_MAX_TEXT_CHARS             characters of one text/text_a/text_b (INVALID_ARGUMENT) default 10000
// Over a job or stream cap the call gets RESOURCE_EXHAUSTED with a google.rpc.RetryInfo delay.
//
// Every invalid value is reported at once, so a bad deployment fails on the first start.
import path from 'node:path';
import { loadApiConfig, type ApiConfig, type EnvReader } from './api-config.js';
import { loadDurabilityConfig, type DurabilityConfig } from './durability-config.js';
import { loadScaleOutConfig, type ScaleOutConfig } from './scaleout-config.js';
import { DEFAULT_DATA_LIMITS, type DataLimits } from './data/index.js';
import type { BackendName } from './engine/tf-free.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';

export type BackendChoice = BackendName | 'auto';
const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute path. */
  readonly dataDir: string;
  /** Absolute path of the directory client-named files resolve under; default <dataDir>/datasets. */
  readonly dataRoot?: string;
  readonly concurrency: number;
  readonly backend: BackendChoice;
  readonly logLevel: LogLevel;
  readonly metricsPort: number;
  /** Authentication, TLS and request limits; the rpc layer's defaults (auth off) when absent. */
  readonly api?: ApiConfig;
  /** Store kind and checkpointing; DEFAULT_DURABILITY (SQLite) when absent. */
  readonly durability?: DurabilityConfig;
  /** STEADYTUNE_MODE=api|worker and its backing services; absent = embedded. */
  readonly scaleOut?: ScaleOutConfig;
  /** Line and text limits of dataset files; the data layer's defaults when absent. */
  readonly dataLimits?: Pick<DataLimits, 'maxLineBytes' | 'maxTextChars'>;
}

// Not a ServiceError: a start-up error in the operator's environment, never sent to a client or
// across a thread; main.ts prints every problem and exits with status 2.
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string, fallback: string): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? fallback : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name, String(fallback));
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an integer in ${min}..${max}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const raw = read(name, fallback).toLowerCase();
    const match = allowed.find((choice) => choice === raw);
    if (match === undefined) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(', ')}`);
      return fallback;
    }
    return match;
  };

  const reader: EnvReader = {
    optional: (name) => {
      const value = env[name]?.trim();
      return value === undefined || value === '' ? undefined : value;
    },
    integer,
    problem: (message) => void problems.push(message),
  };

  const api = loadApiConfig(reader, cwd);
  const config: Config = {
    port: integer('STEADYTUNE_PORT', 50051, 0, 65535),
    host: read('STEADYTUNE_HOST', '0.0.0.0'),
    dataDir: path.resolve(cwd, read('STEADYTUNE_DATA_DIR', './.data')),
    ...(read('STEADYTUNE_DATA_ROOT', '') === '' ? {} : { dataRoot: path.resolve(cwd, read('STEADYTUNE_DATA_ROOT', '')) }),
    concurrency: integer('STEADYTUNE_CONCURRENCY', 2, 1, 64),
    backend: oneOf('STEADYTUNE_BACKEND', 'auto', BACKEND_CHOICES),
    logLevel: oneOf('STEADYTUNE_LOG_LEVEL', 'info', LOG_LEVELS),
    metricsPort: integer('STEADYTUNE_METRICS_PORT', 9464, 0, 65535),
    api,
    durability: loadDurabilityConfig(reader),
    dataLimits: {
      // One setting for uploads (checked by the rpc layer as chunks arrive) and registrations.
      maxLineBytes: api.limits.maxLineBytes,
      maxTextChars: integer('STEADYTUNE_MAX_TEXT_CHARS', DEFAULT_DATA_LIMITS.maxTextChars, 1, 10_000_000),
    },
  };
  // Only in api/worker mode, so an embedded configuration reads as it did before scale-out.
  const scaleOut = loadScaleOutConfig(reader);
  if (/\s/.test(config.host)) problems.push(`STEADYTUNE_HOST=${JSON.stringify(config.host)}: must not contain spaces`);
  if (problems.length > 0) throw new ConfigError(problems);
  return scaleOut === undefined ? config : { ...config, scaleOut };
}
