// The default model for a run that sets no model key (train/choose.ts has the rule): a budget's
// candidates are timed here, each for a few minibatches on the run's own pool and data, before the
// run starts (their time is not the budget's).

import type { KernelPreference } from '../blas/loader.js';
import type { ResolvedConfig } from '../config/load.js';
import { AUTO_EVAL_SHARE, parseDuration } from '../config/units.js';
import type { TrainConfig } from '../config/schema.js';
import { chooseModel, type ModelChoice, type RunTokens } from '../train/choose.js';
import type { PreparedData } from '../train/data.js';
import { placeStart } from '../train/start.js';
import { Trainer } from '../train/trainer.js';
import { createEngine } from './engine.js';

/** A probe times minibatches, each on its own, until this much time has passed (after one to warm up), seconds ... */
const PROBE_S = 0.8;
/** ... and at least this many. Its rate is the fastest minibatch's: a new pool's first few minibatches can run 30-40%
 * slow (measured at H=512 on 2 cores: 198-222 ms for three, then 150 ms steadily), and the rate that decides the model
 * is the one a run of minutes sustains. The mean of 0.6 s, before 2026-12-07, logged 7,315 tokens/s for an LSTM 512
 * that then trained at 12,447. */
const PROBE_MIN_STEPS = 3;

/** A run chooses its model when no model key has a source but the defaults (no file, flag or environment sets one). */
export function choosesModel(resolved: ResolvedConfig): boolean {
  return Object.entries(resolved.sources).every(([key, source]) => !key.startsWith('model.') || source === 'default');
}

/** What the run will train, for the rule: a budget's seconds of training (less what auto evaluation keeps), or its tokens. */
export function runTokensOf(config: TrainConfig, trainChars: number): RunTokens {
  const r = config.run, tokensPerStep = config.data.batch * config.data.steps;
  if (r.time_budget !== null) return { kind: 'seconds', seconds: parseDuration(r.time_budget)! * (1 - AUTO_EVAL_SHARE) };
  if (r.minibatches !== null) return { kind: 'tokens', tokens: r.minibatches * tokensPerStep };
  return { kind: 'tokens', tokens: r.epochs * trainChars };
}

/** Training tokens per second of `config`'s model on this machine: a few minibatches on a pool of its own, validation left out. */
export async function probeTokensPerS(config: TrainConfig, data: PreparedData, kernels: KernelPreference): Promise<number> {
  const cfg: TrainConfig = {
    ...config,
    run: { ...config.run, time_budget: null, minibatches: 1_000_000, eval_every: 0, sample_every: 0, checkpoint_every: 0, early_stop: 0 },
  };
  const probeData: PreparedData = { ...data, val: null };
  const engine = createEngine(cfg, probeData, kernels);
  try {
    const trainer = new Trainer(cfg, probeData, engine, placeStart(cfg, engine));
    await trainer.run({ stopAtStep: 1 }); // the first minibatch warms the threads and memory
    const stepsMs: number[] = [];
    const t0 = performance.now();
    while (stepsMs.length < PROBE_MIN_STEPS || performance.now() - t0 < PROBE_S * 1000) {
      const t = performance.now();
      await trainer.run({ stopAtStep: 2 + stepsMs.length });
      stepsMs.push(performance.now() - t);
    }
    return (cfg.data.batch * cfg.data.steps) / (Math.min(...stepsMs) / 1000);
  } finally {
    await engine.close();
  }
}

/** The rule applied to this run: candidates probed where the run is a budget. `seconds`: the probes' own time. */
export async function chooseRunModel(config: TrainConfig, data: PreparedData, kernels: KernelPreference): Promise<ModelChoice & { seconds: number }> {
  const t0 = performance.now();
  const choice = await chooseModel(config.model, data.vocab.size, runTokensOf(config, data.train.length),
    (hidden) => probeTokensPerS({ ...config, model: { ...config.model, hidden } }, data, kernels), data.train.length);
  return { ...choice, seconds: (performance.now() - t0) / 1000 };
}
