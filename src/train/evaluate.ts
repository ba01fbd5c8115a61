// Validation loss: the held-out tail read consecutively (as consecutive sampling does), with the
// state carried across chunks, no gradients: the mean cross-entropy per character in nats
// (perplexity = exp of it, bits per character = it / ln 2).

import type { Blas } from '../blas/types.js';
import { consecutiveBatches, ConsecutiveSampler } from '../data/samplers.js';
import type { Workspace } from '../model/model.js';
import { carryOver, modelLoss, zeroState, type ModelDesc } from '../model/model.js';
import type { TensorOffsets } from '../model/params.js';
import { runToEnd, type Steps } from '../util/slices.js';

/** Rows used to read a held-out corpus of `len` tokens in T-step chunks (0: too short). */
export function evalRows(len: number, T: number, maxRows: number): number {
  return Math.max(0, Math.min(maxRows, Math.floor(len / (T + 1))));
}

/** T-step chunks of B rows an evaluation of `len` tokens reads (its cost is proportional). */
export function evalChunks(len: number, T: number, B: number): number {
  return consecutiveBatches(len, B, T);
}

/** `maxChunks`: read only the first chunks (a probe of the evaluation's cost). */
export function evaluateLoss(blas: Blas, model: ModelDesc, P: TensorOffsets, ws: Workspace, corpus: Int32Array, maxChunks = Infinity): number {
  return runToEnd(evaluateSteps(blas, model, P, ws, corpus, maxChunks));
}

/** evaluateLoss as steps, one per chunk (util/slices.ts runs them in slices). */
export function* evaluateSteps(blas: Blas, model: ModelDesc, P: TensorOffsets, ws: Workspace, corpus: Int32Array, maxChunks = Infinity): Steps<number> {
  const { T, B } = ws.shape;
  const sampler = new ConsecutiveSampler(corpus, B, T);
  zeroState(model, blas, ws, B);
  let loss = 0;
  let tokens = 0;
  for (let i = 0; i < Math.min(maxChunks, sampler.batchesPerEpoch); i++) {
    sampler.fill(i, blas.i, ws.x, blas.i, ws.y);
    loss += modelLoss(model, blas, P, ws);
    carryOver(model, blas, ws, B);
    tokens += T * B;
    yield;
  }
  return loss / tokens;
}
