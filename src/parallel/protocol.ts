// What crosses the thread boundary. Buffers reach a worker once, in WorkerInit (workerData); a
// task carries only indices and scalars.

import type { KernelVariant } from '../blas/loader.js';
import type { Activation } from '../blas/types.js';
import type { PlanInput } from '../train/plan.js';

export interface WorkerInit {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  variant: KernelVariant;
  plan: PlanInput;
  act: Activation;
}

export type Task =
  /** phase 1: run `shards` using workspace `ws` */
  | { kind: 'grad'; ws: number; shards: number[]; carry: boolean; gradScale: number; step: number }
  /** phase 2: reduce chunks [cLo, cHi) of the listed gradient blocks into blocks[0] */
  | { kind: 'reduce'; cLo: number; cHi: number; blocks: number[] }
  /** phase 3: params[lo, hi) -= scale * grad[lo, hi) */
  | { kind: 'update'; lo: number; hi: number; scale: number; grad: number };

export type TaskResult = { losses: number[]; computeMs: number } | { sums: number[] } | { done: true };
