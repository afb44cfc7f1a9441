// Seeded randomness for everything the engine draws on the host (data order, seeds handed to
// TF.js random ops). One run seed fans out into independent streams by purpose, so changing,
// say, the dropout draws never shifts the data order.

/** A uniform [0, 1) generator whose whole state is one uint32, so checkpoints can store it. */
export interface SeededRandom {
  next(): number;
  /** Current state; seededRandom(state) continues the same sequence. */
  readonly state: number;
}

/** mulberry32: tiny, fast, passes the usual statistical batteries for this use. */
export function seededRandom(state: number): SeededRandom {
  let current = state >>> 0;
  return {
    next(): number {
      current = (current + 0x6d2b79f5) >>> 0;
      let t = current;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    get state(): number {
      return current;
    },
  };
}

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
function avalanche(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Combines two integers into one well-mixed uint32 (order matters). */
export function mixSeed(a: number, b: number): number {
  return avalanche(avalanche(a) ^ Math.imul((b >>> 0) + 0x9e3779b9, 0x27d4eb2f));
}

export type SeedPurpose = 'data-order' | 'init' | 'dropout' | 'noise' | 'method';

function hashText(text: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The seed for one purpose (and index, e.g. epoch or micro-batch number) of a run. */
export function deriveSeed(runSeed: number, purpose: SeedPurpose, index = 0): number {
  return mixSeed(mixSeed(runSeed, hashText(purpose)), index);
}

/** Fisher-Yates permutation of 0..count-1 drawn from `random`. */
export function shuffledIndices(count: number, random: SeededRandom): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    const swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  return order;
}
