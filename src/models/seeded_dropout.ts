/**
 * Dropout whose masks are reproducible: the same seed gives the same sequence of masks in any
 * run, so two trainings of one configuration end with the same weights.
 *
 * Why not tfjs's own `seed` option: `tf.layers.dropout({seed})` seeds a fresh generator at
 * every call, so it draws the SAME mask at every step (no regularising noise), and without a
 * seed it draws from an unseeded global generator (not reproducible). Here the mask of the
 * n-th training call of a layer is drawn with seed f(layer seed, stream, n).
 *
 * Streams: a data-parallel step (src/train/parallel.ts) computes part p of a batch, in this
 * thread or in a worker, inside `withDropoutStream(p, …)`; each layer counts calls per stream,
 * so part p gets the same masks whichever thread computes it, and the parts get different
 * masks. (A resumed run restarts the counts: it is reproducible, but not identical to an
 * uninterrupted run.)
 */
import { tf } from '../tf/runtime';
import { deriveSeed } from '../rng';

let currentStream = 0;

/** Runs `fn` with dropout masks drawn from stream `stream` (a data-parallel part index). */
export function withDropoutStream<T>(stream: number, fn: () => T): T {
  const before = currentStream;
  currentStream = stream;
  try {
    return fn();
  } finally {
    currentStream = before;
  }
}

export interface SeededDropoutArgs {
  rate: number;
  seed: number;
  /** 'spatial1d': one mask value per (example, channel) of a [B, L, C] input (whole-vector dropout). */
  noise?: 'elementwise' | 'spatial1d';
  name?: string;
}

/** Inverted dropout with seeded masks (see the module comment); serialisable as 'SeededDropout'. */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  readonly noise: 'elementwise' | 'spatial1d';
  private readonly calls = new Map<number, number>();

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`dropout rate must lie in [0, 1), got ${args.rate} (layer ${args.name ?? 'unnamed'})`);
    if (!Number.isFinite(args.seed)) throw new Error(`dropout seed must be a finite number, got ${args.seed} (layer ${args.name ?? 'unnamed'})`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.noise = args.noise ?? 'elementwise';
    this.supportsMasking = true;
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs.training || this.rate === 0) return tf.clone(x);
    const n = this.calls.get(currentStream) ?? 0;
    this.calls.set(currentStream, n + 1);
    const maskSeed = deriveSeed(this.seed, currentStream, n);
    return tf.tidy(() => {
      const shape = this.noise === 'spatial1d' ? [x.shape[0], 1, x.shape[x.rank - 1]] : x.shape;
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', maskSeed), this.rate), 'float32');
      return tf.mul(x, tf.mul(keep, 1 / (1 - this.rate)));
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed, noise: this.noise };
  }
}
tf.serialization.registerClass(SeededDropout);

/** A seeded dropout layer; `parts` name what the seed derives from (e.g. model seed and layer name). */
export function seededDropout(rate: number, name: string, ...parts: Array<string | number>): SeededDropout {
  return new SeededDropout({ rate, name, seed: deriveSeed(...parts, name) });
}
