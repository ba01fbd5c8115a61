// The D2L training loop over an Engine. Per stretch (up to an epoch of minibatches): write each
// row's start offset into the schedule and let the engine's threads run the steps (forward + full
// BPTT, reduce, global L2 norm, clip g <- min(theta/||g||, 1) g, SGD update; train/step.ts); book
// each completed minibatch's loss and norm from the results table, in order. Per epoch:
// training perplexity, tokens/s, gradient norm before clipping, validation perplexity, samples,
// checkpoints. Stops at a minibatch boundary when asked (signals), leaving a checkpoint to resume.

import { modelSpecOf, stateParts, type ModelSpec } from '../model/model.js';
import { learningRate, type TrainConfig } from '../config/schema.js';
import { makeSampler, type Sampler } from '../data/samplers.js';
import { generate } from '../model/generate.js';
import { dimsOf, initParams, trainFlopsPerToken } from '../model/params.js';
import { Result, RESULT_FIELDS } from '../parallel/control.js';
import type { Engine } from '../parallel/engine.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Checkpoint, TrainingState } from './checkpoint.js';
import { loadOptimStateInto, loadParamsInto } from './checkpoint.js';
import { optimStepOf } from '../optim/optimizers.js';
import { checkSamplePrefixes, type PreparedData } from './data.js';
import { evaluatePerplexity } from './evaluate.js';

export interface EpochMetrics {
  epoch: number;
  train_ppl: number;
  val_ppl: number | null;
  tokens_per_s: number;
  gflops: number;
  grad_norm: number;
  clipped_fraction: number;
  lr: number;
  epoch_s: number;
  elapsed_s: number;
}

export interface TrainHooks {
  onEpoch?(m: EpochMetrics): void;
  onSamples?(epoch: number, samples: string[]): void;
  /** called with the state to persist; `reason` says why */
  onCheckpoint?(state: TrainingState, reason: 'periodic' | 'final' | 'interrupted'): void;
  /** polled at every minibatch boundary; the stop takes effect after the minibatch in flight */
  shouldStop?(): boolean;
  /** stop (as if interrupted) exactly when state.step reaches this global minibatch count */
  stopAtStep?: number;
  onMinibatch?(epoch: number, i: number, n: number, runningPpl: number, tokensPerS: number): void;
}

export class DivergenceError extends InputError {}

/** The sampler RNG's seed, derived from the run seed so init and sampling streams differ. */
function samplerSeed(seed: number): number {
  return (seed ^ 0x5bd1e995) >>> 0;
}

export class Trainer {
  readonly sampler: Sampler;
  private readonly model: ModelSpec;
  state: TrainingState;
  /** set when run.early_stop ended the run before run.epochs */
  stoppedEarly = false;
  /** the sampler RNG; its state at each epoch start goes into the checkpoint */
  private rng: Rng;

  /** `resume`: continue its training state; `initFrom`: a new run starting from its weights */
  constructor(readonly config: TrainConfig, readonly data: PreparedData, readonly engine: Engine, resume?: Checkpoint, initFrom?: Checkpoint) {
    this.model = modelSpecOf(config.model);
    this.sampler = makeSampler(config.data.sampler, data.train, config.data.batch, config.data.steps);
    const heap = engine.blas.f;
    const plan = engine.plan;
    checkSamplePrefixes(config, data);
    if (resume) {
      if (!resume.training) throw new InputError(`checkpoint ${resume.path}: has no training state to resume from`);
      loadParamsInto(resume, heap, plan.params);
      loadOptimStateInto(resume, config.optim.kind, heap, plan.optimState);
      if (resume.stateH) heap.set(resume.stateH, plan.state);
      this.state = { ...resume.training, evalsSinceBest: resume.training.evalsSinceBest ?? 0 };
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
        epoch: 0, minibatch: 0, epochRng: this.rng.state(), epochLossSum: 0, epochTokens: 0,
        epochNormSum: 0, epochClipped: 0, elapsedS: 0, bestValPpl: null, evalsSinceBest: 0, step: 0,
      };
    }
  }

  /** carried hidden state (consecutive sampling), for checkpoints */
  stateH(): Float32Array | null {
    if (this.sampler.kind !== 'consecutive') return null;
    const { state } = this.engine.plan;
    const { B, H } = this.engine.plan.input;
    return this.engine.blas.f.slice(state, state + stateParts(this.model) * B * H);
  }

  validationPerplexity(): number | null {
    const { evalWs, P } = this.engine.plan;
    if (!this.data.val || !evalWs) return null;
    return evaluatePerplexity(this.engine.blas, this.model, P, evalWs, this.data.val);
  }

  samples(): string[] {
    const r = this.config.run;
    const prefixes = r.sample_prefixes.length > 0 ? r.sample_prefixes : [this.data.vocab.decode(this.data.train.subarray(0, 1))];
    const { sampleWs, P } = this.engine.plan;
    return prefixes.map((p) =>
      generate(this.engine.blas, this.model, P, sampleWs, this.data.vocab, p, { length: r.sample_length, temperature: 0, topK: 0, rng: new Rng(0) }));
  }

  /** Runs to config.run.epochs or until hooks.shouldStop(); returns true when all epochs ran. */
  async run(hooks: TrainHooks = {}): Promise<boolean> {
    const { config, engine, sampler, state } = this;
    const { steps: T, batch: B } = config.data;
    const { clip } = config.optim;
    const run = config.run;
    const plan = engine.plan;
    const { schedule, results } = engine.control;
    const flopsPerToken = trainFlopsPerToken(dimsOf(this.data.vocab.size, config.model));
    const carry = sampler.kind === 'consecutive';
    const gradScale = 1 / (T * B);
    const optim = optimStepOf(config.optim);
    const runStart = performance.now() - state.elapsedS * 1000;

    while (state.epoch < run.epochs) {
      const lr = learningRate(config.optim, state.epoch, run.epochs);
      const epochStart = performance.now();
      const resumedTokens = state.epochTokens;
      if (state.minibatch === 0) {
        state.epochRng = this.rng.state();
        if (carry) engine.blas.fill(stateParts(this.model) * B * plan.input.H, 0, plan.state); // D2L: fresh state each epoch
      }
      this.rng = new Rng(state.epochRng);
      sampler.startEpoch(this.rng);
      // Stretches of up to engine.maxStretch minibatches: the workers run them without the
      // coordinator; each completed minibatch is booked here, in order, from the results table.
      while (state.minibatch < sampler.batchesPerEpoch) {
        if (hooks.shouldStop?.() || (hooks.stopAtStep !== undefined && state.step >= hooks.stopAtStep)) {
          state.elapsedS = (performance.now() - runStart) / 1000;
          hooks.onCheckpoint?.(state, 'interrupted');
          return false;
        }
        const first = state.minibatch;
        const count = Math.min(sampler.batchesPerEpoch - first, engine.maxStretch, (hooks.stopAtStep ?? Infinity) - state.step);
        for (let k = 0; k < count; k++) sampler.starts(first + k, schedule, k * B);
        let booked = 0;
        const book = (done: number) => {
          for (; booked < done; booked++) {
            const row = booked * RESULT_FIELDS;
            const norm = results[row + Result.NORM];
            state.epochLossSum += results[row + Result.LOSS];
            state.epochTokens += T * B;
            state.epochNormSum += norm;
            state.epochClipped += results[row + Result.FACTOR] < 1 ? 1 : 0;
            state.minibatch = first + booked + 1;
            state.step++;
          }
          if (hooks.onMinibatch) {
            const dt = (performance.now() - epochStart) / 1000;
            hooks.onMinibatch(state.epoch + 1, state.minibatch, sampler.batchesPerEpoch, Math.exp(state.epochLossSum / state.epochTokens),
              (state.epochTokens - resumedTokens) / dt);
          }
          if (hooks.shouldStop?.()) engine.requestStop();
        };
        const outcome = await engine.runStretch({ k0: 0, k1: count, carry, gradScale, lr, clipTheta: clip, optim, step0: state.step }, book);
        book(outcome.done);
        if (outcome.divergedAt !== null) {
          const k = outcome.divergedAt;
          const loss = results[k * RESULT_FIELDS + Result.LOSS];
          const norm = results[k * RESULT_FIELDS + Result.NORM];
          const what = `${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? norm : loss}`;
          // before any update the only cause is the initialization; after, the step size
          const cause = state.step === 0
            ? `the initial parameters already overflow: lower model.init_scale (now ${config.model.init_scale})`
            : `an update of size lr x clip = ${lr * clip} pushed the parameters out of range: lower optim.lr (now ${lr}) or optim.clip (now ${clip})`;
          throw new DivergenceError(`training diverged at epoch ${state.epoch + 1}, minibatch ${first + k + 1}: ${what}; ${cause}; ` +
            'the last checkpoint is kept', 1);
        }
      }
      const epochS = (performance.now() - epochStart) / 1000;
      const epoch = state.epoch + 1;
      const n = sampler.batchesPerEpoch;
      const tokensPerS = (state.epochTokens - resumedTokens) / epochS;
      const evalNow = run.eval_every > 0 ? epoch % run.eval_every === 0 || epoch === run.epochs : epoch === run.epochs;
      const valPpl = evalNow ? this.validationPerplexity() : null;
      if (valPpl !== null) {
        if (Number.isFinite(valPpl) && (state.bestValPpl === null || valPpl < state.bestValPpl)) { state.bestValPpl = valPpl; state.evalsSinceBest = 0; }
        else state.evalsSinceBest = (state.evalsSinceBest ?? 0) + 1;
      }
      const metrics: EpochMetrics = {
        epoch,
        train_ppl: Math.exp(state.epochLossSum / state.epochTokens),
        val_ppl: valPpl,
        tokens_per_s: tokensPerS,
        gflops: (tokensPerS * flopsPerToken) / 1e9,
        grad_norm: state.epochNormSum / n,
        clipped_fraction: state.epochClipped / n,
        lr,
        epoch_s: epochS,
        elapsed_s: (performance.now() - runStart) / 1000,
      };
      Object.assign(state, { epoch, minibatch: 0, epochLossSum: 0, epochTokens: 0, epochNormSum: 0, epochClipped: 0 });
      state.epochRng = this.rng.state();
      state.elapsedS = metrics.elapsed_s;
      hooks.onEpoch?.(metrics);
      if (run.sample_every > 0 && epoch % run.sample_every === 0) hooks.onSamples?.(epoch, this.samples());
      const stopEarly = run.early_stop > 0 && (state.evalsSinceBest ?? 0) >= run.early_stop;
      if (epoch === run.epochs || stopEarly) hooks.onCheckpoint?.(state, 'final');
      else if (run.checkpoint_every > 0 && epoch % run.checkpoint_every === 0) hooks.onCheckpoint?.(state, 'periodic');
      if (stopEarly) {
        this.stoppedEarly = true;
        return true;
      }
    }
    return true;
  }
}
