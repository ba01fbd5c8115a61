// Validation perplexity: the held-out tail read consecutively (as consecutive sampling does), with
// the state carried across chunks, no gradients. Perplexity = exp(mean cross-entropy per token).

import type { Blas } from '../blas/types.js';
import { ConsecutiveSampler } from '../data/samplers.js';
import type { Workspace } from '../model/model.js';
import { carryOver, modelLoss, zeroState, type ModelSpec } from '../model/model.js';
import type { TensorOffsets } from '../model/params.js';

/** Rows used to read a held-out corpus of `len` tokens in T-step chunks (0: too short). */
export function evalRows(len: number, T: number, maxRows: number): number {
  return Math.max(0, Math.min(maxRows, Math.floor(len / (T + 1))));
}

export function evaluatePerplexity(blas: Blas, model: ModelSpec, P: TensorOffsets, ws: Workspace, corpus: Int32Array): number {
  const { T, B } = ws.shape;
  const sampler = new ConsecutiveSampler(corpus, B, T);
  zeroState(model, blas, ws, B);
  let loss = 0;
  let tokens = 0;
  for (let i = 0; i < sampler.batchesPerEpoch; i++) {
    sampler.fill(i, blas.i, ws.x, blas.i, ws.y);
    loss += modelLoss(model, blas, P, ws);
    carryOver(model, blas, ws, B);
    tokens += T * B;
  }
  return Math.exp(loss / tokens);
}
