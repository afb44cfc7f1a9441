// tf.dropout's keep mask, bit for bit, without its cost. tf.dropout draws each uniform through
// tf.randomUniform's per-element JS path (~11 ns a value on a loaded machine: ~50 ms of a
// transformer step's 4.5M draws) and then runs add, floor and div kernels over the noise. The
// stream here is the same Alea generator (J. Baagoe's algorithm, as seedrandom.alea implements
// it: seeded by Mash of the seed string) run in one tight loop, and the mask comes out final.
import * as tf from '@tensorflow/tfjs';

const TWO_TO_MINUS_32 = 2.3283064365386963e-10;

/** Baagoe's Mash: folds a string into the running state, returns a double in [0, 1). */
function createMash(): (data: string) => number {
  let n = 0xefc8249d;
  return (data) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * TWO_TO_MINUS_32;
  };
}

interface AleaState {
  s0: number;
  s1: number;
  s2: number;
  carry: number;
}

/** Alea's state after seeding, as seedrandom.alea(seed) sets it up. */
function seededAlea(seed: string): AleaState {
  const mash = createMash();
  const state = { s0: mash(' '), s1: mash(' '), s2: mash(' '), carry: 1 };
  state.s0 -= mash(seed);
  if (state.s0 < 0) state.s0 += 1;
  state.s1 -= mash(seed);
  if (state.s1 < 0) state.s1 += 1;
  state.s2 -= mash(seed);
  if (state.s2 < 0) state.s2 += 1;
  return state;
}

/** The first `count` values of seedrandom.alea(seed)(), as f32 (what tf.randomUniform stores). */
export function aleaUniforms(seed: string, count: number): Float32Array {
  const out = new Float32Array(count);
  let { s0, s1, s2, carry } = seededAlea(seed);
  for (let i = 0; i < count; i++) {
    const t = 2091639 * s0 + carry * TWO_TO_MINUS_32;
    s0 = s1;
    s1 = s2;
    carry = t | 0;
    s2 = t - carry;
    out[i] = s2;
  }
  return out;
}

/**
 * The multiplier tf.dropout(x, rate, undefined, seed) applies: floor(u + keep) / keep in f32,
 * u = f32(uniform), i.e. 1/keep where f32(u + keep) >= 1, else 0.
 */
export function dropoutMultiplier(size: number, rate: number, seed: string | number): Float32Array {
  const keep = Math.fround(1 - rate);
  const kept = Math.fround(1 / keep);
  // Draw straight into the output, then map each uniform to its multiplier in place.
  const out = aleaUniforms(String(seed), size);
  for (let i = 0; i < size; i++) out[i] = Math.fround(out[i] + keep) >= 1 ? kept : 0;
  return out;
}

/** tf.dropout(x, rate, undefined, seed) with the same mask and values; rate 0 returns x. */
export function seededDropout<T extends tf.Tensor>(x: T, rate: number, seed: string | number): T {
  if (rate === 0) return x;
  return tf.tidy(() => tf.mul(x, tf.tensor(dropoutMultiplier(x.size, rate, seed), x.shape, 'float32')));
}
