// Text generation from a prefix, as D2L's predict_rnn: start from a zero state, feed the prefix
// one character at a time, then feed back each chosen character. Greedy (argmax, D2L) when
// temperature is 0; otherwise sample from softmax(logits / temperature), optionally top-k only.

import type { Blas } from '../blas/types.js';
import type { Vocab } from '../data/corpus.js';
import { InputError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import type { Workspace } from './model.js';
import { carryOver, modelForward, zeroState, type ModelDesc } from './model.js';
import type { TensorOffsets } from './params.js';
import type { Steps } from '../util/slices.js';

export interface GenerateOptions {
  length: number;
  /** 0 = greedy */
  temperature: number;
  /** 0 = all characters */
  topK: number;
  rng: Rng;
  /** called with the prefix, then with each character as it is generated (streaming output) */
  onText?: (text: string) => void;
}

/**
 * The prefix followed by `opts.length` generated characters, as steps: one per character read or
 * written (util/slices.ts runs them in slices; runToEnd to completion). `ws` must have T = 1, B = 1.
 */
export function* generateSteps(blas: Blas, model: ModelDesc, P: TensorOffsets, ws: Workspace, vocab: Vocab,
  prefix: string, opts: GenerateOptions): Steps<string> {
  const { V } = ws.shape;
  const missing = vocab.missing(prefix);
  if (missing.length > 0) {
    const shown = prefix.length > 60 ? `${JSON.stringify(prefix.slice(0, 60))}... (${prefix.length.toLocaleString('en-US')} characters)` : JSON.stringify(prefix);
    throw new InputError(`prefix ${shown}: ${missing.slice(0, 10).map((c) => JSON.stringify(c)).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''} not in the model's vocabulary`);
  }
  const ids = Array.from(prefix).map((c) => vocab.id(c));
  if (ids.length === 0) throw new InputError('prefix is empty: give at least one character');
  zeroState(model, blas, ws, 1);
  const out = [...ids];
  opts.onText?.(prefix);
  const probs = new Float64Array(V);
  for (let k = 0; k < ids.length - 1 + opts.length; k++) {
    blas.i[ws.x] = out[k];
    modelForward(model, blas, P, ws, 1);
    carryOver(model, blas, ws, 1);
    if (k >= ids.length - 1) {
      checkFiniteLogits(blas.f, ws.logits, V);
      const next = pick(blas.f, ws.logits, V, opts, probs); // past the prefix
      out.push(next);
      opts.onText?.(vocab.chars[next]);
    }
    yield;
  }
  return vocab.decode(out);
}

/** Logits that overflowed (finite weights too large for float32 arithmetic) pick nothing meaningful: say so. */
export function checkFiniteLogits(f: Float32Array | Float64Array, logits: number, V: number): void {
  for (let j = 0; j < V; j++) {
    if (!Number.isFinite(f[logits + j])) {
      throw new InputError(`the model's outputs are not finite (logit ${j} is ${f[logits + j]}): its weights are too large for float32 arithmetic; this checkpoint cannot generate`);
    }
  }
}

/** The next id from one row of logits: argmax, or a draw from softmax(logits / temperature) over the top k. */
export function pick(f: Float32Array | Float64Array, logits: number, V: number, opts: GenerateOptions, probs: Float64Array): number {
  let best = 0;
  for (let j = 1; j < V; j++) if (f[logits + j] > f[logits + best]) best = j;
  if (opts.temperature <= 0) return best;
  let threshold = -Infinity;
  if (opts.topK > 0 && opts.topK < V) {
    const sorted = Array.from(f.subarray(logits, logits + V)).sort((a, b) => b - a);
    threshold = sorted[opts.topK - 1];
  }
  let sum = 0;
  for (let j = 0; j < V; j++) {
    const l = f[logits + j];
    probs[j] = l >= threshold ? Math.exp((l - f[logits + best]) / opts.temperature) : 0;
    sum += probs[j];
  }
  let u = opts.rng.uniform() * sum;
  for (let j = 0; j < V; j++) {
    u -= probs[j];
    if (u < 0) return j;
  }
  return best;
}
