// When evaluation, samples and checkpoints are due: cadences in epochs, minibatches or seconds
// (config/units.ts), and eval_every auto, which spaces evaluations by their measured cost and, when
// the whole validation tail costs too much for a curve, reads the same subset of it every time.

import { cadenceOf, type TrainConfig } from '../config/schema.js';
import { AUTO_EVAL_MIN_EVALS, AUTO_EVAL_SHARE, type Cadence } from '../config/units.js';
import type { TrainingState } from '../checkpoint/checkpoint.js';
import type { Pace } from './pace.js';

/** eval_every auto: evaluations no closer than this (seconds) ... */
export const AUTO_EVAL_MIN_S = 5;
/** ... nor closer than the run's length over this: at most about this many evaluations in a run. */
export const AUTO_EVAL_MAX_EVALS = 20;

export type CadenceName = 'eval' | 'sample' | 'checkpoint';

/**
 * eval_every auto, for a run of `runS` seconds whose whole validation tail (`totalChunks` chunks)
 * takes `fullS` seconds to read: how many chunks each evaluation reads and how far apart they come.
 * A run with evaluations of e seconds every I seconds (and one at the end) spends e/I + e/runS of its
 * time evaluating; I keeps that at AUTO_EVAL_SHARE. When even AUTO_EVAL_MIN_EVALS whole evaluations
 * would cost more than that share, every evaluation reads the same first chunks of each row of the
 * tail (a subset spread over the whole tail, so the curve stays one measure), as many as fit.
 */
export function autoEvalPlan(fullS: number, runS: number, totalChunks: number): { chunks: number; intervalS: number } {
  const share = AUTO_EVAL_SHARE * runS;
  const chunks = fullS * AUTO_EVAL_MIN_EVALS <= share || fullS <= 0
    ? totalChunks
    : Math.max(1, Math.min(totalChunks, Math.floor((totalChunks * share) / (AUTO_EVAL_MIN_EVALS * fullS))));
  return { chunks, intervalS: autoEvalIntervalS((fullS * chunks) / Math.max(1, totalChunks), runS) };
}

/** Seconds between evaluations of `evalS` each in a run of `runS` (Infinity: only the last one fits). */
export function autoEvalIntervalS(evalS: number, runS: number): number {
  const room = AUTO_EVAL_SHARE - evalS / runS;
  if (room <= 0) return Infinity;
  return Math.max(AUTO_EVAL_MIN_S, Number.isFinite(runS) ? runS / AUTO_EVAL_MAX_EVALS : 0, evalS / room);
}

export class Cadences {
  private readonly of: Record<CadenceName, Cadence>;

  /** `evalS`: what the next evaluation is expected to take (its last timing, or the probe's estimate) */
  constructor(run: TrainConfig['run'], private readonly pace: Pace, private readonly state: TrainingState, private readonly evalS: () => number) {
    this.of = { eval: cadenceOf(run.eval_every), sample: cadenceOf(run.sample_every), checkpoint: cadenceOf(run.checkpoint_every) };
  }

  /** run time at the last evaluation, sample or checkpoint */
  private lastS(name: CadenceName): number {
    return name === 'eval' ? this.state.lastEvalS : name === 'sample' ? this.state.lastSampleS : this.state.lastCheckpointS;
  }

  private secondsOf(c: Cadence): number | null {
    return c.unit === 'second' ? c.n : c.unit === 'auto' ? autoEvalIntervalS(this.evalS(), this.pace.runS()) : null;
  }

  due(name: CadenceName, epochEnded: boolean): boolean {
    const c = this.of[name];
    switch (c.unit) {
      case 'never': return false;
      case 'epoch': return epochEnded && this.state.epoch % c.n === 0;
      case 'minibatch': return this.state.step % c.n === 0;
      // a nanosecond's tolerance: the clock's sums of seconds must not push a due point a minibatch late
      default: return this.pace.elapsed() - this.lastS(name) >= this.secondsOf(c)! - 1e-9;
    }
  }

  /** minibatches until the cadence is next due (Infinity: an epoch cadence, met at the epoch's end) */
  stepsUntil(name: CadenceName): number {
    const c = this.of[name];
    if (c.unit === 'minibatch') return c.n - (this.state.step % c.n);
    const s = this.secondsOf(c);
    if (s === null || !Number.isFinite(s)) return Infinity;
    const r = this.pace.rate();
    return r === null ? 8 : Math.max(1, Math.ceil((this.lastS(name) + s - this.pace.elapsed()) * r - 1e-6));
  }
}
