// The optimizers, as the update phase of a step runs them over one worker's parameter range, on
// the clipped gradient (factor = min(theta/||g||, 1)): D2L's SGD, heavy-ball momentum, Adam and
// AdamW. Their state lives in the shared memory (MemoryPlan.optimState, the parameters' layout),
// is written to checkpoints under "optim.<slot>.<tensor>" and restored on resume, so a resumed
// run is bitwise the uninterrupted one.

import type { Blas } from '../blas/types.js';

/** The optimizers (config/schema.ts offers these for optim.kind). */
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw'] as const;
export type OptimKind = (typeof OPTIMIZERS)[number];

/**
 * The optim section of a config as the optimizers read it: config/schema.ts validates a config into
 * this shape (the optimizers never import the config room).
 */
export interface OptimConfig {
  kind: OptimKind;
  momentum: number;
  betas: readonly [number, number];
  eps: number;
  weight_decay: number;
}

/** What the update phase needs besides lr and the clip factor (scalars only: it crosses threads). */
export interface OptimStep {
  kind: OptimKind;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Plain SGD (D2L's): what the step takes when a caller trains without an optimizer config. */
export const PLAIN_SGD: OptimStep = { kind: 'sgd', momentum: 0, beta1: 0, beta2: 0, eps: 0, weightDecay: 0 };

export function optimStepOf(o: OptimConfig): OptimStep {
  return { kind: o.kind, momentum: o.momentum, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay };
}

/** Names of the state blocks each optimizer keeps (checkpoint tensors "optim.<slot>.<tensor>"). */
export function optimSlots(kind: OptimKind): string[] {
  return kind === 'momentum' ? ['velocity'] : kind === 'adam' || kind === 'adamw' ? ['m', 'v'] : [];
}

/**
 * params[lo, hi) take one step on the clipped gradient factor * g. `t` is the 1-based global step
 * (Adam's bias correction). SGD steps by lr * factor as one scalar (D2L's p -= lr * clip(g)).
 */
export function applyUpdate(blas: Blas, o: OptimStep, params: number, grad: number, state: number[], lo: number, hi: number,
  lr: number, factor: number, t: number): void {
  const n = hi - lo;
  switch (o.kind) {
    case 'sgd':
      blas.axpy(n, -(lr * factor), grad + lo, params + lo);
      return;
    case 'momentum':
      blas.momentumUpdate(n, params + lo, grad + lo, state[0] + lo, lr, o.momentum, factor);
      return;
    case 'adam':
    case 'adamw':
      blas.adamUpdate(n, params + lo, grad + lo, state[0] + lo, state[1] + lo, lr, o.beta1, o.beta2, o.eps,
        1 - o.beta1 ** t, 1 - o.beta2 ** t, factor, o.weightDecay, o.kind === 'adamw');
  }
}
