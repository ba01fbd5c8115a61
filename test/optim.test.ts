// The optimizers (issue 9, its optimizer part): the WASM update kernels against the float64
// reference; one real Adam/momentum step through the trainer's step against the formulas; the same
// parameters whatever the worker count (deterministic mode: bitwise); resume with the optimizer's
// state: bitwise the uninterrupted run.
import { describe, expect, it } from 'vitest';
import { compileKernels, createSharedMemory, RESERVED_LOW_BYTES, WasmBlas, type KernelVariant } from '../src/blas/loader.js';
import { RefBlas } from '../src/blas/ref.js';
import type { TrainConfig } from '../src/config/schema.js';
import { optimSlots, optimStepOf } from '../src/optim/optimizers.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { Rng } from '../src/util/rng.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { encodeSafetensors, readSafetensors } from '../src/io/safetensors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstGradient, paramsAfter as trainedParams, D2L_BASE } from './train_helpers.js';
import { bptt, minibatchesPerEpoch, runAndSignalAt, D2L_ARGS } from './cli_helpers.js';

const BASE = RESERVED_LOW_BYTES / 4;

describe.each(['simd', 'relaxed-simd'] as KernelVariant[])('update kernels, wasm %s vs float64 reference', (variant) => {
  const n = 1027; // not a multiple of the SIMD width
  function setup(seed: number) {
    const w = new WasmBlas(compileKernels(variant), createSharedMemory((BASE + 5 * n + 64) * 4));
    const r = new RefBlas(BASE + 5 * n + 64, 'f64');
    const rng = new Rng(seed);
    for (let k = 0; k < 4 * n; k++) {
      // p, g, m (any sign), v (non-negative)
      const x = Math.fround(k >= 3 * n ? rng.uniform() * 0.01 : rng.uniform() * 2 - 1);
      w.f[BASE + k] = x;
      r.f[BASE + k] = x;
    }
    return { w, r, p: BASE, g: BASE + n, m: BASE + 2 * n, v: BASE + 3 * n };
  }
  const close = (w: WasmBlas, r: RefBlas, off: number, what: string) => {
    for (let k = 0; k < n; k++) {
      const a = w.f[off + k], b = r.f[off + k];
      expect(Math.abs(a - b), `${what}[${k}]`).toBeLessThanOrEqual(2e-6 + 2e-6 * Math.abs(b));
    }
  };

  it('momentum: v = mu v + scale g, p -= lr v', () => {
    const { w, r, p, g, v } = setup(1);
    for (const b of [w, r]) b.momentumUpdate(n, p, g, v, 0.1, 0.9, 0.37);
    close(w, r, v, 'v');
    close(w, r, p, 'p');
  });

  it.each([['adam', false, 0], ['adam + L2', false, 0.01], ['adamw', true, 0.01]] as const)('%s', (_, decoupled, wd) => {
    const { w, r, p, g, m, v } = setup(2);
    const t = 7, b1 = 0.9, b2 = 0.999;
    for (const b of [w, r]) b.adamUpdate(n, p, g, m, v, 1e-3, b1, b2, 1e-8, 1 - b1 ** t, 1 - b2 ** t, 0.5, wd, decoupled);
    close(w, r, m, 'm');
    close(w, r, v, 'v');
    close(w, r, p, 'p');
  });

  it('a split of the range gives bitwise the same result (each element on its own)', () => {
    const a = setup(3), b = setup(3);
    a.w.adamUpdate(n, a.p, a.g, a.m, a.v, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001, 0.5, 0.01, true);
    for (const [lo, hi] of [[0, 5], [5, 517], [517, n]]) b.w.adamUpdate(hi - lo, b.p + lo, b.g + lo, b.m + lo, b.v + lo, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001, 0.5, 0.01, true);
    expect(Buffer.from(a.w.f.buffer, a.p * 4, 4 * n * 4).equals(Buffer.from(b.w.f.buffer, b.p * 4, 4 * n * 4))).toBe(true);
  });
});

function config(kind: TrainConfig['optim']['kind'], deterministic = false): TrainConfig {
  return {
    ...D2L_BASE,
    model: { ...D2L_BASE.model, hidden: 40, init_scale: 0.1 },
    data: { ...D2L_BASE.data, sampler: 'random', steps: 11, batch: 9, val_fraction: 0.05, max_chars: 4000 },
    optim: { ...D2L_BASE.optim, kind, lr: kind === 'sgd' || kind === 'momentum' ? 0.5 : 3e-3, clip: 0.5, weight_decay: kind === 'adamw' ? 0.01 : 0 },
    run: { ...D2L_BASE.run, epochs: 3, deterministic, sample_every: 0, checkpoint_every: 0 },
  };
}

describe('one real step', () => {
  it.each(['momentum', 'adam', 'adamw'] as const)('%s: the first update is the formula on the clipped gradient', async (kind) => {
    const cfg = config(kind);
    const { engine, p0, g, norm } = firstGradient(cfg);
    const { plan, blas } = engine;
    const o = cfg.optim;
    const factor = Math.min(1, o.clip / norm);
    await engine.runStretch({ k0: 0, k1: 1, carry: false, gradScale: 1 / 99, lr: o.lr, clipTheta: o.clip, optim: optimStepOf(o), step0: 0 });
    const p1 = blas.f.subarray(plan.params, plan.params + plan.numParams);
    let worstErr = 0, largestStep = 0;
    for (let k = 0; k < plan.numParams; k++) {
      const gs = factor * g[k];
      let want: number;
      if (kind === 'momentum') want = p0[k] - o.lr * gs; // v starts at 0: v = g
      else {
        // t = 1: m_hat = g, v_hat = g^2
        const base = kind === 'adamw' ? p0[k] - o.lr * o.weight_decay * p0[k] : p0[k];
        want = base - (o.lr * gs) / (Math.abs(gs) + o.eps);
      }
      // the update as taken against the update as the formula gives it, measured against the largest
      // step (float32 keeps (1 - b2) and 1 - b2^t to ~1e-5 of each other, and p itself rounds)
      worstErr = Math.max(worstErr, Math.abs((p1[k] - p0[k]) - (want - p0[k])));
      largestStep = Math.max(largestStep, Math.abs(want - p0[k]));
    }
    expect(largestStep).toBeGreaterThan(0);
    expect(worstErr / largestStep).toBeLessThan(1e-4);
  });
});

/** After `steps` minibatches on `workers` pool workers, stretches of 16 (optimizer state carried across them). */
const paramsAfter = async (cfg: TrainConfig, workers: number, steps: number): Promise<Buffer> =>
  Buffer.from((await trainedParams(cfg, workers, steps, 16)).buffer);

describe.each(['momentum', 'adam', 'adamw'] as const)('%s across workers', (kind) => {
  it('--deterministic: bitwise the same parameters for 1, 2 and 3 workers after 30 minibatches', async () => {
    const ref = await paramsAfter(config(kind, true), 1, 30);
    for (const n of [2, 3]) expect((await paramsAfter(config(kind, true), n, 30)).equals(ref), `workers=${n}`).toBe(true);
    expect(ref.equals(await paramsAfter(config('sgd', true), 1, 30))).toBe(false); // the optimizer mattered
  });
});

describe('resume with optimizer state', () => {
  const SMALL = ['--builtin', 'counting', '--hidden', '256', '--batch', '4', '--steps', '16', '--clip', '1', '--set', 'run.sample_every=0', '--set', 'run.checkpoint_every=0'];
  it.each([['momentum', '0.5'], ['adam', '0.003']] as const)('%s: interrupted mid-epoch and resumed is bitwise the uninterrupted run', async (kind, lr) => {
    const dir = mkdtempSync(join(tmpdir(), 'bptt-optim-'));
    const args = [...SMALL, '--lr', lr, '--set', `optim.kind=${kind}`, '--epochs', '3', '--workers', '2'];
    expect(bptt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'straight')]).code).toBe(0);
    // 50 minibatches into epoch 2: the stop lands inside the stretch running then, inside the epoch
    const at = minibatchesPerEpoch(join(dir, 'straight')) + 50;
    expect((await runAndSignalAt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'cut')], 'SIGINT', at)).code).toBe(130);
    const cut = loadCheckpoint(join(dir, 'cut', 'last.safetensors'));
    expect(cut.training!.epoch).toBeLessThan(3);
    for (const slot of optimSlots(kind)) expect(cut.tensors.has(`optim.${slot}.W_hh`)).toBe(true);
    expect(bptt(['resume', join(dir, 'cut')]).code).toBe(0);
    const all = (p: string) => {
      const c = loadCheckpoint(p);
      return Buffer.concat([...c.layout.names, ...optimSlots(kind).flatMap((s) => c.layout.names.map((n) => `optim.${s}.${n}`))]
        .map((n) => Buffer.from(c.tensors.get(n)!.data.buffer)));
    };
    expect(all(join(dir, 'cut', 'last.safetensors')).equals(all(join(dir, 'straight', 'last.safetensors')))).toBe(true);
  });

  it('the optimizer cannot change on resume, and a checkpoint missing its state is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bptt-optim-'));
    const run = join(dir, 'run');
    expect(bptt(['train', ...D2L_ARGS, ...SMALL, '--lr', '0.003', '--set', 'optim.kind=adam', '--epochs', '1', '--out', run]).code).toBe(0);
    const r = bptt(['resume', run, '--set', 'optim.kind=sgd']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/optim\.kind cannot change when resuming/);
    const f = readSafetensors(join(run, 'last.safetensors'));
    f.tensors.delete('optim.v.W_hq');
    writeFileSync(join(run, 'last.safetensors'), encodeSafetensors(f.tensors, f.metadata));
    const metrics = readFileSync(join(run, 'metrics.jsonl'));
    const m = bptt(['resume', run, '--epochs', '2']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/optimizer adam needs tensor optim\.v\.W_hq, which is missing/);
    expect(readFileSync(join(run, 'metrics.jsonl')).equals(metrics)).toBe(true);
  });
});
