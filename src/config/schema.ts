// The training configuration: plain data, validated at the edge with zod. Sections and key names
// are the user-facing contract (config files, --set overrides, checkpoints, run directories).
// DEFAULTS are D2L's settings for the Jay Chou lyrics except where noted; presets in examples/
// are small diffs from them.

import { z } from 'zod';
import { BUILTIN_CORPORA } from '../data/builtin.js';

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

export const ModelSchema = z.strictObject({
  cell: z.enum(['rnn', 'gru', 'lstm']).describe('recurrent cell: rnn (the Elman RNN of D2L chapter 6), gru (D2L 6.7) or lstm (D2L 6.8)'),
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
    newlines_to_spaces: z.boolean().describe('replace \\n and \\r by spaces (D2L)'),
  }),
  max_chars: nonNegInt.describe('keep the first N characters (code points); 0 = all'),
  sampler: z.enum(['random', 'consecutive']).describe('D2L 6.3 minibatch sampling'),
  steps: positiveInt.max(4096).describe('time steps T per sequence'),
  batch: positiveInt.max(65536).describe('sequences B per minibatch'),
  val_fraction: z.number().min(0).max(0.5).describe('held-out tail of the corpus for validation perplexity'),
});

export const ScheduleSchema = z.strictObject({
  kind: z.enum(['constant', 'step', 'cosine']).describe('learning-rate schedule over epochs'),
  step_epochs: positiveInt.describe('step: multiply the rate by gamma every step_epochs epochs'),
  gamma: z.number().positive().max(1).describe('step: decay factor'),
  min_lr: z.number().nonnegative().describe('cosine: the rate at the last epoch'),
});

export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw'] as const;

export const OptimSchema = z.strictObject({
  kind: z.enum(OPTIMIZERS).describe('sgd (D2L) | momentum | adam | adamw (decoupled weight decay); all step on the clipped gradient'),
  lr: z.number().positive().describe('learning rate (D2L SGD: 100, the loss being a mean over B*T; Adam: ~1e-3)'),
  clip: z.number().positive().describe('clip theta: g <- min(theta/||g||, 1) g over all parameters'),
  momentum: z.number().min(0).lt(1).describe('momentum: v <- mu v + g, p <- p - lr v'),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).describe('adam/adamw: decay rates of the first and second moments'),
  eps: z.number().positive().describe('adam/adamw: added to sqrt(v_hat)'),
  weight_decay: z.number().min(0).describe('adam: L2 (added to g); adamw: decoupled (p <- p - lr wd p); 0 = off'),
  schedule: ScheduleSchema,
});

export const RunSchema = z.strictObject({
  epochs: positiveInt.max(1_000_000).describe('passes over the training corpus'),
  seed: nonNegInt.max(2 ** 32 - 1).describe('seeds initialization and sampling'),
  workers: z.number().int().min(1).max(256).nullable().describe('worker threads; null = available cores'),
  deterministic: z.boolean().describe('bitwise-identical results for any worker count (fixed row shards)'),
  eval_every: nonNegInt.describe('validation perplexity every N epochs (0 = only at the end)'),
  sample_every: nonNegInt.describe('print samples every N epochs (0 = never)'),
  sample_length: positiveInt.max(100_000).describe('characters generated per sample'),
  sample_prefixes: z.array(z.string().min(1)).describe('prefixes for the periodic samples ([] = the first character of the corpus)'),
  checkpoint_every: nonNegInt.describe('write the last checkpoint every N epochs (0 = only at the end)'),
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

/** The learning rate of (0-based) epoch `e` of `epochs`. */
export function learningRate(optim: TrainConfig['optim'], e: number, epochs: number): number {
  const s = optim.schedule;
  switch (s.kind) {
    case 'constant': return optim.lr;
    case 'step': return optim.lr * s.gamma ** Math.floor(e / s.step_epochs);
    case 'cosine': return s.min_lr + ((optim.lr - s.min_lr) * (1 + Math.cos((Math.PI * e) / Math.max(1, epochs - 1)))) / 2;
  }
}

export const DEFAULTS: TrainConfig = {
  model: { cell: 'rnn', gru_reset: 'before', hidden: 256, layers: 1, dropout: 0, activation: 'tanh', init_scale: 0.01 },
  data: {
    path: null,
    builtin: 'counting',
    preprocess: { newlines_to_spaces: true },
    max_chars: 0,
    sampler: 'random',
    steps: 35,
    batch: 32,
    val_fraction: 0.1, // not in D2L (which has no validation split); the D2L presets set 0
  },
  optim: {
    kind: 'sgd', lr: 100, clip: 0.01, momentum: 0.9, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0,
    schedule: { kind: 'constant', step_epochs: 50, gamma: 0.5, min_lr: 0 },
  },
  run: {
    epochs: 250,
    seed: 0,
    workers: null,
    deterministic: false,
    eval_every: 1,
    sample_every: 50,
    sample_length: 50,
    sample_prefixes: [],
    checkpoint_every: 10,
    early_stop: 0,
    out: 'runs/latest',
  },
};
