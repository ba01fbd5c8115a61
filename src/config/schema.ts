// The training configuration: plain data, validated at the edge with zod. Sections and key names
// are the user-facing contract (config files, --set overrides, checkpoints, run directories).
// DEFAULTS are for a user's own text (chosen by measurement on tiny Shakespeare: README, "Your own
// text"); the D2L presets in examples/ set every key the book's tables depend on.

import { z } from 'zod';
import { BUILTIN_CORPORA } from '../data/builtin.js';
import { CELL_KINDS, cellOf } from '../model/cells/index.js';
import { OPTIMIZERS } from '../optim/optimizers.js';
import { AUTO_EVAL_SHARE, parseCadence, parseDuration, type Cadence } from './units.js';

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
/** A duration: "90s", "10m", "1h30m" or a number of seconds. */
const duration = z.union([z.number(), z.string()]).refine((v) => parseDuration(v) !== null,
  'must be a duration such as 90s, 10m or 1h30m (or a number of seconds > 0)');
/** A cadence: 0 (never), N epochs, "N epochs", "N minibatches", a duration ("60s"). */
const cadence = z.union([z.number(), z.string()]).refine((v) => { const c = parseCadence(v); return c !== null && c.unit !== 'auto'; },
  'must be 0, a number of epochs, "N epochs", "N minibatches" or a duration such as 60s');

export const ModelSchema = z.strictObject({
  cell: z.enum(CELL_KINDS).describe(`recurrent cell: ${CELL_KINDS.map((k) => `${k} (${cellOf(k).about})`).join(', ')}`),
  gru_reset: z.enum(['before', 'after']).describe('gru: the reset gate before the product (D2L, Cho et al.) or after it (PyTorch/cuDNN, exportable to nn.GRU)'),
  hidden: positiveInt.max(8192).describe('hidden units H'),
  layers: positiveInt.max(64).describe('stacked layers (D2L 6.9): layer 1 reads the characters, each next one the hidden state below'),
  dropout: z.number().min(0).lt(1).describe('inverted dropout on the input of every layer above the first, in training only (needs layers >= 2)'),
  activation: z.enum(['tanh', 'identity', 'relu']).describe('phi in h_t = phi(x_t W_xh + h_{t-1} W_hh + b_h)'),
  init_scale: z.number().positive().describe('weights ~ N(0, init_scale^2), biases 0 (D2L: 0.01)'),
});

export const DataSchema = z.strictObject({
  path: z.string().min(1).nullable().describe('UTF-8 text file; null to use a built-in corpus'),
  builtin: z.enum(BUILTIN_CORPORA).describe('built-in corpus used when path is null'),
  preprocess: z.strictObject({
    newlines_to_spaces: z.boolean().describe('replace \\n and \\r by spaces (D2L; off by default: a play keeps its lines)'),
  }),
  max_chars: nonNegInt.describe('keep the first N characters (code points); 0 = all'),
  sampler: z.enum(['random', 'consecutive']).describe('D2L 6.3 minibatch sampling'),
  epoch_offset: z.enum(['none', 'random']).describe('consecutive: "random" rotates every row by a random offset each epoch, so the carried state never replays the same stream (none: D2L)'),
  steps: positiveInt.max(4096).describe('time steps T per sequence'),
  batch: positiveInt.max(65536).describe('sequences B per minibatch'),
  val_fraction: z.number().min(0).max(0.5).describe('share of the corpus held out for validation (see val_split); unused with val_path'),
  val_split: z.enum(['tail', 'blocks']).describe('tail: the last val_fraction of the text validates (nanoGPT, char-rnn); blocks: every round(1/val_fraction)-th block of val_block characters does, spread over the whole text (for a text whose end differs from the rest)'),
  val_block: positiveInt.max(1e9).describe('val_split blocks: characters per block'),
  val_path: z.string().min(1).nullable().describe('a separate UTF-8 file to validate on (the whole of data.path then trains); null: split data.path'),
  max_vocab: nonNegInt.max(1_000_000).refine((v) => v !== 1, 'must be 0 (every character) or at least 2 (one character and U+FFFD for the rest)').describe('keep at most N distinct characters: the N-1 most frequent, and U+FFFD for all the others (a text with thousands of rare characters); 0 = all'),
});

export const ScheduleSchema = z.strictObject({
  kind: z.enum(['constant', 'step', 'cosine', 'linear']).describe('learning-rate schedule by minibatch over the run (its epochs, minibatches or time budget)'),
  warmup: nonNegInt.describe('minibatches of linear warmup from lr/warmup to lr (0 = none)'),
  step_epochs: positiveInt.describe('step: multiply the rate by gamma every step_epochs epochs'),
  gamma: z.number().positive().max(1).describe('step: decay factor'),
  min_lr: z.number().nonnegative().describe('cosine, linear: the rate at the last minibatch (at most optim.lr)'),
});


export const OptimSchema = z.strictObject({
  kind: z.enum(OPTIMIZERS).describe('sgd (D2L) | momentum | adam | adamw (decoupled weight decay); all step on the clipped gradient'),
  lr: z.number().positive().describe('learning rate (D2L SGD: 100, the loss being a mean over B*T; Adam: ~1e-3)'),
  clip: z.number().positive().describe('clip theta: g <- min(theta/||g||, 1) g over all parameters'),
  momentum: z.number().min(0).lt(1).describe('momentum: v <- mu v + g, p <- p - lr v'),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).describe('adam/adamw: decay rates of the first and second moments'),
  eps: z.number().positive().describe('adam/adamw: added to sqrt(v_hat)'),
  weight_decay: z.number().min(0).describe('adam, sgd, momentum: L2 (added to g); adamw: decoupled (p <- p - lr wd p); 0 = off. The default 0.05 is AdamW\'s: another optimizer chosen without a weight_decay gets 0'),
  schedule: ScheduleSchema,
});

export const RunSchema = z.strictObject({
  epochs: positiveInt.max(1_000_000).describe('passes over the training corpus (unless time_budget or minibatches is set)'),
  time_budget: duration.nullable().describe('train for this wall-clock time instead (90s, 10m, 1h30m); the schedule runs over it'),
  minibatches: positiveInt.max(1e12).nullable().describe('train exactly this many minibatches instead (bitwise-reproducible, unlike a time budget)'),
  seed: nonNegInt.max(2 ** 32 - 1).describe('seeds initialization and sampling'),
  workers: z.number().int().min(1).max(256).nullable().describe('worker threads; null = available cores'),
  deterministic: z.boolean().describe('bitwise-identical results for any worker count (fixed row shards)'),
  eval_every: z.union([cadence, z.literal('auto')]).describe(`validation loss: N epochs, "N minibatches", 60s, or auto (as often as keeps it under ${AUTO_EVAL_SHARE * 100}% of the run); 0 = only at the end`),
  sample_every: cadence.describe('print samples: N epochs, "N minibatches" or 60s (0 = never)'),
  sample_length: positiveInt.max(100_000).describe('characters generated per sample'),
  sample_prefixes: z.array(z.string().min(1)).describe('prefixes for the periodic samples ([] = the first character of the corpus)'),
  sample_temperature: z.number().min(0).max(100).describe('periodic samples: 0 = greedy (D2L), else sample from softmax(logits / t)'),
  checkpoint_every: cadence.describe('write last.safetensors: N epochs, "N minibatches" or 60s (0 = only at the end)'),
  early_stop: nonNegInt.describe('stop after N evaluations without a better validation perplexity (0 = never)'),
  out: z.string().min(1).describe('run directory'),
});

export const ConfigSchema = z.strictObject({
  model: ModelSchema,
  data: DataSchema,
  optim: OptimSchema,
  run: RunSchema,
});

export type TrainConfig = z.infer<typeof ConfigSchema>;

/** A validated cadence key (eval_every, sample_every, checkpoint_every) as a Cadence. */
export function cadenceOf(value: string | number): Cadence {
  return parseCadence(value)!;
}

export const DEFAULTS: TrainConfig = {
  model: { cell: 'lstm', gru_reset: 'after', hidden: 512, layers: 1, dropout: 0, activation: 'tanh', init_scale: 0.01 },
  data: {
    path: null,
    builtin: 'counting',
    preprocess: { newlines_to_spaces: false },
    max_chars: 0,
    sampler: 'consecutive',
    epoch_offset: 'random',
    steps: 64,
    batch: 32,
    val_fraction: 0.1,
    val_split: 'tail',
    val_block: 10_000,
    val_path: null,
    max_vocab: 0,
  },
  optim: {
    kind: 'adamw', lr: 0.02, clip: 1, momentum: 0.9, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.05,
    schedule: { kind: 'cosine', warmup: 0, step_epochs: 50, gamma: 0.5, min_lr: 1e-4 },
  },
  run: {
    epochs: 10,
    time_budget: '10m',
    minibatches: null,
    seed: 0,
    workers: null,
    deterministic: false,
    eval_every: 'auto',
    sample_every: '1m',
    sample_length: 200,
    sample_prefixes: [],
    sample_temperature: 0.8,
    checkpoint_every: '2m',
    early_stop: 0,
    out: 'runs/latest',
  },
};

/**
 * What each key added since the first checkpoints meant while it did not exist. A stored config
 * (a checkpoint's, a run's config.yaml) written before a key existed gets this value, not today's
 * default, so an old run resumes exactly as it ran.
 */
const ABSENT_MEANS = {
  data: { epoch_offset: 'none' },
  optim: { schedule: { warmup: 0 } },
  run: { time_budget: null, minibatches: null, sample_temperature: 0 },
} as const;

/** DEFAULTS for reading a stored config: today's defaults, with ABSENT_MEANS for the keys added since. */
export function storedConfigDefaults(): TrainConfig {
  const d = structuredClone(DEFAULTS) as unknown as Record<string, Record<string, unknown>>;
  d.data.epoch_offset = ABSENT_MEANS.data.epoch_offset;
  (d.optim.schedule as Record<string, unknown>).warmup = ABSENT_MEANS.optim.schedule.warmup;
  Object.assign(d.run, ABSENT_MEANS.run);
  return d as unknown as TrainConfig;
}
