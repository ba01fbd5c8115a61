// The two minibatch samplers of D2L section 6.3. The trainer asks each for its rows' start offsets
// (`starts`, written in place into the control block's schedule table); `fill` (evaluation, tests)
// gathers a minibatch's tokens into time-major int32 buffers (row t*B + b).
//
// random (data_iter_random): the corpus is cut into (len-1)//T examples of T steps; every epoch
//   shuffles them and yields examples//B minibatches of B examples. Rows are independent, so the
//   hidden state is reset per minibatch.
// consecutive (data_iter_consecutive): the corpus is cut into B rows of len//B characters;
//   minibatch i takes columns [i*T, i*T+T) of every row, (rowLen-1)//T minibatches per epoch.
//   Row b of minibatch i+1 continues row b of minibatch i, so the state is carried (detached).
//   With a random epoch offset, every epoch rotates all rows by one offset o drawn from the
//   sampler's RNG: row b starts at (b*rowLen + o) mod M, M = B*rowLen - T, and continues from there,
//   wrapping from the corpus's end to its start (a document boundary, once per epoch for one row).
//   Without it the same rows start from a zero state at the same places every epoch, and a big
//   model learns that stream through its carried state (issue 15: validation loss 1.8 -> 2.9 at
//   H=512 while training loss fell). Rows still never overlap by more than T characters.

import type { Rng } from '../util/rng.js';

export type SamplerKind = 'random' | 'consecutive';

export interface Sampler {
  readonly kind: SamplerKind;
  readonly B: number;
  readonly T: number;
  readonly batchesPerEpoch: number;
  /** Draws this epoch's order (random) from rng; consecutive draws nothing. */
  startEpoch(rng: Rng): void;
  /** Writes the B row start offsets of minibatch i: row b reads corpus[start_b .. start_b + T]. */
  starts(i: number, out: Int32Array, off: number): void;
  /** Writes minibatch i of the current epoch: X and Y (T, B) time-major at xOff / yOff. */
  fill(i: number, X: Int32Array, xOff: number, Y: Int32Array, yOff: number): void;
}

/** X[t, b] = corpus[start_b + t], Y[t, b] = corpus[start_b + t + 1], from a sampler's starts. */
function fillFromStarts(sampler: Sampler, corpus: Int32Array, i: number, X: Int32Array, xOff: number, Y: Int32Array, yOff: number): void {
  const { B, T } = sampler;
  const starts = new Int32Array(B);
  sampler.starts(i, starts, 0);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      X[xOff + t * B + b] = corpus[starts[b] + t];
      Y[yOff + t * B + b] = corpus[starts[b] + t + 1];
    }
  }
}

export class RandomSampler implements Sampler {
  readonly kind = 'random';
  readonly batchesPerEpoch: number;
  private readonly order: Int32Array;

  constructor(private readonly corpus: Int32Array, readonly B: number, readonly T: number) {
    const numExamples = Math.floor((corpus.length - 1) / T);
    this.batchesPerEpoch = Math.floor(numExamples / B);
    this.order = new Int32Array(numExamples).map((_, k) => k);
  }

  startEpoch(rng: Rng): void {
    for (let k = 0; k < this.order.length; k++) this.order[k] = k;
    rng.shuffle(this.order);
  }

  starts(i: number, out: Int32Array, off: number): void {
    for (let b = 0; b < this.B; b++) out[off + b] = this.order[i * this.B + b] * this.T;
  }

  fill(i: number, X: Int32Array, xOff: number, Y: Int32Array, yOff: number): void {
    fillFromStarts(this, this.corpus, i, X, xOff, Y, yOff);
  }
}

export class ConsecutiveSampler implements Sampler {
  readonly kind = 'consecutive';
  readonly batchesPerEpoch: number;
  readonly rowLen: number;
  /** this epoch's rotation (0 without a random offset) */
  private offset = 0;
  /** the cycle the rotated starts live on: every start s < M reads s..s+T, inside the corpus */
  private readonly cycle: number;

  constructor(private readonly corpus: Int32Array, readonly B: number, readonly T: number, private readonly randomOffset = false) {
    this.rowLen = Math.floor(corpus.length / B);
    this.batchesPerEpoch = consecutiveBatches(corpus.length, B, T);
    this.cycle = Math.max(1, B * this.rowLen - T);
  }

  /** Draws this epoch's rotation (one RNG draw) when the offset is random; D2L's draws nothing. */
  startEpoch(rng: Rng): void {
    if (this.randomOffset) this.offset = Math.floor(rng.uniform() * this.cycle);
  }

  starts(i: number, out: Int32Array, off: number): void {
    // without an offset the modulus never bites: b*rowLen + i*T < M for every minibatch i
    for (let b = 0; b < this.B; b++) out[off + b] = (b * this.rowLen + i * this.T + this.offset) % this.cycle;
  }

  fill(i: number, X: Int32Array, xOff: number, Y: Int32Array, yOff: number): void {
    fillFromStarts(this, this.corpus, i, X, xOff, Y, yOff);
  }
}

/** Minibatches of B rows of T steps consecutive sampling reads from `len` tokens (each row floor(len / B) long). */
export function consecutiveBatches(len: number, B: number, T: number): number {
  return Math.max(0, Math.floor((Math.floor(len / B) - 1) / T));
}

export function makeSampler(kind: SamplerKind, corpus: Int32Array, B: number, T: number, randomOffset = false): Sampler {
  return kind === 'random' ? new RandomSampler(corpus, B, T) : new ConsecutiveSampler(corpus, B, T, randomOffset);
}

/** Shortest corpus that yields one minibatch. */
export function minCorpusLength(kind: SamplerKind, B: number, T: number): number {
  return kind === 'random' ? B * T + 1 : B * (T + 1);
}
