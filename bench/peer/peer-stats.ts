// The arithmetic and options of the PyTorch comparison (run.ts), kept free of TF.js and of the
// clock so the unit tests can check it: which PyTorch configurations take part, which of them is
// the peer, the order contenders take turns in, and the ratios with their spread across rounds.

export type PeerModel = 'mlp' | 'transformer';

export interface PeerOptions {
  readonly quick: boolean;
  readonly models: readonly PeerModel[];
  readonly backend: string;
  /** Rounds per model; undefined = the model's default (more for the cheap MLP). */
  readonly rounds: number | undefined;
  /** Also time the engine with its kernels off (stock TF.js ops). */
  readonly stock: boolean;
}

export const PEER_USAGE = 'npm run bench:peer -- [--quick] [--models=mlp,transformer] [--backend=wasm] [--rounds=N] [--no-stock]';

const MODELS: readonly PeerModel[] = ['mlp', 'transformer'];

/** Parses run.ts's arguments; throws on anything it does not know, so a typo is not a silent default. */
export function parsePeerArgs(args: readonly string[]): PeerOptions {
  let quick = false;
  let stock = true;
  let models: readonly PeerModel[] = MODELS;
  let backend = 'wasm';
  let rounds: number | undefined;
  for (const arg of args) {
    const [flag, value] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, ''];
    if (arg === '--quick') quick = true;
    else if (arg === '--no-stock') stock = false;
    else if (flag === '--backend' && value !== '') backend = value;
    else if (flag === '--models') models = parseModels(value);
    else if (flag === '--rounds') rounds = parseRounds(value);
    else throw new Error(`unknown argument '${arg}'; usage: ${PEER_USAGE}`);
  }
  return { quick, models, backend, rounds, stock };
}

function parseModels(value: string): PeerModel[] {
  const names = value.split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !MODELS.some((model) => model === name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--models takes a comma-separated subset of ${MODELS.join(',')}, got '${value}'`);
  }
  return MODELS.filter((model) => names.includes(model));
}

function parseRounds(value: string): number {
  const rounds = Number(value);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds takes a whole number >= 1, got '${value}'`);
  return rounds;
}

/** What this PyTorch build offers, as torch_peer.py's hello reports it. */
export interface TorchCapabilities {
  readonly fusedAdamw: boolean;
  readonly flushDenormal: boolean;
}

export interface TorchConfig {
  /** The runner's name in torch_peer.py's protocol. */
  readonly id: string;
  readonly label: string;
  readonly foreach: boolean;
  readonly fused: boolean;
  readonly flushDenormal: boolean;
  /** AdamW exactly as a user calls it (per-parameter loop, flush-denormal off). */
  readonly isDefault: boolean;
}

/**
 * Every AdamW path this build has (the default per-parameter loop, foreach, and fused where
 * AdamW accepts it), each with flush-denormal off and on where the CPU has the flag. All are
 * timed; the peer is whichever is fastest in the run itself, the default path included.
 */
export function torchConfigs(capabilities: TorchCapabilities): TorchConfig[] {
  const updates = [
    { name: 'default', foreach: false, fused: false },
    { name: 'foreach', foreach: true, fused: false },
  ];
  if (capabilities.fusedAdamw) updates.push({ name: 'fused', foreach: false, fused: true });
  const flushSettings = capabilities.flushDenormal ? [false, true] : [false];
  const configs: TorchConfig[] = [];
  for (const update of updates) {
    for (const flushDenormal of flushSettings) {
      configs.push({
        id: flushDenormal ? `${update.name}+flush` : update.name,
        label: `PyTorch ${update.name} AdamW, flush-denormal ${flushDenormal ? 'on' : 'off'}`,
        foreach: update.foreach,
        fused: update.fused,
        flushDenormal,
        isDefault: update.name === 'default' && !flushDenormal,
      });
    }
  }
  return configs;
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Contender indices in the order they run in `round`: rotated each round, so none always runs first or after the same one. */
export function roundOrder(contenders: number, round: number): number[] {
  return Array.from({ length: contenders }, (_, i) => (i + round) % contenders);
}

/** Index of the entry with the lowest median step time (the first on a tie). */
export function fastestIndex(stepTimes: readonly (readonly number[])[]): number {
  let best = -1;
  let bestMs = Number.POSITIVE_INFINITY;
  stepTimes.forEach((times, index) => {
    const ms = median(times);
    if (ms < bestMs) [best, bestMs] = [index, ms];
  });
  if (best < 0) throw new Error('no contender has step times');
  return best;
}

/** Throughput of ours relative to the peer: peer ms / our ms (above 1 = we are faster). */
export const throughputRatio = (peerMs: number, oursMs: number): number => peerMs / oursMs;

/** The throughput ratio round by round, from each round's median step times. */
export function roundRatios(peerRounds: readonly (readonly number[])[], oursRounds: readonly (readonly number[])[]): number[] {
  if (peerRounds.length !== oursRounds.length) {
    throw new Error(`round counts differ: peer ${peerRounds.length}, ours ${oursRounds.length}`);
  }
  return peerRounds.map((peer, round) => throughputRatio(median(peer), median(oursRounds[round])));
}

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function spreadOf(values: readonly number[]): Spread {
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) };
}

/** '0.52 (rounds 0.47–0.58)': a ratio with its spread across rounds. */
export function formatRatio(ratio: number, rounds: Spread): string {
  return `${ratio.toFixed(2)} (rounds ${rounds.min.toFixed(2)}–${rounds.max.toFixed(2)})`;
}
