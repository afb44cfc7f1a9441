// The service's configuration, read once from the environment at start-up.
//
//   STEADYTUNE_PORT          TCP port to listen on (0 = any free port)   default 50051
//   STEADYTUNE_HOST          interface to bind                           default 0.0.0.0
//   STEADYTUNE_DATA_DIR      job store, event logs, checkpoints          default ./.data
//   STEADYTUNE_CONCURRENCY   worker threads training at once (1..64)     default 2
//   STEADYTUNE_BACKEND       tensorflow | wasm | cpu | auto              default auto
//   STEADYTUNE_LOG_LEVEL     debug | info | warn | error                 default info
//   STEADYTUNE_METRICS_PORT  Prometheus /metrics port (0 = any free port) default 9464
//
// Every invalid value is reported at once, so a bad deployment fails on the first start.
import path from 'node:path';
import type { BackendName } from './engine/types.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';

export type BackendChoice = BackendName | 'auto';
const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute path. */
  readonly dataDir: string;
  readonly concurrency: number;
  readonly backend: BackendChoice;
  readonly logLevel: LogLevel;
  readonly metricsPort: number;
}

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

  const config: Config = {
    port: integer('STEADYTUNE_PORT', 50051, 0, 65535),
    host: read('STEADYTUNE_HOST', '0.0.0.0'),
    dataDir: path.resolve(cwd, read('STEADYTUNE_DATA_DIR', './.data')),
    concurrency: integer('STEADYTUNE_CONCURRENCY', 2, 1, 64),
    backend: oneOf('STEADYTUNE_BACKEND', 'auto', BACKEND_CHOICES),
    logLevel: oneOf('STEADYTUNE_LOG_LEVEL', 'info', LOG_LEVELS),
    metricsPort: integer('STEADYTUNE_METRICS_PORT', 9464, 0, 65535),
  };
  if (/\s/.test(config.host)) problems.push(`STEADYTUNE_HOST=${JSON.stringify(config.host)}: must not contain spaces`);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
