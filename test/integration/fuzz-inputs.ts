// Reproducible hostile inputs for the Trainer service: request bytes for one (seed, index),
// either a structurally valid message with random field values, the same mutated or cut short,
// hand-made protobuf wire data (bad wire types, overlong lengths, 64-bit varints), or noise.
import type { DatasetRef, FineTuneSpec, MethodSpec, ModelSpec, OptimizerSpec } from '../../client/gen/steadytune/v1/spec.js';
import {
  CancelJobRequest,
  EvaluateRequest,
  GetJobRequest,
  ListJobsRequest,
  PredictRequest,
  StartFineTuneRequest,
  StreamMetricsRequest,
  type Example,
  type MessageFns,
} from '../../client/gen/steadytune/v1/trainer.js';

export type Random = () => number;

/** mulberry32 over a seed mixed with the index: request i is the same whatever ran before it. */
export function randomFor(seed: number, index: number): Random {
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the fuzzer knows about the server: ids of real jobs, so some requests reach them. */
export interface FuzzContext {
  readonly jobIds: readonly string[];
  /** A valid spec to perturb, so some StartFineTune calls get past validation. */
  readonly validSpec: FineTuneSpec;
}

export type Rpc = 'StartFineTune' | 'GetJob' | 'ListJobs' | 'CancelJob' | 'StreamMetrics' | 'Evaluate' | 'Predict';
export const RPCS: readonly Rpc[] = ['StartFineTune', 'GetJob', 'ListJobs', 'CancelJob', 'StreamMetrics', 'Evaluate', 'Predict'];

export interface FuzzRequest {
  readonly rpc: Rpc;
  readonly kind: 'structured' | 'mutated' | 'wire' | 'noise';
  readonly bytes: Buffer;
}

export function fuzzRequest(random: Random, context: FuzzContext): FuzzRequest {
  const g = new Generator(random, context);
  const rpc = g.pick(RPCS);
  const roll = random();
  // Past the 4 MiB default message limit: refused by grpc-js before decoding.
  if (roll < 0.005) return { rpc, kind: 'noise', bytes: Buffer.alloc(4 * 1024 * 1024 + g.int(1024), 0x0a) };
  if (roll < 0.1) return { rpc, kind: 'noise', bytes: g.noise() };
  if (roll < 0.25) return { rpc, kind: 'wire', bytes: g.wire(0) };
  const encoded = g.encode(rpc);
  if (encoded === undefined) return { rpc, kind: 'wire', bytes: g.wire(0) };
  if (roll < 0.45) return { rpc, kind: 'mutated', bytes: g.mutate(encoded) };
  return { rpc, kind: 'structured', bytes: encoded };
}

const STRINGS = ['', 'a', 'job-1', '../../etc/passwd', 'x'.repeat(129), 'x'.repeat(300), 'ünïcødé', 'tab\there', 'nul\u0000',
  '\ud800', 'Label.Key-1', 'UPPER', 'a b', '%s%n', '{"json":1}', 'eyJmYWtlIjoidG9rZW4ifQ', '0'];
const SPECIAL_NUMBERS = [0, -0, 1, -1, 0.5, 2, 1e-45, 1e-8, 1e6, 3.4e38, NaN, Infinity, -Infinity];
const SEQUENCES = [0, 1, 2, 1000, 2 ** 32, 2 ** 53 - 1];
const DURATION_SECONDS = [0, 1, -1, 2 ** 40, -(2 ** 40)];
const DURATION_NANOS = [0, 1, -1, 999_999_999, 1e9, 2 ** 31 - 1];
const EMPTY_SPEC: FineTuneSpec = {
  batchSize: 0,
  gradientAccumulation: 0,
  epochs: 0,
  seeds: [],
  fullConflictEvery: 0,
  ensemble: false,
};

class Generator {
  constructor(private readonly random: Random, private readonly context: FuzzContext) {}

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.random() * values.length)] as T;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  number(): number {
    return this.chance(0.5) ? this.pick(SPECIAL_NUMBERS) : (this.random() - 0.5) * 10 ** this.int(8);
  }
  uint32(): number {
    return this.pick([0, 1, 2, 3, 10, 31, 32, 33, 784, 4096, 4097, 2 ** 31, 2 ** 32 - 1, this.int(2 ** 32)]);
  }
  /** Enums: known values, unknown ones and negatives (proto3 keeps unknown enum numbers). */
  enumValue(): number {
    return this.pick([0, 1, 2, 3, 4, 5, 6, 7, 99, -1, 2 ** 31 - 1, -(2 ** 31)]);
  }
  string(): string {
    if (this.chance(0.05)) return 'y'.repeat(this.int(200_000));
    if (this.chance(0.3)) return String.fromCharCode(...Array.from({ length: this.int(40) }, () => this.int(0x3000)));
    return this.pick(STRINGS);
  }
  jobId(): string {
    return this.context.jobIds.length > 0 && this.chance(0.4) ? this.pick(this.context.jobIds) : this.string();
  }
  /** Mostly short; sometimes thousands; rarely (`huge`) past the server's message limit. */
  list<T>(item: () => T, huge = true): T[] {
    const roll = this.random();
    const length =
      roll < 0.4 ? this.int(4) : roll < 0.8 ? this.int(40) : roll < 0.97 || !huge ? this.int(5_000) : this.int(1_200_000);
    return Array.from({ length }, item);
  }
  map(): Record<string, string> {
    const size = this.chance(0.9) ? this.int(4) : this.int(200);
    return Object.fromEntries(Array.from({ length: size }, () => [this.string(), this.string()]));
  }

  datasetRef(): DatasetRef {
    const source = this.chance(0.5)
      ? { $case: 'builtin' as const, value: { name: this.enumValue(), split: this.enumValue() } }
      : { $case: 'datasetId' as const, value: this.string() };
    const classes = this.list(() => this.uint32());
    return { ...(this.chance(0.9) ? { source } : {}), classes, maxExamples: this.uint32() };
  }

  model(): ModelSpec {
    if (this.chance(0.5)) {
      const hiddenUnits = this.list(() => this.uint32());
      return { family: { $case: 'mlp', value: { hiddenUnits, dropout: this.number() } } };
    }
    const [dModel, heads, layers, ffDim] = [this.uint32(), this.uint32(), this.uint32(), this.uint32()];
    const transformer = { dModel, heads, layers, ffDim, pooling: this.enumValue(), dropout: this.number() };
    return { family: { $case: 'transformer', value: transformer } };
  }

  method(): MethodSpec {
    const maybe = (): number | undefined => (this.chance(0.5) ? this.number() : undefined);
    const methods: MethodSpec['method'][] = [
      { $case: 'fft', value: {} },
      { $case: 'dsgd', value: { lambda: maybe(), schedule: this.enumValue() } },
      { $case: 'focal', value: { gamma: maybe(), classWeights: this.list(() => this.number()) } },
      { $case: 'pcgrad', value: {} },
      { $case: 'noisytune', value: { noise: maybe() } },
      { $case: 'lnsr', value: { noiseStd: maybe(), weight: maybe() } },
      { $case: 'swa', value: { window: this.uint32() } },
      undefined,
    ];
    return { method: this.pick(methods) };
  }

  optimizer(): OptimizerSpec {
    return {
      kind: this.enumValue(),
      lrSchedule: this.enumValue(),
      learningRate: this.number(),
      momentum: this.number(),
      weightDecay: this.number(),
      beta1: this.number(),
      beta2: this.number(),
      epsilon: this.number(),
      warmupFraction: this.number(),
      clipNorm: this.number(),
    };
  }

  spec(): FineTuneSpec {
    const fields: (() => Partial<FineTuneSpec>)[] = [
      () => ({ train: this.datasetRef() }),
      () => ({ validation: this.datasetRef() }),
      () => ({ imbalance: { kind: this.enumValue(), ratio: this.number(), seed: this.uint32() } }),
      () => ({ model: this.model() }),
      () => ({ method: this.method() }),
      () => ({ optimizer: this.optimizer() }),
      () => ({ batchSize: this.uint32(), gradientAccumulation: this.uint32(), epochs: this.uint32() }),
      () => ({ seeds: this.list(() => this.uint32()), fullConflictEvery: this.uint32(), ensemble: this.chance(0.5) }),
      () => ({ maxRuntime: { seconds: this.pick(DURATION_SECONDS), nanos: this.pick(DURATION_NANOS) } }),
    ];
    // Half the time one or two fields of a valid spec change, so validation passes sometimes.
    if (this.chance(0.5)) {
      let spec = this.context.validSpec;
      for (let n = 1 + this.int(2); n > 0; n -= 1) spec = { ...spec, ...this.pick(fields)() };
      return spec;
    }
    return fields.reduce<FineTuneSpec>((spec, field) => (this.chance(0.7) ? { ...spec, ...field() } : spec), EMPTY_SPEC);
  }

  examples(): Example[] {
    // Lists inside examples stay small (the examples multiply them) and are often empty or
    // well-formed, so some batches get past validation to the model.
    const small = <T>(item: () => T): T[] =>
      this.chance(0.7) ? [] : Array.from({ length: this.int(this.chance(0.9) ? 8 : 300) }, item);
    const pixel = (): number => (this.chance(0.999) ? this.random() : this.number());
    const features = (): number[] => (this.chance(0.6) ? Array.from({ length: 784 }, pixel) : small(() => this.number()));
    const count = this.pick([0, 1, 1, 2, 3, 9, 100, 1024, 1025, 1500]);
    return Array.from({ length: count }, () => ({
      features: features(),
      tokenIds: small(() => this.uint32()),
      segmentIds: small(() => this.uint32()),
    }));
  }

  /** The RPC's request with random fields, encoded; undefined when a value cannot be encoded. */
  encode(rpc: Rpc): Buffer | undefined {
    const maybe = <T>(p: number, value: () => T, otherwise: T): T => (this.chance(p) ? value() : otherwise);
    try {
      switch (rpc) {
        case 'StartFineTune':
          return encoded(StartFineTuneRequest, {
            ...(this.chance(0.9) ? { spec: this.spec() } : {}),
            idempotencyKey: maybe(0.5, () => this.pick(['k1', 'k2', this.string()]), ''),
            displayName: maybe(0.5, () => this.string(), ''),
            labels: maybe(0.5, () => this.map(), {}),
          });
        case 'GetJob':
          return encoded(GetJobRequest, { jobId: this.jobId() });
        case 'CancelJob':
          return encoded(CancelJobRequest, { jobId: this.jobId() });
        case 'ListJobs':
          return encoded(ListJobsRequest, {
            pageSize: this.uint32(),
            pageToken: this.string(),
            state: this.enumValue(),
            labelSelector: this.map(),
          });
        case 'StreamMetrics':
          return encoded(StreamMetricsRequest, { jobId: this.jobId(), fromSequence: this.pick(SEQUENCES) });
        case 'Evaluate':
          return encoded(EvaluateRequest, {
            jobId: this.jobId(),
            ...(this.chance(0.5) ? { dataset: this.datasetRef() } : {}),
            seed: this.uint32(),
            ensemble: this.chance(0.5),
          });
        case 'Predict':
          return encoded(PredictRequest, { jobId: this.jobId(), seed: this.uint32(), examples: this.examples() });
      }
    } catch {
      return undefined;
    }
  }

  /** Bit flips, cuts, inserted noise and repeated slices of a valid encoding. */
  mutate(encoded: Buffer): Buffer {
    let out = Buffer.from(encoded);
    for (let n = 1 + this.int(4); n > 0; n -= 1) {
      const at = this.int(out.length + 1);
      const op = this.int(5);
      if (op === 0 && out.length > 0) out[Math.min(at, out.length - 1)] ^= 1 << this.int(8);
      else if (op === 1) out = out.subarray(0, at);
      else if (op === 2) out = Buffer.concat([out.subarray(0, at), this.noise(16), out.subarray(at)]);
      else if (op === 3) out = Buffer.concat([out, out.subarray(at, at + this.int(64))]);
      else if (out.length > 0) out[Math.min(at, out.length - 1)] = this.pick([0x00, 0x7f, 0x80, 0xff]);
    }
    return out;
  }

  /** Hand-made wire data: random field numbers and wire types, 64-bit varints, lengths past the end. */
  wire(depth: number): Buffer {
    const parts: Buffer[] = [];
    for (let n = this.int(6); n >= 0; n -= 1) {
      const field = this.pick([1, 2, 3, 4, 5, 9, 10, 15, 16, 2 ** 29 - 1, 0]);
      const wireType = this.int(8);
      parts.push(varint(BigInt(field) * 8n + BigInt(wireType)));
      if (wireType === 0) parts.push(varint(this.pick([0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n])));
      else if (wireType === 1) parts.push(this.noise(8));
      else if (wireType === 5) parts.push(this.noise(4));
      else if (wireType === 2) {
        const body = depth < 4 && this.chance(0.5) ? this.wire(depth + 1) : this.noise(this.int(32));
        parts.push(varint(BigInt(this.chance(0.8) ? body.length : this.pick([body.length + 1, 2 ** 31, 2 ** 35]))), body);
      }
    }
    return Buffer.concat(parts);
  }

  noise(max = 2_048): Buffer {
    return Buffer.from(Array.from({ length: this.int(max + 1) }, () => this.int(256)));
  }
}

function encoded<T>(type: MessageFns<T>, message: T): Buffer {
  const array = type.encode(message).finish();
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

function varint(value: bigint): Buffer {
  const out: number[] = [];
  let rest = BigInt.asUintN(64, value);
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Buffer.from(out);
}
