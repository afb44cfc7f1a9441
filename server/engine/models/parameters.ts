import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../random.js';
import { registrableName } from './parameter-names.js';

/**
 * Creates a model's trainable variables with seeded initial values, in a fixed order, so a
 * model built twice from the same seed is bitwise identical. Each variable's seed depends on
 * the run seed and its creation index only.
 */
export class ParameterFactory {
  private readonly created: tf.Variable[] = [];

  constructor(private readonly seed: number) {}

  /** BERT's initialiser: truncated normal, std 0.02. */
  normal(name: string, shape: number[], std = 0.02): tf.Variable {
    const seed = deriveSeed(this.seed, 'init', this.created.length);
    return this.register(
      name,
      tf.tidy(() => tf.truncatedNormal(shape, 0, std, 'float32', seed)),
    );
  }

  /** Glorot uniform, for a head kernel [fanIn, fanOut]. */
  glorot(name: string, shape: [number, number]): tf.Variable {
    const seed = deriveSeed(this.seed, 'init', this.created.length);
    const limit = Math.sqrt(6 / (shape[0] + shape[1]));
    return this.register(
      name,
      tf.tidy(() => tf.randomUniform(shape, -limit, limit, 'float32', seed)),
    );
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.register(name, tf.zeros(shape));
  }

  ones(name: string, shape: number[]): tf.Variable {
    return this.register(name, tf.ones(shape));
  }

  /** Every variable created so far, in creation order. */
  get variables(): readonly tf.Variable[] {
    return this.created;
  }

  private register(name: string, initial: tf.Tensor): tf.Variable {
    // tf.variable shares the values (reference-counted); the initial handle is ours to free.
    // registrableName suffixes the name only if another live model already holds it.
    const variable = tf.variable(initial, true, registrableName(name));
    initial.dispose();
    this.created.push(variable);
    return variable;
  }
}
