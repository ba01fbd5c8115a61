// The training loop over an Engine, by minibatch. Per stretch (a run of minibatches the workers do
// without the coordinator): write each row's start offset and each minibatch's learning rate into
// the control block (engine/drive.ts) and let the engine's threads run the steps (forward + full BPTT, reduce,
// global L2 norm, clip g <- min(theta/||g||, 1) g, the optimizer's update; engine/step.ts); book each
// completed minibatch's loss and norm from the results table, in order.
//
// How long a run trains is one of: run.epochs, run.minibatches, or run.time_budget (wall clock).
// The learning-rate schedule runs by minibatch over that length (its horizon): for a time budget
// the horizon is estimated from the measured training rate and re-estimated after every stretch, so
// the rate reaches its floor when the budget ends; the last evaluation and checkpoint are reserved
// inside the budget. Evaluation, samples and checkpoints come at cadences in epochs, minibatches
// or seconds (config/units.ts); each evaluation and each epoch end writes a report (metrics.jsonl).
// Stops at a minibatch boundary when asked (signals), leaving a checkpoint to resume.

import type { ModelDesc } from '../model/desc.js';
import { cadenceOf, learningRate, runLength, type RunLength, type TrainConfig } from '../config/schema.js';
import { AUTO_EVAL_SHARE, type Cadence } from '../config/units.js';
import { makeSampler, type Sampler } from '../data/samplers.js';
import { generateSteps } from '../model/generate.js';
import { runSliced, runToEnd, type Steps } from '../util/slices.js';
import { initParams, trainFlopsPerToken } from '../model/params.js';
import { Result, RESULT_FIELDS } from '../engine/control.js';
import type { Engine } from '../engine/engine.js';
import { driveStretch } from '../engine/drive.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Checkpoint, TrainingState } from '../checkpoint/checkpoint.js';
import { loadOptimStateInto, loadParamsInto } from '../checkpoint/checkpoint.js';
import { optimStepOf } from '../optim/optimizers.js';
import { checkSamplePrefixes, type PreparedData } from './data.js';
import { evalChunks, evaluateLoss, evaluateSteps } from './evaluate.js';

/** One row of metrics.jsonl: written at every evaluation and at every epoch end. */
export interface Report {
  /** epochs completed: minibatches / minibatches per epoch (fractional between epoch ends) */
  epoch: number;
  /** minibatches completed (the global step) */
  step: number;
  /** training tokens seen */
  tokens: number;
  elapsed_s: number;
  /** mean training loss, nats per character, over the minibatches since the last report */
  train_loss: number;
  train_ppl: number;
  /** validation loss, nats per character, over the whole validation tail; null: not evaluated here */
  val_loss: number | null;
  /** exp(val_loss); null when not evaluated, or when it overflows (val_loss is then the number) */
  val_ppl: number | null;
  /** how the validation tail is read: consecutively in T-step chunks with the state carried */
  val_mode: 'carried' | null;
  /** the learning rate of the last minibatch */
  lr: number;
  tokens_per_s: number;
  gflops: number;
  /** mean gradient norm before clipping, and the fraction of minibatches clipped */
  grad_norm: number;
  clipped_fraction: number;
  /** training wall time of the interval, seconds (evaluation and checkpoints excluded) */
  interval_s: number;
  /** wall time of this report's evaluation, seconds */
  eval_s: number | null;
}

export interface Progress {
  epoch: number;
  /** minibatch within the epoch (1-based) and minibatches per epoch */
  minibatch: number;
  perEpoch: number;
  step: number;
  /** the schedule's horizon in minibatches (estimated for a time budget) */
  horizon: number;
  runningPpl: number;
  tokensPerS: number;
  /** seconds until the run ends (estimated) */
  etaS: number;
}

export interface TrainHooks {
  onReport?(m: Report): void;
  /** the trainer's one rule for "best": a finite validation loss strictly below every earlier one */
  onBest?(state: TrainingState): void;
  onSamples?(step: number, epoch: number, samples: string[]): void;
  /** called with the state to persist; `reason` says why */
  onCheckpoint?(state: TrainingState, reason: 'periodic' | 'final' | 'interrupted'): void;
  /** polled at every minibatch boundary; the stop takes effect after the minibatch in flight */
  shouldStop?(): boolean;
  /** stop (as if interrupted) exactly when state.step reaches this global minibatch count */
  stopAtStep?: number;
  onProgress?(p: Progress): void;
  /** called as the coordinator starts an evaluation or a round of samples between stretches */
  onPhase?(phase: 'evaluation' | 'sampling'): void;
}

export interface TrainerOptions {
  /** seconds, monotonic; tests pass a fake clock (time budgets, cadences in seconds) */
  clock?: () => number;
}

export class DivergenceError extends InputError {}

/** The sampler RNG's seed, derived from the run seed so init and sampling streams differ. */
function samplerSeed(seed: number): number {
  return (seed ^ 0x5bd1e995) >>> 0;
}

/** run.eval_every auto (at most AUTO_EVAL_SHARE of the run) evaluates no more often than this (seconds). */
export const AUTO_EVAL_MIN_S = 60;
/** A mean training loss above this many times a uniform guess's (ln V) is divergence, not learning. */
export const DIVERGED_LOSS_FACTOR = 4;
/** A time budget's horizon estimate is kept until a new one differs by more than this fraction. */
const HORIZON_SLACK = 0.002;
/** Stretches of a time-budgeted run last about this long, so the horizon is re-estimated often. */
const BUDGET_STRETCH_S = 2;

/** The time kept free at the end of a budget for the last evaluation and checkpoint, seconds. */
export function budgetReserveS(state: TrainingState, estimatedEvalS = 0): number {
  return (state.evalS ?? estimatedEvalS) * 1.25 + 0.5;
}

/** A time-budgeted run has used its budget (it stops training once what is left is the reserve). */
export function budgetSpent(state: TrainingState, budgetS: number): boolean {
  return state.elapsedS >= budgetS - budgetReserveS(state);
}

/** The one rule for "best": finite and strictly below the best so far. */
export function isBetter(valLoss: number | null, best: number | null): boolean {
  return valLoss !== null && Number.isFinite(valLoss) && (best === null || valLoss < best);
}

export class Trainer {
  readonly sampler: Sampler;
  /** the model trained: the engine's plan's (modelOf the config) */
  private readonly model: ModelDesc;
  readonly length: RunLength;
  state: TrainingState;
  /** set when run.early_stop ended the run before its length */
  stoppedEarly = false;
  /** the sampler RNG; its state at each epoch start goes into the checkpoint */
  private rng: Rng;
  private readonly clock: () => number;

  /** `resume`: continue its training state; `initFrom`: a new run starting from its weights */
  constructor(readonly config: TrainConfig, readonly data: PreparedData, readonly engine: Engine, resume?: Checkpoint, initFrom?: Checkpoint,
    opts: TrainerOptions = {}) {
    this.clock = opts.clock ?? (() => performance.now() / 1000);
    this.model = engine.plan.input.model;
    this.length = runLength(config.run);
    this.sampler = makeSampler(config.data.sampler, data.train, config.data.batch, config.data.steps, config.data.epoch_offset === 'random');
    if (this.sampler.batchesPerEpoch === 0) throw new InputError('the training text is too short for one minibatch');
    const heap = engine.blas.f;
    const plan = engine.plan;
    checkSamplePrefixes(config, data);
    if (resume) {
      if (!resume.training) throw new InputError(`checkpoint ${resume.path}: has no training state to resume from`);
      loadParamsInto(resume, heap, plan.params);
      loadOptimStateInto(resume, config.optim.kind, heap, plan.optimState);
      if (resume.carriedState) heap.set(resume.carriedState, plan.state.offset);
      this.state = { ...resume.training };
      // a checkpoint from before validation losses were kept: its best perplexity says the same
      if (this.state.bestValLoss === null && this.state.bestValPpl !== null) this.state.bestValLoss = Math.log(this.state.bestValPpl);
      this.rng = new Rng(this.state.epochRng);
    } else {
      if (initFrom) {
        loadParamsInto(initFrom, heap, plan.params);
      } else {
        const init = new Rng(config.run.seed);
        initParams(plan.layout, heap, plan.params, () => init.normal(), config.model.init_scale);
      }
      this.rng = new Rng(samplerSeed(config.run.seed));
      this.state = {
        epoch: 0, minibatch: 0, epochRng: this.rng.state(), reportLossSum: 0, reportTokens: 0,
        reportNormSum: 0, reportClipped: 0, elapsedS: 0, bestValPpl: null, evalsSinceBest: 0, step: 0,
        bestValLoss: null, bestStep: null, horizon: null, lastEvalS: 0, lastSampleS: 0, lastCheckpointS: 0, evalS: null,
        reportDue: null,
      };
    }
  }

  /** the carried state table (consecutive sampling: h, and c for the LSTM), copied for a checkpoint */
  carriedState(): Float32Array | null {
    if (this.sampler.kind !== 'consecutive') return null;
    const { offset, size } = this.engine.plan.state;
    return this.engine.blas.f.slice(offset, offset + size);
  }

  /** Mean validation loss in nats per character (the whole tail, state carried), or null without a split. */
  validationLoss(): number | null {
    return runToEnd(this.evaluation());
  }

  /** validationLoss as steps, one per chunk: the run takes them in slices, so a signal stops it. */
  *evaluation(): Steps<number | null> {
    const { evalWs, P } = this.engine.plan;
    if (!this.data.val || !evalWs) return null;
    return yield* evaluateSteps(this.engine.blas, this.model, P, evalWs, this.data.val);
  }

  /**
   * The seconds a whole evaluation will take, from timing its first chunk (before the first real
   * one: eval_every auto spaces evaluations by their cost). 0 without a validation split.
   */
  probeEvalS(): number {
    const { evalWs, P } = this.engine.plan;
    if (!this.data.val || !evalWs) return 0;
    const t0 = this.clock();
    evaluateLoss(this.engine.blas, this.model, P, evalWs, this.data.val, 1);
    return (this.clock() - t0) * evalChunks(this.data.val.length, evalWs.shape.T, evalWs.shape.B);
  }

  /** exp(validation loss) */
  validationPerplexity(): number | null {
    const loss = this.validationLoss();
    return loss === null ? null : Math.exp(loss);
  }

  samples(step = this.state.step): string[] {
    return runToEnd(this.sampling(step));
  }

  /** samples as steps, one per character. */
  *sampling(step = this.state.step): Steps<string[]> {
    const r = this.config.run;
    const prefixes = r.sample_prefixes.length > 0 ? r.sample_prefixes : [this.data.vocab.decode(this.data.train.subarray(0, 1))];
    const { sampleWs, P } = this.engine.plan;
    // a fresh stream per sampling point: samples are reproducible and do not depend on how often they were taken
    const rng = new Rng((r.seed * 2654435761 + step) >>> 0);
    const out: string[] = [];
    for (const p of prefixes) {
      out.push(yield* generateSteps(this.engine.blas, this.model, P, sampleWs, this.data.vocab, p,
        { length: r.sample_length, temperature: r.sample_temperature, topK: 0, rng }));
    }
    return out;
  }

  /** Minibatches per epoch. */
  get perEpoch(): number {
    return this.sampler.batchesPerEpoch;
  }

  /**
   * The schedule's horizon: minibatches the run will train. For a time budget, the latest estimate
   * (Infinity before the first: the schedule then stays at its start, after any warmup).
   */
  horizon(): number {
    switch (this.length.kind) {
      case 'epochs': return this.length.n * this.perEpoch;
      case 'minibatches': return this.length.n;
      case 'time': return this.state.horizon ?? Infinity;
    }
  }

  /** Runs to the run's length or until hooks.shouldStop(); returns true when the run ended (length or early stop). */
  async run(hooks: TrainHooks = {}): Promise<boolean> {
    const { config, engine, sampler, state } = this;
    const { steps: T, batch: B } = config.data;
    const { clip } = config.optim;
    const run = config.run;
    const plan = engine.plan;
    const { results, lrs } = engine.control;
    const flopsPerToken = trainFlopsPerToken(this.model);
    const carry = sampler.kind === 'consecutive';
    const gradScale = 1 / (T * B);
    const optim = optimStepOf(config.optim);
    const perEpoch = this.perEpoch;
    const length = this.length;
    const budgetS = length.kind === 'time' ? length.seconds : Infinity;
    const cadences = { eval: cadenceOf(run.eval_every), sample: cadenceOf(run.sample_every), checkpoint: cadenceOf(run.checkpoint_every) };
    const uniformLoss = Math.log(this.data.vocab.size);
    const t0 = this.clock() - state.elapsedS;
    const elapsed = () => this.clock() - t0;
    // the training rate of this process (minibatches per second of stretch time): budgets, ETA, cadences
    let trainedS = 0, trainedSteps = 0;
    const rate = () => (trainedSteps > 0 && trainedS > 0 ? trainedSteps / trainedS : null);
    // this interval's tokens and training seconds in this process (tokens/s of a resumed interval)
    let intervalTokens = 0, intervalS = 0;
    // before the first evaluation, its cost is estimated from one chunk of it (reserve, eval_every auto)
    const probedEvalS = state.evalS === null && (length.kind === 'time' || cadenceOf(run.eval_every).unit === 'auto') ? this.probeEvalS() : 0;
    const reserveS = () => budgetReserveS(state, probedEvalS);
    const estimateHorizon = () => {
      const r = rate();
      if (length.kind !== 'time' || r === null) return;
      const next = state.step + Math.max(0, Math.floor(r * (budgetS - reserveS() - elapsed())));
      // the estimate moves only when it is off by more than HORIZON_SLACK: the schedule does not
      // jitter with timing noise, and a resumed run keeps the horizon its checkpoint had
      if (state.horizon === null || Math.abs(next - state.horizon) > Math.max(1, HORIZON_SLACK * state.horizon)) state.horizon = next;
    };
    const timeUp = () => length.kind === 'time' && elapsed() >= budgetS - reserveS();
    const ended = () => state.step >= this.horizon() || timeUp();
    // eval_every auto: a run of D seconds with evaluations of e seconds every I seconds (and one at the
    // end) spends e/I + e/D of its time evaluating; I is chosen to keep that at AUTO_EVAL_SHARE
    // (no evaluation before the end when even the last one alone takes more)
    const runS = () => {
      const r = rate();
      return length.kind === 'time' ? budgetS : r === null ? Infinity : this.horizon() / r;
    };
    const autoEvalS = () => {
      const e = state.evalS ?? probedEvalS;
      const room = AUTO_EVAL_SHARE - e / runS();
      return room <= 0 ? Infinity : Math.max(AUTO_EVAL_MIN_S, e / room);
    };
    const secondsOf = (c: Cadence): number | null => (c.unit === 'second' ? c.n : c.unit === 'auto' ? autoEvalS() : null);
    const due = (c: Cadence, lastS: number, epochEnded: boolean) => {
      switch (c.unit) {
        case 'never': return false;
        case 'epoch': return epochEnded && state.epoch % c.n === 0;
        case 'minibatch': return state.step % c.n === 0;
        // a nanosecond's tolerance: the clock's sums of seconds must not push a due point a minibatch late
        default: return elapsed() - lastS >= secondsOf(c)! - 1e-9;
      }
    };
    /** minibatches until a cadence is next due (Infinity: an epoch cadence, met at the epoch's end) */
    const stepsUntil = (c: Cadence, lastS: number) => {
      if (c.unit === 'minibatch') return c.n - (state.step % c.n);
      const s = secondsOf(c);
      if (s === null) return Infinity;
      const r = rate();
      return r === null ? 8 : Math.max(1, Math.ceil((lastS + s - elapsed()) * r - 1e-6));
    };
    let epochStarted = false;
    const stopRequested = () => hooks.shouldStop?.() ?? false;
    /** a stop asked for during evaluation or sampling: the state is at a minibatch boundary, checkpoint it */
    const interrupted = () => {
      state.elapsedS = elapsed();
      hooks.onCheckpoint?.(state, 'interrupted');
      return false;
    };
    const progressOf = (runningPpl: number, tokensPerS: number): Progress => {
      const r = rate();
      const etaS = length.kind === 'time' ? budgetS - elapsed() : r === null ? Infinity : (this.horizon() - state.step) / r;
      return { epoch: state.epoch + 1, minibatch: state.minibatch, perEpoch, step: state.step, horizon: this.horizon(), runningPpl, tokensPerS, etaS };
    };

    /**
     * After a stretch (or, on resume, for the report a stop cut short): the report if one is due (with
     * an evaluation if that is due), best, samples, the final or periodic checkpoint. true/false: the
     * run ended / was interrupted; null: train on.
     */
    const settle = async (epochEnded: boolean, lr: number, evalCut: boolean): Promise<boolean | null> => {
      const final = ended();
      const evalNow = final || evalCut || due(cadences.eval, state.lastEvalS, epochEnded);
      if (evalNow || epochEnded) {
        let valLoss: number | null = null, evalS: number | null = null;
        if (evalNow) {
          const e0 = this.clock();
          hooks.onPhase?.('evaluation');
          const v = await runSliced(this.evaluation(), stopRequested);
          if (v === null && stopRequested()) {
            state.reportDue = { epochEnded, lr, intervalTokens, intervalS };
            return interrupted();
          }
          valLoss = v;
          evalS = this.clock() - e0;
          if (valLoss !== null) state.evalS = evalS;
        }
        const report = this.report({ valLoss, evalS, lr, flopsPerToken, intervalTokens, intervalS, elapsedS: elapsed() });
        intervalTokens = 0;
        intervalS = 0;
        state.reportDue = null;
        if (report.train_loss > DIVERGED_LOSS_FACTOR * uniformLoss) {
          hooks.onReport?.(report);
          throw this.divergence(`by minibatch ${state.step}: the mean training loss is ${report.train_loss.toPrecision(4)} nats per character, ` +
            `more than ${DIVERGED_LOSS_FACTOR} times a uniform guess's ${uniformLoss.toPrecision(3)}`, report.lr, false);
        }
        if (evalNow) state.lastEvalS = elapsed();
        state.elapsedS = elapsed();
        hooks.onReport?.(report);
        if (report.val_loss !== null) {
          if (isBetter(report.val_loss, state.bestValLoss)) {
            state.bestValLoss = report.val_loss;
            state.bestValPpl = Math.exp(report.val_loss);
            state.bestStep = state.step;
            state.evalsSinceBest = 0;
            hooks.onBest?.(state);
          } else state.evalsSinceBest++;
        }
      }
      if (due(cadences.sample, state.lastSampleS, epochEnded)) {
        hooks.onPhase?.('sampling');
        const samples = await runSliced(this.sampling(), stopRequested);
        if (samples === null) return interrupted();
        hooks.onSamples?.(state.step, state.step / perEpoch, samples);
        state.lastSampleS = elapsed();
      }
      const stopEarly = run.early_stop > 0 && state.evalsSinceBest >= run.early_stop;
      state.elapsedS = elapsed();
      if (final || stopEarly) {
        hooks.onCheckpoint?.(state, 'final');
        this.stoppedEarly = stopEarly && !final;
        return true;
      }
      if (due(cadences.checkpoint, state.lastCheckpointS, epochEnded)) {
        state.lastCheckpointS = elapsed();
        hooks.onCheckpoint?.(state, 'periodic');
      }
      return null;
    };
    // a report cut short by the stop that ended the last process comes first (its evaluation was cut)
    if (state.reportDue) {
      ({ intervalTokens, intervalS } = state.reportDue);
      const settled = await settle(state.reportDue.epochEnded, state.reportDue.lr, true);
      if (settled !== null) return settled;
    }

    while (!ended()) {
      if (hooks.shouldStop?.() || (hooks.stopAtStep !== undefined && state.step >= hooks.stopAtStep)) {
        state.elapsedS = elapsed();
        hooks.onCheckpoint?.(state, 'interrupted');
        return false;
      }
      if (!epochStarted) {
        if (state.minibatch === 0) {
          state.epochRng = this.rng.state();
          if (carry) engine.blas.fill(plan.state.size, 0, plan.state.offset); // a fresh state each epoch (D2L)
        }
        this.rng = new Rng(state.epochRng);
        sampler.startEpoch(this.rng);
        epochStarted = true;
      }
      const first = state.minibatch;
      const r = rate();
      const count = Math.max(1, Math.min(
        perEpoch - first, engine.maxStretch,
        (hooks.stopAtStep ?? Infinity) - state.step,
        this.horizon() - state.step,
        length.kind === 'time' ? (r === null ? 8 : Math.max(1, Math.round(r * BUDGET_STRETCH_S))) : Infinity,
        stepsUntil(cadences.eval, state.lastEvalS), stepsUntil(cadences.sample, state.lastSampleS),
        stepsUntil(cadences.checkpoint, state.lastCheckpointS),
      ));
      const horizon = this.horizon();
      const step0 = state.step;
      let booked = 0;
      const stretchT0 = this.clock();
      const book = (done: number) => {
        for (; booked < done; booked++) {
          const row = booked * RESULT_FIELDS;
          const norm = results[row + Result.NORM];
          state.reportLossSum += results[row + Result.LOSS];
          state.reportTokens += T * B;
          intervalTokens += T * B;
          state.reportNormSum += norm;
          state.reportClipped += results[row + Result.FACTOR] < 1 ? 1 : 0;
          state.minibatch = first + booked + 1;
          state.step++;
        }
        if (hooks.onProgress) {
          const dt = intervalS + (this.clock() - stretchT0);
          hooks.onProgress(progressOf(Math.exp(state.reportLossSum / Math.max(1, state.reportTokens)), intervalTokens / Math.max(1e-9, dt)));
        }
        if (hooks.shouldStop?.() || timeUp()) engine.requestStop();
      };
      const outcome = await driveStretch(engine, {
        sampler, count, minibatch: (k) => first + k, lr: (k) => learningRate(config.optim, step0 + k, horizon, perEpoch),
        task: { carry, gradScale, clipTheta: clip, optim, step0 },
      }, book);
      book(outcome.done);
      const stretchS = this.clock() - stretchT0;
      trainedS += stretchS;
      trainedSteps += outcome.done;
      intervalS += stretchS;
      if (outcome.divergedAt !== null) {
        const k = outcome.divergedAt;
        const loss = results[k * RESULT_FIELDS + Result.LOSS];
        const norm = results[k * RESULT_FIELDS + Result.NORM];
        const what = `${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? norm : loss}`;
        throw this.divergence(`at epoch ${state.epoch + 1}, minibatch ${first + k + 1}: ${what}`, lrs[k], state.step === 0);
      }
      estimateHorizon();
      const epochEnded = state.minibatch === perEpoch;
      if (epochEnded) {
        state.epoch++;
        state.minibatch = 0;
        state.epochRng = this.rng.state();
        epochStarted = false;
      }
      const settled = await settle(epochEnded, lrs[Math.max(0, outcome.done - 1)], false);
      if (settled !== null) return settled;
    }
    // the run's length was already reached (a resumed complete run): nothing trained
    return true;
  }

  /** The interval's report (and its accumulators reset), with the evaluation the run just made, if any. */
  private report(a: { valLoss: number | null; evalS: number | null; lr: number; flopsPerToken: number; intervalTokens: number; intervalS: number; elapsedS: number }): Report {
    const { state } = this;
    const { valLoss, evalS } = a;
    const minibatches = state.reportTokens / (this.config.data.steps * this.config.data.batch);
    const trainLoss = state.reportLossSum / Math.max(1, state.reportTokens);
    const tokensPerS = a.intervalTokens / Math.max(1e-9, a.intervalS);
    const report: Report = {
      epoch: state.step / this.perEpoch,
      step: state.step,
      tokens: state.step * this.config.data.steps * this.config.data.batch,
      elapsed_s: a.elapsedS,
      train_loss: trainLoss,
      train_ppl: Math.exp(trainLoss),
      val_loss: valLoss,
      val_ppl: valLoss === null || !Number.isFinite(Math.exp(valLoss)) ? null : Math.exp(valLoss),
      val_mode: valLoss === null ? null : 'carried',
      lr: a.lr,
      tokens_per_s: tokensPerS,
      gflops: (tokensPerS * a.flopsPerToken) / 1e9,
      grad_norm: state.reportNormSum / Math.max(1, minibatches),
      clipped_fraction: state.reportClipped / Math.max(1, minibatches),
      interval_s: a.intervalS,
      eval_s: evalS,
    };
    Object.assign(state, { reportLossSum: 0, reportTokens: 0, reportNormSum: 0, reportClipped: 0 });
    return report;
  }

  /** Divergence named with its cause: before any update only the initialization, after it the step size. */
  private divergence(where: string, lr: number, beforeAnyUpdate: boolean): DivergenceError {
    const { config } = this;
    const cause = beforeAnyUpdate
      ? `the initial parameters already overflow: lower model.init_scale (now ${config.model.init_scale})`
      : config.optim.kind === 'sgd'
        ? `an update of size lr x clip = ${lr * config.optim.clip} pushed the parameters out of range: lower optim.lr (now ${lr}) or optim.clip (now ${config.optim.clip})`
        : `${config.optim.kind} at learning rate ${lr} moved the parameters too far: lower optim.lr (${config.optim.kind} usually wants 1e-4 to 1e-2)`;
    return new DivergenceError(`training diverged ${where}; ${cause}; no checkpoint is written for this point (an earlier one, if any, stays as it was)`, 1);
  }
}
