// When evaluation, samples and checkpoints are due: cadences in epochs, minibatches or seconds
// (config/units.ts), and eval_every auto, which spaces evaluations by their measured cost.

import { cadenceOf, type TrainConfig } from '../config/schema.js';
import { AUTO_EVAL_SHARE, type Cadence } from '../config/units.js';
import type { TrainingState } from '../checkpoint/checkpoint.js';
import type { Pace } from './pace.js';

/** run.eval_every auto (at most AUTO_EVAL_SHARE of the run) evaluates no more often than this (seconds). */
export const AUTO_EVAL_MIN_S = 60;

export type CadenceName = 'eval' | 'sample' | 'checkpoint';

export class Cadences {
  private readonly of: Record<CadenceName, Cadence>;

  constructor(run: TrainConfig['run'], private readonly pace: Pace, private readonly state: TrainingState) {
    this.of = { eval: cadenceOf(run.eval_every), sample: cadenceOf(run.sample_every), checkpoint: cadenceOf(run.checkpoint_every) };
  }

  /** run time at the last evaluation, sample or checkpoint */
  private lastS(name: CadenceName): number {
    return name === 'eval' ? this.state.lastEvalS : name === 'sample' ? this.state.lastSampleS : this.state.lastCheckpointS;
  }

  /**
   * eval_every auto: a run of D seconds with evaluations of e seconds every I seconds (and one at
   * the end) spends e/I + e/D of its time evaluating; I keeps that at AUTO_EVAL_SHARE (no
   * evaluation before the end when even the last one alone takes more).
   */
  private autoEvalS(): number {
    const e = this.state.evalS ?? this.pace.probedEvalS;
    const room = AUTO_EVAL_SHARE - e / this.pace.runS();
    return room <= 0 ? Infinity : Math.max(AUTO_EVAL_MIN_S, e / room);
  }

  private secondsOf(c: Cadence): number | null {
    return c.unit === 'second' ? c.n : c.unit === 'auto' ? this.autoEvalS() : null;
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
    if (s === null) return Infinity;
    const r = this.pace.rate();
    return r === null ? 8 : Math.max(1, Math.ceil((this.lastS(name) + s - this.pace.elapsed()) * r - 1e-6));
  }
}
