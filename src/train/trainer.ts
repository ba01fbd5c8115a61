// The training loop over an Engine, by minibatch. Per stretch (a run of minibatches the workers do
// without the coordinator): write each row's start offset and each minibatch's learning rate into
// the control block (engine/drive.ts) and let the engine's threads run the steps (forward + full BPTT, reduce,
// global L2 norm, clip g <- min(theta/||g||, 1) g, the optimizer's update; engine/step.ts); book each
// completed minibatch's loss and norm from the results table, in order. After each stretch, settle:
// the report (with an evaluation when due), best, samples, checkpoints.
//
// What the loop reads lives beside it, each with one job: the run's length and what a resume may
// ask (length.ts), its pace (pace.ts: clock, rate, the horizon a time budget estimates as it goes,
// so the schedule.ts rate reaches its floor when the budget ends, the last evaluation reserved
// inside it), the cadences of evaluation, samples and checkpoints (cadences.ts), and where the run
// starts (start.ts places it in memory before the Trainer exists). Stops at a minibatch boundary
// when asked (signals), leaving a checkpoint to resume.

import type { ModelDesc } from '../model/desc.js';
import { cadenceOf, type TrainConfig } from '../config/schema.js';
import { makeSampler, type Sampler } from '../data/samplers.js';
import { generateSteps } from '../model/generate.js';
import { runSliced, runToEnd, type Steps } from '../util/slices.js';
import { trainFlopsPerToken } from '../model/params.js';
import { Result, RESULT_FIELDS } from '../engine/control.js';
import type { Engine, StretchOutcome } from '../engine/engine.js';
import { driveStretch } from '../engine/drive.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { TrainingState } from '../checkpoint/checkpoint.js';
import { optimStepOf, type OptimStep } from '../optim/optimizers.js';
import type { PreparedData } from './data.js';
import { evalChunks, evaluateLoss, evaluateSteps } from './evaluate.js';
import { autoEvalPlan, Cadences } from './cadences.js';
import { budgetReserveS, runLength, type RunLength } from './length.js';
import { formatDuration } from '../util/format.js';
import { horizonOf, Pace } from './pace.js';
import { learningRate } from './schedule.js';

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
  /** validation loss, nats per character, over the validation tail (or the subset val_mode says); null: not evaluated here */
  val_loss: number | null;
  /** exp(val_loss); null when not evaluated, or when it overflows (val_loss is then the number) */
  val_ppl: number | null;
  /** how the validation tail is read: consecutively in T-step chunks with the state carried; the
   *  whole tail, or (carried-subset) the same first chunks of each row every time (eval_every auto) */
  val_mode: 'carried' | 'carried-subset' | null;
  /** validation characters the evaluation read (null: not evaluated here) */
  val_chars: number | null;
  /** the learning rate of the last minibatch */
  lr: number;
  tokens_per_s: number;
  gflops: number;
  /** gradient norm before clipping over the interval's minibatches: mean, median, largest; and the fraction clipped */
  grad_norm: number;
  grad_norm_median: number;
  grad_norm_max: number;
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
  /** mean training loss since the last report, nats per character (the unit of the report lines), and exp of it */
  runningLoss: number;
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

/** A mean training loss above this many times a uniform guess's (ln V) is divergence, not learning. */
export const DIVERGED_LOSS_FACTOR = 4;
/** Stretches of a time-budgeted run last about this long, so the horizon is re-estimated often. */
const BUDGET_STRETCH_S = 2;

/** The middle value (the mean of the two middle ones), null for none. */
function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The one rule for "best": finite and strictly below the best so far. */
export function isBetter(valLoss: number | null, best: number | null): boolean {
  return valLoss !== null && Number.isFinite(valLoss) && (best === null || valLoss < best);
}

/** What one Trainer.run works with: its hooks, pace and cadences, and the interval since the last report. */
interface RunContext {
  hooks: TrainHooks;
  pace: Pace;
  cadences: Cadences;
  /** training tokens and seconds of this interval in this process (tokens/s of a resumed interval) */
  interval: { tokens: number; seconds: number };
  flopsPerToken: number;
  optim: OptimStep;
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
  /** probed cost of the first evaluation (firstEvalEstimateS) */
  private probedEvalS: number | null = null;
  /** the current epoch's sampler order is drawn (per process: a resumed run draws it again from epochRng) */
  private epochStarted = false;
  /** gradient norms of the minibatches of the report interval trained by this process (their median) */
  private intervalNorms: number[] = [];

  /**
   * The engine's memory already holds the start (train/start.ts placeStart); `resumeState` is the
   * training state a resume continues (null: a new run).
   */
  constructor(readonly config: TrainConfig, readonly data: PreparedData, readonly engine: Engine, resumeState: TrainingState | null = null,
    opts: TrainerOptions = {}) {
    this.clock = opts.clock ?? (() => performance.now() / 1000);
    this.model = engine.plan.input.model;
    this.length = runLength(config.run);
    this.sampler = makeSampler(config.data.sampler, data.train, config.data.batch, config.data.steps, config.data.epoch_offset === 'random');
    if (this.sampler.batchesPerEpoch === 0) throw new InputError('the training text is too short for one minibatch');
    if (resumeState) {
      // a state past the end of an epoch would never reach the epoch's end (a tampered or foreign checkpoint)
      if (resumeState.minibatch >= this.sampler.batchesPerEpoch) {
        throw new InputError(`the checkpoint's training state is at minibatch ${resumeState.minibatch} of an epoch that has ${this.sampler.batchesPerEpoch}; it is not this run's`);
      }
      this.state = { ...resumeState };
      this.rng = new Rng(this.state.epochRng);
    } else {
      this.rng = new Rng(samplerSeed(config.run.seed));
      this.state = {
        epoch: 0, minibatch: 0, epochRng: this.rng.state(), reportLossSum: 0, reportTokens: 0,
        reportNormSum: 0, reportClipped: 0, elapsedS: 0, bestValPpl: null, evalsSinceBest: 0, step: 0,
        bestValLoss: null, bestStep: null, horizon: null, lastEvalS: 0, lastSampleS: 0, lastCheckpointS: 0, evalS: null,
        reportDue: null, reportNormMax: 0, evalChunks: null,
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
    return yield* evaluateSteps(this.engine.blas, this.model, P, evalWs, this.data.val, this.state.evalChunks ?? Infinity);
  }

  /** T-step chunks of each row in a whole evaluation of the validation tail (0 without one). */
  get totalEvalChunks(): number {
    const { evalWs } = this.engine.plan;
    return this.data.val && evalWs ? evalChunks(this.data.val.length, evalWs.shape.T, evalWs.shape.B) : 0;
  }

  /** What an evaluation reads when it reads a subset: its rows, T and chunks (null: the whole tail, or no choice yet). */
  evalSubset(): { rows: number; T: number; chunks: number } | null {
    const { evalWs } = this.engine.plan;
    const chunks = this.state.evalChunks;
    if (!evalWs || chunks === null || chunks >= this.totalEvalChunks) return null;
    return { rows: evalWs.shape.B, T: evalWs.shape.T, chunks };
  }

  /** Validation characters an evaluation reads: all of the tail's chunks, or the subset chosen. */
  evalChars(): number {
    const { evalWs } = this.engine.plan;
    if (!this.data.val || !evalWs) return 0;
    const chunks = Math.min(this.state.evalChunks ?? Infinity, this.totalEvalChunks);
    return chunks === this.totalEvalChunks ? this.data.val.length : chunks * evalWs.shape.T * evalWs.shape.B;
  }

  /**
   * eval_every auto: chooses, once per run, how much of the validation tail every evaluation reads
   * (autoEvalPlan), as soon as the run's length in seconds is known (a budget's at once, a run by
   * epochs' from its rate). A run that evaluated before this existed, or with a cadence of its own,
   * reads the whole tail.
   */
  chooseEvalSubset(runS: number): void {
    const total = this.totalEvalChunks;
    if (this.state.evalChunks !== null || total === 0) return;
    if (cadenceOf(this.config.run.eval_every).unit !== 'auto' || this.state.evalS !== null) { this.state.evalChunks = total; return; }
    if (!Number.isFinite(runS)) return;
    this.state.evalChunks = autoEvalPlan(this.firstEvalEstimateS(), runS, total).chunks;
  }

  /** What the next evaluation should take: the last one's time, or the probe's estimate for the chunks it reads. */
  expectedEvalS(): number {
    if (this.state.evalS !== null) return this.state.evalS;
    const total = this.totalEvalChunks;
    return total === 0 ? 0 : (this.firstEvalEstimateS() * Math.min(this.state.evalChunks ?? total, total)) / total;
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

  /** the first evaluation's cost, probed once, where a budget or eval_every auto needs it before one is timed (else 0) */
  private firstEvalEstimateS(): number {
    const needed = this.state.evalS === null && (this.length.kind === 'time' || cadenceOf(this.config.run.eval_every).unit === 'auto');
    this.probedEvalS ??= needed ? this.probeEvalS() : 0;
    return this.probedEvalS;
  }

  /**
   * A new time-budgeted run must have time to train: the reserve for its last evaluation (probed on
   * one chunk of it) must leave some of the budget. Throws InputError otherwise: call it before
   * anything is written.
   */
  checkBudget(): void {
    if (this.length.kind !== 'time' || this.state.step > 0) return;
    this.chooseEvalSubset(this.length.seconds);
    const evalS = this.expectedEvalS();
    const reserveS = budgetReserveS(this.state, evalS);
    if (this.length.seconds > reserveS) return;
    const val = this.data.val?.length ?? 0;
    throw new InputError(`run.time_budget ${this.config.run.time_budget} leaves no time to train: the last evaluation ` +
      `(about ${evalS.toFixed(1)} s on ${val.toLocaleString('en-US')} validation characters) is reserved at the end of the budget, ` +
      `${reserveS.toFixed(1)} s with its margin; give at least ${formatDuration(Math.ceil(2 * reserveS + 5))}, or hold out less (data.val_fraction)`);
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
    return horizonOf(this.length, this.perEpoch, this.state);
  }

  /** Runs to the run's length or until hooks.shouldStop(); returns true when the run ended (length or early stop). */
  async run(hooks: TrainHooks = {}): Promise<boolean> {
    const { config, state } = this;
    this.epochStarted = false;
    // before the first evaluation, its cost is estimated from one chunk of it (reserve, eval_every auto)
    if (this.length.kind === 'time') this.chooseEvalSubset(this.length.seconds);
    const pace = new Pace(this.length, this.perEpoch, state, this.clock, this.expectedEvalS());
    const ctx: RunContext = {
      hooks, pace, cadences: new Cadences(config.run, pace, state, () => this.expectedEvalS()), interval: { tokens: 0, seconds: 0 },
      flopsPerToken: trainFlopsPerToken(this.model), optim: optimStepOf(config.optim),
    };
    // a report cut short by the stop that ended the last process comes first (its evaluation was cut)
    if (state.reportDue) {
      ctx.interval = { tokens: state.reportDue.intervalTokens, seconds: state.reportDue.intervalS };
      const settled = await this.settle(ctx, state.reportDue.epochEnded, state.reportDue.lr, true);
      if (settled !== null) return settled;
    }
    // the run's length was already reached (a resumed complete run): nothing trained
    if (pace.ended()) return true;
    // Only settle decides that the run has ended, once per stretch, and then writes the final
    // evaluation and checkpoint. A second reading of the clock here could cross the budget after
    // settle's (a stall, a slow periodic checkpoint) and end the run with neither.
    for (;;) {
      if (hooks.shouldStop?.() || (hooks.stopAtStep !== undefined && state.step >= hooks.stopAtStep)) return this.interrupted(ctx);
      this.startEpoch();
      const outcome = await this.trainStretch(ctx, this.stretchLength(ctx));
      pace.estimateHorizon();
      const epochEnded = state.minibatch === this.perEpoch;
      if (epochEnded) {
        state.epoch++;
        state.minibatch = 0;
        state.epochRng = this.rng.state();
        this.epochStarted = false;
      }
      const settled = await this.settle(ctx, epochEnded, this.engine.control.lrs[Math.max(0, outcome.done - 1)], false);
      if (settled !== null) return settled;
    }
  }

  /** At a minibatch boundary: the state checkpointed as it is, to resume from; the run did not end. */
  private interrupted(ctx: RunContext): false {
    this.state.elapsedS = ctx.pace.elapsed();
    ctx.hooks.onCheckpoint?.(this.state, 'interrupted');
    return false;
  }

  /** Draws the epoch's sampler order (from epochRng, so a resumed epoch draws the same), and a fresh carried state at its start (D2L). */
  private startEpoch(): void {
    if (this.epochStarted) return;
    const { state, engine } = this;
    if (state.minibatch === 0) {
      state.epochRng = this.rng.state();
      if (this.sampler.kind === 'consecutive') engine.blas.fill(engine.plan.state.size, 0, engine.plan.state.offset);
    }
    this.rng = new Rng(state.epochRng);
    this.sampler.startEpoch(this.rng);
    this.epochStarted = true;
  }

  /** Minibatches in the next stretch: to the epoch's end, the engine's table, the horizon, about BUDGET_STRETCH_S of a budget, the next due cadence. */
  private stretchLength(ctx: RunContext): number {
    const { state } = this;
    const r = ctx.pace.rate();
    return Math.max(1, Math.min(
      this.perEpoch - state.minibatch, this.engine.maxStretch,
      (ctx.hooks.stopAtStep ?? Infinity) - state.step,
      this.horizon() - state.step,
      this.length.kind === 'time' ? (r === null ? 8 : Math.max(1, Math.round(r * BUDGET_STRETCH_S))) : Infinity,
      ctx.cadences.stepsUntil('eval'), ctx.cadences.stepsUntil('sample'), ctx.cadences.stepsUntil('checkpoint'),
    ));
  }

  /**
   * Trains `count` minibatches on the engine, booking each one's loss and norm from the results
   * table in order as they complete (progress wakes) and asking the engine to stop once a stop is
   * requested or the budget is up. Throws DivergenceError when a minibatch diverged.
   */
  private async trainStretch(ctx: RunContext, count: number): Promise<StretchOutcome> {
    const { config, engine, state } = this;
    const { steps: T, batch: B } = config.data;
    const { results, lrs } = engine.control;
    const { hooks, pace, interval } = ctx;
    const first = state.minibatch;
    const horizon = this.horizon();
    const step0 = state.step;
    let booked = 0;
    const stretchT0 = this.clock();
    const book = (done: number) => {
      for (; booked < done; booked++) {
        const row = booked * RESULT_FIELDS;
        state.reportLossSum += results[row + Result.LOSS];
        state.reportTokens += T * B;
        interval.tokens += T * B;
        const norm = results[row + Result.NORM];
        state.reportNormSum += norm;
        state.reportNormMax = Math.max(state.reportNormMax, norm);
        this.intervalNorms.push(norm);
        state.reportClipped += results[row + Result.FACTOR] < 1 ? 1 : 0;
        state.minibatch = first + booked + 1;
        state.step++;
      }
      if (hooks.onProgress) {
        const dt = interval.seconds + (this.clock() - stretchT0);
        hooks.onProgress(this.progress(pace, state.reportLossSum / Math.max(1, state.reportTokens), interval.tokens / Math.max(1e-9, dt)));
      }
      if (hooks.shouldStop?.() || pace.timeUp()) engine.requestStop();
    };
    const outcome = await driveStretch(engine, {
      sampler: this.sampler, count, minibatch: (k) => first + k, lr: (k) => learningRate(config.optim, step0 + k, horizon, this.perEpoch),
      task: { carry: this.sampler.kind === 'consecutive', gradScale: 1 / (T * B), clipTheta: config.optim.clip, optim: ctx.optim, step0 },
    }, book);
    book(outcome.done);
    const stretchS = this.clock() - stretchT0;
    pace.book(stretchS, outcome.done);
    interval.seconds += stretchS;
    if (outcome.divergedAt !== null) {
      const k = outcome.divergedAt;
      const loss = results[k * RESULT_FIELDS + Result.LOSS];
      const norm = results[k * RESULT_FIELDS + Result.NORM];
      const what = `${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? norm : loss}`;
      throw this.divergence(`at epoch ${state.epoch + 1}, minibatch ${first + k + 1}: ${what}`, lrs[k], state.step === 0);
    }
    return outcome;
  }

  private progress(pace: Pace, runningLoss: number, tokensPerS: number): Progress {
    const s = this.state;
    return {
      epoch: s.epoch + 1, minibatch: s.minibatch, perEpoch: this.perEpoch, step: s.step, horizon: this.horizon(),
      runningLoss, runningPpl: Math.exp(runningLoss), tokensPerS, etaS: pace.etaS(),
    };
  }

  /**
   * After a stretch (or, on resume, for the report a stop cut short): the report if one is due (with
   * an evaluation if that is due), best, samples, the final or periodic checkpoint. true/false: the
   * run ended / was interrupted; null: train on.
   */
  private async settle(ctx: RunContext, epochEnded: boolean, lr: number, evalCut: boolean): Promise<boolean | null> {
    const { state } = this;
    const { hooks, pace, cadences } = ctx;
    const endedBefore = pace.ended();
    this.chooseEvalSubset(pace.runS());
    const evalNow = endedBefore || evalCut || cadences.due('eval', epochEnded);
    if ((evalNow || epochEnded) && !(await this.reportInterval(ctx, epochEnded, lr, evalNow))) return this.interrupted(ctx);
    if (cadences.due('sample', epochEnded)) {
      hooks.onPhase?.('sampling');
      const samples = await runSliced(this.sampling(), () => hooks.shouldStop?.() ?? false);
      if (samples === null) return this.interrupted(ctx);
      hooks.onSamples?.(state.step, state.step / this.perEpoch, samples);
      state.lastSampleS = pace.elapsed();
    }
    const stopEarly = this.config.run.early_stop > 0 && state.evalsSinceBest >= this.config.run.early_stop;
    // an evaluation that ran into the budget's reserve is the last one: nothing trains after it (a
    // second, final one would overrun the budget); time that ran out otherwise (a stall, sampling)
    // still leaves the run one more stretch and its final evaluation
    const final = endedBefore || (evalNow && pace.ended());
    state.elapsedS = pace.elapsed();
    if (final || stopEarly) {
      hooks.onCheckpoint?.(state, 'final');
      this.stoppedEarly = stopEarly && !final;
      return true;
    }
    if (cadences.due('checkpoint', epochEnded)) {
      state.lastCheckpointS = pace.elapsed();
      hooks.onCheckpoint?.(state, 'periodic');
    }
    return null;
  }

  /**
   * The interval's report, with an evaluation when `evalNow`; then best. false: a stop came during
   * the evaluation (the report is kept as due, for the resume to make).
   */
  private async reportInterval(ctx: RunContext, epochEnded: boolean, lr: number, evalNow: boolean): Promise<boolean> {
    const { state } = this;
    const { hooks, pace, interval } = ctx;
    let valLoss: number | null = null, evalS: number | null = null;
    if (evalNow) {
      const e0 = this.clock();
      hooks.onPhase?.('evaluation');
      const stopRequested = () => hooks.shouldStop?.() ?? false;
      const v = await runSliced(this.evaluation(), stopRequested);
      if (v === null && stopRequested()) {
        state.reportDue = { epochEnded, lr, intervalTokens: interval.tokens, intervalS: interval.seconds };
        return false;
      }
      valLoss = v;
      evalS = this.clock() - e0;
      if (valLoss !== null) state.evalS = evalS;
    }
    const report = this.report({ valLoss, evalS, lr, flopsPerToken: ctx.flopsPerToken, intervalTokens: interval.tokens, intervalS: interval.seconds, elapsedS: pace.elapsed() });
    ctx.interval = { tokens: 0, seconds: 0 };
    state.reportDue = null;
    const uniformLoss = Math.log(this.data.vocab.size);
    if (report.train_loss > DIVERGED_LOSS_FACTOR * uniformLoss) {
      hooks.onReport?.(report);
      throw this.divergence(`by minibatch ${state.step}: the mean training loss is ${report.train_loss.toPrecision(4)} nats per character, ` +
        `more than ${DIVERGED_LOSS_FACTOR} times a uniform guess's ${uniformLoss.toPrecision(3)}`, report.lr, false);
    }
    if (evalNow) state.lastEvalS = pace.elapsed();
    state.elapsedS = pace.elapsed();
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
      val_mode: valLoss === null ? null : this.evalChars() < (this.data.val?.length ?? 0) ? 'carried-subset' : 'carried',
      val_chars: valLoss === null ? null : this.evalChars(),
      lr: a.lr,
      tokens_per_s: tokensPerS,
      gflops: (tokensPerS * a.flopsPerToken) / 1e9,
      grad_norm: state.reportNormSum / Math.max(1, minibatches),
      grad_norm_median: median(this.intervalNorms) ?? state.reportNormSum / Math.max(1, minibatches),
      grad_norm_max: state.reportNormMax,
      clipped_fraction: state.reportClipped / Math.max(1, minibatches),
      interval_s: a.intervalS,
      eval_s: evalS,
    };
    Object.assign(state, { reportLossSum: 0, reportTokens: 0, reportNormSum: 0, reportClipped: 0, reportNormMax: 0 });
    this.intervalNorms = [];
    return report;
  }

  /** Divergence named with its cause: before any update only the initialization, after it the step size. */
  private divergence(where: string, lr: number, beforeAnyUpdate: boolean): DivergenceError {
    const { config } = this;
    const wd = config.optim.weight_decay;
    const cause = beforeAnyUpdate
      ? `the initial parameters already overflow: lower model.init_scale (now ${config.model.init_scale})`
      // weight decay scales every weight by 1 - lr x wd a step (decoupled or as L2 in SGD): at 1 or more it flips and grows them
      : wd > 0 && lr * wd >= 1 && config.optim.kind !== 'adam'
        ? `optim.weight_decay ${wd} at learning rate ${lr} scales every weight by 1 - lr x wd = ${(1 - lr * wd).toPrecision(3)} each step: lower optim.weight_decay (lr x wd must stay well below 1)`
        : config.optim.kind === 'sgd'
        ? `an update of size lr x clip = ${lr * config.optim.clip} pushed the parameters out of range: lower optim.lr (now ${lr}) or optim.clip (now ${config.optim.clip})`
        : `${config.optim.kind} at learning rate ${lr} moved the parameters too far: lower optim.lr (${config.optim.kind} usually wants 1e-4 to 1e-2)`;
    return new DivergenceError(`training diverged ${where}; ${cause}; no checkpoint is written for this point (an earlier one, if any, stays as it was)`, 1);
  }
}
