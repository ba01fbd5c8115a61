// The worker pool computes the same training as one thread: N = 1, 2, 3 workers (B = 7, not
// divisible by 2 or 3) against the single-thread engine; bitwise reproducibility for a fixed
// worker count; and --deterministic: bitwise identical for ANY worker count.
import { describe, expect, it } from 'vitest';
import type { TrainConfig } from '../src/config/schema.js';
import { D2L_BASE, trainSteps } from './train_helpers.js';

function config(sampler: 'random' | 'consecutive', deterministic = false): TrainConfig {
  return {
    ...D2L_BASE,
    model: { ...D2L_BASE.model, hidden: 48, init_scale: 0.1 },
    data: { ...D2L_BASE.data, sampler, steps: 9, batch: 7, val_fraction: 0.05 },
    optim: { ...D2L_BASE.optim, lr: 1, clip: 1 },
    run: { ...D2L_BASE.run, epochs: 1, deterministic, sample_every: 0, checkpoint_every: 0 },
  };
}

/** The parameters after `steps` minibatches on `workers` pool workers (0: one thread). */
const train = async (cfg: TrainConfig, workers: number, steps: number): Promise<Float32Array> => (await trainSteps(cfg, steps, { workers })).params;

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  for (let k = 0; k < b.length; k++) scale = Math.max(scale, Math.abs(b[k]));
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]) / scale);
  return worst;
}

function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe.each(['random', 'consecutive'] as const)('%s sampling', (sampler) => {
  it('N = 1, 2, 3 workers give the single-thread parameters after 3 minibatches (max rel. diff <= 1e-5)', async () => {
    const single = await train(config(sampler), 0, 3);
    for (const n of [1, 2, 3]) {
      const pooled = await train(config(sampler), n, 3);
      expect(maxRelDiff(pooled, single), `workers=${n}`).toBeLessThanOrEqual(1e-5);
    }
    // and training moved the parameters, so the comparison is not vacuous
    const initial = await train(config(sampler), 0, 0);
    expect(maxRelDiff(single, initial)).toBeGreaterThan(1e-3);
  });

  it('same seed and worker count: bitwise-identical parameters', async () => {
    expect(bitwiseEqual(await train(config(sampler), 2, 4), await train(config(sampler), 2, 4))).toBe(true);
  });

  it('--deterministic: bitwise identical for 1, 2 and 3 workers and the single-thread engine', async () => {
    const ref = await train(config(sampler, true), 0, 3);
    for (const n of [1, 2, 3]) expect(bitwiseEqual(await train(config(sampler, true), n, 3), ref), `workers=${n}`).toBe(true);
  });
});

it('B smaller than the worker count: idle workers get no rows and results still match', async () => {
  const cfg = { ...config('random'), data: { ...config('random').data, batch: 2 } };
  const single = await train(cfg, 0, 2);
  expect(maxRelDiff(await train(cfg, 3, 2), single)).toBeLessThanOrEqual(1e-5);
});
