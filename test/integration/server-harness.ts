// Starts the real service (main.ts's wiring, real worker threads) on an ephemeral loopback
// port, with a private data directory, and an SDK client pointed at it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BuiltinName,
  BuiltinSplit,
  builtinDataset,
  specDefaults,
  SteadytuneClient,
  SteadytuneError,
  type FineTuneSpec,
  type StreamMetricsResponse,
} from '../../client/index.js';
import type { DurabilityConfig } from '../../server/durability-config.js';
import { createLogger, silentLogger, type LogLevel } from '../../server/logger.js';
import { startSteadytune, type RunningSteadytune } from '../../server/main.js';

export interface TestServer {
  readonly address: string;
  readonly app: RunningSteadytune;
  readonly client: SteadytuneClient;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  readonly concurrency?: number;
  /** Store and checkpoint cadence; main.ts's defaults (SQLite, every 50 steps) when absent. */
  readonly durability?: DurabilityConfig;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-it-'));
  // STEADYTUNE_TEST_LOG_LEVEL=debug shows the server's logs while debugging a test.
  const level = process.env['STEADYTUNE_TEST_LOG_LEVEL'] as LogLevel | undefined;
  const app = await startSteadytune(
    {
      port: 0, host: '127.0.0.1', dataDir, concurrency: options.concurrency ?? 2, backend: 'auto', logLevel: 'info', metricsPort: 0,
      ...(options.durability === undefined ? {} : { durability: options.durability }),
    },
    level === undefined ? silentLogger : createLogger({ level, write: (line) => void process.stderr.write(line) }),
  );
  const address = `127.0.0.1:${app.port}`;
  const client = new SteadytuneClient(address, { defaultDeadlineMs: 60_000 });
  return {
    address,
    app,
    client,
    async stop() {
      client.close();
      await app.stop(2_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fine-tune small enough for a 2-core CI machine: the SDK's defaults (DSGD, AdamW, ...) on a
 * few hundred MNIST digits, a one-hidden-layer MLP, one epoch. `examples` sets the training
 * size (0 = all digits), and so the run time.
 */
export function tinySpec(options: { examples?: number; seeds?: number[]; epochs?: number } = {}): FineTuneSpec {
  const defaults = specDefaults();
  return {
    ...defaults,
    train: { ...builtinDataset(BuiltinName.BUILTIN_NAME_MNIST, BuiltinSplit.BUILTIN_SPLIT_TRAIN), maxExamples: options.examples ?? 320 },
    validation: { ...builtinDataset(BuiltinName.BUILTIN_NAME_MNIST, BuiltinSplit.BUILTIN_SPLIT_VALIDATION), maxExamples: 200 },
    model: { family: { $case: 'mlp', value: { hiddenUnits: [32], dropout: 0 } } },
    // A higher rate than the default 1e-3: ten steps must learn something measurable.
    optimizer: defaults.optimizer && { ...defaults.optimizer, learningRate: 0.01 },
    epochs: options.epochs ?? 1,
    seeds: options.seeds ?? [1, 2],
  };
}

export async function collect(stream: AsyncIterable<StreamMetricsResponse>): Promise<StreamMetricsResponse[]> {
  const events: StreamMetricsResponse[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Asserts sequences run first, first + 1, ... without gaps or repeats. */
export function assertDense(events: readonly StreamMetricsResponse[], first = 1): void {
  events.forEach((event, i) => {
    if (event.sequence !== first + i) {
      throw new Error(`event ${i} has sequence ${event.sequence}, expected ${first + i}`);
    }
  });
}

/** The SteadytuneError a promise rejects with (fails when it resolves or rejects otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<SteadytuneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SteadytuneError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}
