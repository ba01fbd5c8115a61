// The book's presets reproduce the book's tables, whatever bptt's defaults for a user's own text
// become: (1) each examples/d2l-*.yaml states every key its numbers depend on, so resolving it over
// defaults that differ in every key changes none of them; (2) its first epochs train, bit for bit,
// the training perplexities of the committed full runs (bench/results/d2l-*-metrics.jsonl, the
// README's tables).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getPath, leafKeys, resolveConfig } from '../src/config/load.js';
import { DEFAULTS, type TrainConfig } from '../src/config/schema.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { bptt } from './cli_helpers.js';

const root = join(import.meta.dirname, '..');
const PRESETS = ['d2l-random', 'd2l-consecutive', 'd2l-gru', 'd2l-lstm', 'd2l-lstm-deep'] as const;

/** Defaults that differ from bptt's in every key (each a valid value). */
const OTHER_DEFAULTS: TrainConfig = {
  model: { cell: 'rnn', gru_reset: 'before', hidden: 64, layers: 2, dropout: 0.5, activation: 'relu', init_scale: 0.1 },
  data: {
    path: 'elsewhere.txt', builtin: 'counting', preprocess: { newlines_to_spaces: true }, max_chars: 999, sampler: 'random',
    epoch_offset: 'none', steps: 7, batch: 3, val_fraction: 0.3, val_split: 'blocks', val_block: 77, val_path: 'elsewhere-val.txt', max_vocab: 50,
  },
  optim: {
    kind: 'momentum', lr: 7, clip: 3, momentum: 0.5, betas: [0.8, 0.9], eps: 1e-6, weight_decay: 0.5,
    schedule: { kind: 'step', warmup: 5, step_epochs: 3, gamma: 0.1, min_lr: 0.5 },
  },
  run: {
    epochs: 3, time_budget: null, minibatches: 17, seed: 9, workers: 3, deterministic: true, eval_every: 2, sample_every: 3,
    sample_length: 9, sample_prefixes: ['x'], sample_temperature: 0.3, checkpoint_every: 4, early_stop: 2, out: 'runs/other',
  },
};

/**
 * Keys that cannot change a D2L preset's numbers, so a preset need not state them: the built-in
 * corpus (a preset names its file), the optimizer settings SGD never reads, the step and cosine
 * schedules' settings (the book's rate is constant), the thread count (the machine's), and what
 * only decides when to print, sample or save (and how a validation split is cut, where there is none).
 */
const NOT_READ_BY_THE_BOOK = new Set([
  'data.builtin', 'optim.momentum', 'optim.betas', 'optim.eps', 'optim.schedule.step_epochs', 'optim.schedule.gamma',
  'optim.schedule.min_lr', 'run.workers', 'run.early_stop', 'run.out',
]);

describe('the D2L presets do not depend on the defaults', () => {
  it('the other defaults differ from bptt\'s in every key (a new key must be added here)', () => {
    // (data.builtin: the schema offers one built-in corpus)
    for (const key of leafKeys().filter((k) => k !== 'data.builtin')) {
      expect(JSON.stringify(getPath(OTHER_DEFAULTS, key)), key).not.toBe(JSON.stringify(getPath(DEFAULTS, key)));
    }
  });

  it.each(PRESETS)('%s resolves to the same run over other defaults', (preset) => {
    const file = join(root, 'examples', `${preset}.yaml`);
    const ours = resolveConfig(file, []).config;
    const other = resolveConfig(file, [], OTHER_DEFAULTS).config;
    // the GRU's reset position is read by the GRU only
    const unread = (k: string) => NOT_READ_BY_THE_BOOK.has(k) || (k === 'model.gru_reset' && ours.model.cell !== 'gru') ||
      (k === 'data.val_split' && ours.data.val_fraction === 0) || (k === 'data.val_block' && (ours.data.val_fraction === 0 || ours.data.val_split === 'tail'));
    const differs = leafKeys().filter((k) => !unread(k) && JSON.stringify(getPath(ours, k)) !== JSON.stringify(getPath(other, k)));
    expect(differs, `${preset} leaves these keys to the defaults`).toEqual([]);
    // the book's run itself: plain SGD at a constant rate, so the keys above are truly never read
    expect([ours.optim.kind, ours.optim.schedule.kind]).toEqual(['sgd', 'constant']);
  });
});

describe('the D2L presets reproduce the committed runs bitwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bptt-d2l-'));
  // the committed runs: 2 workers, relaxed-SIMD kernels (FMA) on the 2-core x86 VM; the sums of a
  // non-deterministic run depend on the worker count, and FMA rounds differently from mul + add
  it.for(['d2l-random', 'd2l-consecutive', 'd2l-gru', 'd2l-lstm'] as const)('%s: epochs 1-6, training perplexity', (preset, ctx) => {
    const out = join(dir, preset);
    const r = bptt(['train', '--config', join(root, 'examples', `${preset}.yaml`), '--epochs', '6', '--workers', '2', '--out', out, '--quiet', '--force']);
    expect(r.code, r.stderr).toBe(0);
    const kernels = loadCheckpoint(join(out, 'last.safetensors')).kernels;
    if (kernels !== 'wasm-relaxed-simd') ctx.skip(`this machine runs ${kernels}; the committed curves were trained with wasm-relaxed-simd`);
    const rows = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; train_ppl: number })
      .filter((x) => Number.isInteger(x.epoch) && x.epoch <= 6).map((x) => [x.epoch, x.train_ppl]);
    const book = rows(join(root, 'bench/results', `${preset}-metrics.jsonl`));
    expect(book).toHaveLength(6);
    expect(rows(join(out, 'metrics.jsonl'))).toEqual(book);
  });
});
