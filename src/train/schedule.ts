// The learning-rate schedule, by minibatch over the run's horizon.

import type { TrainConfig } from '../config/schema.js';

/**
 * The learning rate of (0-based, global) minibatch `step` in a run of `horizon` minibatches with
 * `perEpoch` minibatches an epoch: warmup (a linear ramp over the first `warmup` minibatches), then
 * the schedule over the rest, so cosine and linear reach min_lr at minibatch horizon - 1.
 */
export function learningRate(optim: TrainConfig['optim'], step: number, horizon: number, perEpoch: number): number {
  const s = optim.schedule;
  const warm = s.warmup > 0 && step < s.warmup ? (step + 1) / s.warmup : 1;
  const p = Math.min(1, Math.max(0, (step - s.warmup) / Math.max(1, horizon - s.warmup - 1)));
  let lr: number;
  switch (s.kind) {
    case 'constant': lr = optim.lr; break;
    case 'step': lr = optim.lr * s.gamma ** Math.floor(step / (s.step_epochs * perEpoch)); break;
    case 'cosine': lr = s.min_lr + ((optim.lr - s.min_lr) * (1 + Math.cos(Math.PI * p))) / 2; break;
    case 'linear': lr = optim.lr - (optim.lr - s.min_lr) * p; break;
  }
  return warm === 1 ? lr : lr * warm;
}
