// One training step, written once. Every thread that trains (each pool worker, or the calling
// thread in InlineEngine) runs `runStretch`: minibatch after minibatch from the schedule in the
// control block, with the phases of a step separated by barriers in shared memory:
//
//   gather + compute   each worker: its shards' rows from the corpus, forward + full BPTT into
//                      the shard's own gradient block, the shard's summed loss into its slot
//   -- barrier A --    every gradient block is written (the last thread books the slowest BPTT time)
//   reduce             each worker: its fixed chunks, blocks summed in block order into the first
//                      active block, each chunk's sum of squares into its slot
//   -- barrier B --    the last thread to arrive (alone) sums the loss slots in shard order and the
//                      chunk slots in chunk order, takes the norm and the clip factor
//                      min(theta/||g||, 1), and decides whether this is the last minibatch (stop
//                      request, divergence)
//   update             each worker: the optimizer's step (SGD: params -= lr * factor * g) over its
//                      fixed parameter range, its state in the same range
//   -- barrier C --    parameters complete; the progress counter moves; a stop request that came
//                      after barrier B ends the stretch here
//
// All sums run in an order fixed by indices, never by arrival, so the results are bitwise those
// of the same phases run one after another (test/step.test.ts checks exactly that).

import type { Blas } from '../blas/types.js';
import type { Workspace } from '../model/model.js';
import { loadState, modelBackward, modelForward, storeState, xentForwardBackward, zeroState } from '../model/model.js';
import { clipFactor } from '../optim/clip.js';
import { applyUpdate, type OptimStep } from '../optim/optimizers.js';
import { barrier, checkAbort, PhaseIndex, PHASES, Result, RESULT_FIELDS, Slot, StretchStatus, type ControlViews } from './control.js';
import { NORM_CHUNK_ELEMS, type MemoryPlan } from './plan.js';

export interface StepContext {
  blas: Blas;
  /** the memory plan, and through plan.input.model the model trained */
  plan: MemoryPlan;
  /** this thread's workspace */
  ws: Workspace;
}

/** What one thread needs to run stretches: its step context, its index and the shared tables. */
export interface WorkerContext extends StepContext {
  worker: number;
  control: ControlViews;
  /** the training corpus, token ids (shared, read-only) */
  corpus: Int32Array;
  /** how long a barrier spins before it sleeps (ms); 0 when workers outnumber cores */
  spinMs?: number;
}

/** The scalars of one stretch: minibatches [k0, k1) of the schedule. */
export interface StretchTask {
  k0: number;
  k1: number;
  /** consecutive sampling: start each row from its carried state, store h_T back */
  carry: boolean;
  /** 1/(T*B): the summed blocks are then the gradient of the minibatch mean loss */
  gradScale: number;
  /** one rate for every minibatch of the stretch; without it, minibatch k's rate is control.lrs[k] */
  lr?: number;
  clipTheta: number;
  /** the optimizer */
  optim: OptimStep;
  /** global minibatch count before k0 (Adam's bias correction uses step0 + k - k0 + 1, dropout masks step0 + k - k0) */
  step0: number;
}

/**
 * Copies shard `s`'s rows of minibatch `k` from the corpus into the workspace, time-major:
 * x[t, r] = corpus[start_r + t], y[t, r] = corpus[start_r + t + 1].
 */
export function gatherShard(ctx: WorkerContext, s: number, k: number): void {
  const { plan, ws, corpus, control } = ctx;
  const { lo, hi } = plan.shards[s];
  const rows = hi - lo;
  const { T, B } = plan.input;
  const ints = ctx.blas.i;
  const starts = control.schedule;
  for (let r = 0; r < rows; r++) {
    const start = starts[k * B + lo + r];
    for (let t = 0; t < T; t++) {
      ints[ws.x + t * rows + r] = corpus[start + t];
      ints[ws.y + t * rows + r] = corpus[start + t + 1];
    }
  }
}

/**
 * Forward and BPTT for shard `s`, whose rows are already in the workspace; returns the shard's
 * summed loss. `carry`: start from (and then store) each row's state in the shared state table.
 */
export function computeShard(ctx: StepContext, s: number, carry: boolean, gradScale: number, minibatch = 0): number {
  const { blas, plan, ws } = ctx;
  const { lo, hi } = plan.shards[s];
  const rows = hi - lo;
  const { model } = plan.input;
  // dropout masks are keyed by the minibatch's global index and each row's index in it: the same
  // masks whichever worker runs the row
  const opts = { dropout: { seed: plan.input.seed, minibatch, row0: lo } };
  const block = plan.gradBlocks[s];
  blas.fill(plan.numParams, 0, block);
  if (rows === 0) return 0;
  if (carry) loadState(model, blas, ws, plan.state, lo, rows);
  else zeroState(model, blas, ws, rows);
  modelForward(model, blas, plan.P, ws, rows, opts);
  // The carried state is the final state of this minibatch, detached: BPTT below never reaches past it.
  if (carry) storeState(model, blas, ws, plan.state, lo, rows);
  const loss = xentForwardBackward(blas, ws, gradScale, rows);
  modelBackward(model, blas, plan.P, plan.gradOffsets[s], ws, rows, opts);
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

/** Minibatch k's learning rate: the task's one rate, or the control block's per-minibatch table. */
function rateOf(control: ControlViews, task: StretchTask, k: number): number {
  return task.lr ?? control.lrs[k];
}

/**
 * The serial section at barrier B (one thread, every other one parked): loss and norm of minibatch
 * k from the fixed slots, in slot order; the clip factor and step scale; the stop decision.
 */
function decide(control: ControlViews, k: number, task: StretchTask): void {
  const { ctrl, shardLoss, chunkSumsq, results } = control;
  let loss = 0;
  for (let s = 0; s < shardLoss.length; s++) loss += shardLoss[s];
  let sumsq = 0;
  for (let c = 0; c < chunkSumsq.length; c++) sumsq += chunkSumsq[c];
  const norm = Math.sqrt(sumsq);
  const row = k * RESULT_FIELDS;
  results[row + Result.LOSS] = loss;
  results[row + Result.NORM] = norm;
  if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
    results[row + Result.FACTOR] = NaN;
    Atomics.store(ctrl, Slot.STATUS, StretchStatus.DIVERGED);
    Atomics.store(ctrl, Slot.LAST, k);
    return;
  }
  results[row + Result.FACTOR] = clipFactor(norm, task.clipTheta);
  // Atomics.load: the coordinator's stop request may arrive at any time; read it once, here.
  if (Atomics.load(ctrl, Slot.STOP_REQUEST) !== 0) Atomics.store(ctrl, Slot.LAST, k);
}

/**
 * Marks minibatch k done (serial section of barrier C). The coordinator reads DONE when it wakes
 * for progress (every PROGRESS_MS); it is woken here only when the stretch ends. Waking it every
 * minibatch put a futex call on the critical path and the coordinator's thread on a core the
 * workers need: at 16 workers on 16 cores that cost quickstart 40% of its step (measured).
 */
function publishDone(ctrl: Int32Array, k: number, lastOfStretch: boolean): void {
  // a stop requested after barrier B of this minibatch still ends the stretch here, not one later
  if (Atomics.load(ctrl, Slot.STOP_REQUEST) !== 0) Atomics.store(ctrl, Slot.LAST, k);
  Atomics.store(ctrl, Slot.DONE, k + 1);
  // Atomics.notify: the coordinator sleeps on DONE with Atomics.waitAsync
  if (lastOfStretch || Atomics.load(ctrl, Slot.LAST) === k) Atomics.notify(ctrl, Slot.DONE);
}

/**
 * This thread's part of minibatches [k0, k1): returns after the last one, after a stop decided at
 * barrier B, or (without updating) after a divergence. Throws Aborted when another thread failed.
 */
export function runStretch(ctx: WorkerContext, task: StretchTask): void {
  const { plan, control, worker } = ctx;
  const { ctrl, shardLoss, chunkSumsq, timing } = control;
  const parties = plan.input.workers;
  const myShards = plan.shardsOfWorker[worker];
  const chunks = plan.chunksOfWorker[worker];
  const params = plan.paramsOfWorker[worker];
  const grad = plan.activeBlocks[0];
  const tm = worker * PHASES.length;
  const decideK = (k: number) => () => decide(control, k, task);
  // serial section of barrier A: the step's critical path is the slowest worker's BPTT (bench)
  const bookCritical = () => {
    let slowest = 0;
    for (let w = 0; w < parties; w++) slowest = Math.max(slowest, control.computeNow[w]);
    control.critical[0] += slowest;
  };
  for (let k = task.k0; k < task.k1; k++) {
    // a worker's shards share its workspace (deterministic mode): gather and compute one at a time
    let computeMs = 0;
    let t0 = 0, t1 = 0;
    for (const s of myShards) {
      t0 = performance.now();
      gatherShard(ctx, s, k);
      t1 = performance.now();
      timing[tm + PhaseIndex.GATHER] += t1 - t0;
      shardLoss[s] = computeShard(ctx, s, task.carry, task.gradScale, task.step0 + k - task.k0);
      t0 = performance.now();
      computeMs += t0 - t1;
    }
    timing[tm + PhaseIndex.COMPUTE] += computeMs;
    control.computeNow[worker] = computeMs;
    timing[tm + PhaseIndex.WAIT] += barrier(ctrl, parties, bookCritical, ctx.spinMs); // A
    checkAbort(ctrl);
    t0 = performance.now();
    const sums = reduceChunks(ctx, chunks.lo, chunks.hi, plan.activeBlocks);
    for (let c = chunks.lo; c < chunks.hi; c++) chunkSumsq[c] = sums[c - chunks.lo];
    t1 = performance.now();
    timing[tm + PhaseIndex.REDUCE] += t1 - t0;
    timing[tm + PhaseIndex.WAIT] += barrier(ctrl, parties, decideK(k), ctx.spinMs); // B
    checkAbort(ctrl);
    if (Atomics.load(ctrl, Slot.STATUS) === StretchStatus.DIVERGED) return;
    t0 = performance.now();
    if (params.hi > params.lo) {
      applyUpdate(ctx.blas, task.optim, plan.params, grad, plan.optimState, params.lo, params.hi,
        rateOf(control, task, k), control.results[k * RESULT_FIELDS + Result.FACTOR], task.step0 + k - task.k0 + 1);
    }
    t1 = performance.now();
    timing[tm + PhaseIndex.UPDATE] += t1 - t0;
    timing[tm + PhaseIndex.WAIT] += barrier(ctrl, parties, () => publishDone(ctrl, k, k === task.k1 - 1), ctx.spinMs); // C
    checkAbort(ctrl);
    if (Atomics.load(ctrl, Slot.LAST) === k) return;
  }
}
