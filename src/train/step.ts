// The three phases of one training step, as functions of (kernels, plan, indices). The pool's
// workers and the single-thread engine run exactly these, so both compute the same thing:
//   1. computeShard: forward + full BPTT for one shard's rows into that shard's gradient block;
//   2. reduceChunks: sum the gradient blocks (fixed order) into block 0, and return each chunk's
//      sum of squares (chunks are fixed, so the global norm never depends on the slicing);
//   3. updateRange: params -= scale * summed gradient, scale = lr * min(theta/||g||, 1).

import type { Activation, Blas } from '../blas/types.js';
import { rnnBackward, rnnForward, xentForwardBackward, type Workspace } from '../model/bptt.js';
import { NORM_CHUNK_ELEMS, type MemoryPlan } from './plan.js';

export interface StepContext {
  blas: Blas;
  plan: MemoryPlan;
  act: Activation;
  /** this thread's workspace */
  ws: Workspace;
}

/**
 * Forward and BPTT for shard `s`; returns its summed loss. `carry`: start from (and then store)
 * each row's state in the shared state table (consecutive sampling); otherwise start from zeros.
 * `gradScale` is 1/(T*B_total), so the summed blocks are the gradient of the minibatch mean loss.
 */
export function computeShard(ctx: StepContext, s: number, carry: boolean, gradScale: number): number {
  const { blas, plan, act, ws } = ctx;
  const { lo, hi } = plan.shards[s];
  const rows = hi - lo;
  const { T, B, H } = plan.input;
  const block = plan.gradBlocks[s];
  blas.fill(plan.numParams, 0, block);
  if (rows === 0) return 0;
  const ints = blas.i;
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < rows; r++) {
      ints[ws.x + t * rows + r] = ints[plan.batchX + t * B + lo + r];
      ints[ws.y + t * rows + r] = ints[plan.batchY + t * B + lo + r];
    }
  }
  if (carry) blas.copy(rows * H, plan.state + lo * H, ws.hs);
  else blas.fill(rows * H, 0, ws.hs);
  rnnForward(blas, act, plan.P, ws, rows);
  // The carried state is h_T of this minibatch, detached: BPTT below never reaches past h_0.
  if (carry) blas.copy(rows * H, ws.hs + T * rows * H, plan.state + lo * H);
  const loss = xentForwardBackward(blas, ws, gradScale, rows);
  rnnBackward(blas, act, plan.P, plan.gradOffsets[s], ws, rows);
  return loss;
}

/** Sums blocks[1..] into blocks[0] over chunks [cLo, cHi); returns each chunk's sum of squares. */
export function reduceChunks(ctx: StepContext, cLo: number, cHi: number, blocks: number[]): number[] {
  const { blas, plan } = ctx;
  const sums: number[] = [];
  for (let c = cLo; c < cHi; c++) {
    const lo = c * NORM_CHUNK_ELEMS;
    const n = Math.min(plan.numParams, lo + NORM_CHUNK_ELEMS) - lo;
    for (let k = 1; k < blocks.length; k++) blas.axpy(n, 1, blocks[k] + lo, blocks[0] + lo);
    sums.push(blas.sumsq(n, blocks[0] + lo));
  }
  return sums;
}

/** params[lo, hi) -= scale * grad[lo, hi) */
export function updateRange(ctx: StepContext, lo: number, hi: number, scale: number, grad: number): void {
  const { blas, plan } = ctx;
  blas.axpy(hi - lo, -scale, grad + lo, plan.params + lo);
}
