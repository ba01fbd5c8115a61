// The LSTM (issue 9, D2L 6.8): central finite differences in float64 for every named tensor (each
// gate's slice of the fused blocks), dL/dh_0 and dL/dc_0; the float32 WASM path against the float64
// reference; the layout's named views against the fused storage.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainConfig } from '../src/config/schema.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { bptt, minibatchesPerEpoch, runAndSignalAt, D2L_ARGS } from './cli_helpers.js';
import { expectTorchAgrees, findTorchPython } from './torch_helpers.js';
import { compileKernels, createSharedMemory, RESERVED_LOW_BYTES, WasmBlas } from '../src/blas/loader.js';
import { RefBlas } from '../src/blas/ref.js';
import type { Blas } from '../src/blas/types.js';
import { modelLoss } from '../src/model/model.js';
import { paramLayout, readTensor, viewsOf, writeTensor, type ParamLayout } from '../src/model/params.js';
import { Rng } from '../src/util/rng.js';
import { buildModel, desc, expectWasmMatchesFloat64, gradcheckBuffer, gradcheckTensors, modelGrads, type BuiltModel } from './helpers.js';
import { expectWorkerInvariance, D2L_BASE } from './train_helpers.js';
import { failInCiWithout, TORCH_MISSING } from './prereq.js';

const shape = { V: 5, H: 4, T: 3, B: 2 };
const N = shape.T * shape.B;
const spec = { cell: 'lstm' as const, act: 'tanh' as const };

const build = (blas: Blas, base: number, seed: number) => buildModel(blas, base, spec, seed, shape);
const grads = (blas: Blas, m: BuiltModel) => modelGrads(blas, m);

describe('LSTM, finite-difference gradient check, float64', () => {
  const blas = new RefBlas(1 << 16, 'f64');
  const m = build(blas, 0, 5);
  const f = blas.f;
  const loss = () => modelLoss(m.model, blas, m.P, m.ws) / N;

  it('matches every element of every named tensor (the 12 gate tensors, W_hq, b_q)', () => {
    grads(blas, m);
    const { V, H } = shape;
    expect(gradcheckTensors(f, m.layout, m.pBase, m.gBase, loss)).toBe(4 * (V * H + H * H + H) + H * V + V);
  });

  it('matches dL/dh_0 and dL/dc_0', () => {
    grads(blas, m);
    const n = shape.B * shape.H;
    const lw = m.ws.layers[0];
    const dh0 = Array.from(f.subarray(lw.dh0, lw.dh0 + n));
    const dc0 = Array.from(f.subarray(lw.dc!, lw.dc! + n));
    gradcheckBuffer(f, lw.hs, dh0, loss, 'dh0');
    gradcheckBuffer(f, lw.cs!, dc0, loss, 'dc0');
  });
});

describe('LSTM, float32 WASM against the float64 reference', () => {
  it('loss and every gradient agree to float32 accuracy', () => {
    expectWasmMatchesFloat64(spec, shape, { tol: 1e-5 });
  });
});

describe('LSTM layout', () => {
  it('names D2L\'s tensors as strided views of the fused blocks, and read/write round-trip', () => {
    const layout: ParamLayout = paramLayout(desc(spec, { V: 5, H: 4 }));
    expect(layout.names).toEqual(['W_xi', 'W_hi', 'b_i', 'W_xf', 'W_hf', 'b_f', 'W_xo', 'W_ho', 'b_o', 'W_xc', 'W_hc', 'b_c', 'W_hq', 'b_q']);
    expect(layout.blocks.W_x.shape).toEqual([5, 16]);
    const heap = new Float32Array(layout.numParams);
    for (let k = 0; k < heap.length; k++) heap[k] = k;
    // W_xf[r, c] is column 4 + c of row r of W_x
    expect(viewsOf(layout, heap, 0).W_xf.get(2, 1)).toBe(layout.blocks.W_x.offset + 2 * 16 + 4 + 1);
    // every storage element belongs to exactly one named tensor: writing all of them back fills the blocks
    const copy = new Float32Array(layout.numParams).fill(-1);
    for (const name of layout.names) writeTensor(layout.tensors[name], readTensor(layout.tensors[name], heap, 0), copy, 0);
    for (const b of Object.values(layout.blocks)) {
      expect(Buffer.from(copy.buffer, b.offset * 4, b.size * 4).equals(Buffer.from(heap.buffer, b.offset * 4, b.size * 4)), b.name).toBe(true);
    }
  });
});

describe('LSTM in training', () => {
  const cfgOf = (sampler: 'random' | 'consecutive', deterministic: boolean): TrainConfig => ({
    ...D2L_BASE,
    model: { ...D2L_BASE.model, cell: 'lstm', hidden: 24, init_scale: 0.1 },
    data: { ...D2L_BASE.data, sampler, steps: 9, batch: 7, val_fraction: 0.05, max_chars: 3000 },
    optim: { ...D2L_BASE.optim, lr: 1, clip: 1 },
    run: { ...D2L_BASE.run, epochs: 2, deterministic, sample_every: 0, checkpoint_every: 0 },
  });

  it.each(['random', 'consecutive'] as const)('%s: 1, 2, 3 workers give the one-thread parameters (max rel. diff <= 1e-5); deterministic is bitwise', async (sampler) => {
    await expectWorkerInvariance((deterministic) => cfgOf(sampler, deterministic));
  });
});

describe('LSTM on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bptt-lstm-'));
  const ARGS = ['--builtin', 'counting', '--set', 'model.cell=lstm', '--hidden', '192', '--batch', '4', '--steps', '16', '--lr', '10', '--clip', '1',
    '--sampler', 'consecutive', '--set', 'run.sample_every=0', '--set', 'run.checkpoint_every=0'];

  it('SIGINT mid-epoch, resume: bitwise the uninterrupted run (h and c carried in the checkpoint)', async () => {
    const args = [...ARGS, '--epochs', '3', '--workers', '2'];
    expect(bptt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'straight')]).code).toBe(0);
    // 50 minibatches into epoch 2: the stop lands inside the stretch running then, inside the epoch
    const at = minibatchesPerEpoch(join(dir, 'straight')) + 50;
    expect((await runAndSignalAt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'cut')], 'SIGINT', at)).code).toBe(130);
    const cut = loadCheckpoint(join(dir, 'cut', 'last.safetensors'));
    expect(cut.training!.minibatch).toBeGreaterThan(0);
    expect(cut.tensors.get('state.c')!.shape).toEqual([4, 192]);
    expect(bptt(['resume', join(dir, 'cut')]).code).toBe(0);
    const all = (p: string) => { const c = loadCheckpoint(p); return Buffer.concat(c.layout.names.map((n) => Buffer.from(c.tensors.get(n)!.data.buffer))); };
    expect(all(join(dir, 'cut', 'last.safetensors')).equals(all(join(dir, 'straight', 'last.safetensors')))).toBe(true);
  });

  it('the checkpoint names D2L\'s gate tensors; export then import is bitwise; sample and inspect (with ||dL/dc_t||) work', () => {
    const run = join(dir, 'straight');
    const ck = loadCheckpoint(join(run, 'last.safetensors'));
    expect(ck.layout.names.slice(0, 3)).toEqual(['W_xi', 'W_hi', 'b_i']);
    const exported = join(dir, 'l.torch.safetensors');
    expect(bptt(['export', '--checkpoint', join(run, 'last.safetensors'), '--out', exported]).stdout).toMatch(/torch\.nn\.LSTM/);
    const t = readSafetensors(exported).tensors;
    expect(t.get('rnn.weight_ih_l0')!.shape).toEqual([4 * 192, ck.vocab.size]);
    expect(bptt(['import', '--checkpoint', exported, '--out', join(dir, 'back.safetensors')]).code).toBe(0);
    const back = loadCheckpoint(join(dir, 'back.safetensors'));
    for (const n of ck.layout.names) expect(Buffer.from(back.tensors.get(n)!.data.buffer).equals(Buffer.from(ck.tensors.get(n)!.data.buffer)), n).toBe(true);
    const s = bptt(['sample', '--checkpoint', join(run, 'last.safetensors'), '--prefix', 'five', '--length', '30', '--temperature', '0']);
    expect(s.code).toBe(0);
    expect(s.stdout.startsWith('five')).toBe(true);
    const r = JSON.parse(bptt(['inspect', '--checkpoint', join(run, 'last.safetensors'), '--text', 'twenty-one twenty', '--json']).stdout);
    expect(r.cell).toBe('lstm');
    expect(r.dc_norms).toHaveLength(16);
    expect(Object.keys(r.grad_norms)).toContain('W_hc');
    // --last-only: the gradient of the last prediction alone; nothing flows into the last step from later ones
    const last = JSON.parse(bptt(['inspect', '--checkpoint', join(run, 'last.safetensors'), '--text', 'twenty-one twenty', '--json', '--last-only']).stdout);
    expect(last.loss_at).toBe('last');
    expect(last.dh_norms).toHaveLength(16);
    expect(last.loss).not.toBeCloseTo(r.loss, 6);
    // the last step's own prediction reaches its h: that gradient is never zero (nor NaN)
    const gradientAtLastStep: number = last.dh_norms[15];
    expect(gradientAtLastStep).toBeGreaterThan(0);
  });

  const torchPython = findTorchPython();
  failInCiWithout('the nn.LSTM comparison', torchPython !== undefined, TORCH_MISSING);
  it.skipIf(!torchPython)('torch.nn.LSTM with the exported tensors computes bptt\'s logits and generates bptt\'s text', () => {
    expectTorchAgrees(torchPython!, join(dir, 'l.torch.safetensors'), join(dir, 'straight', 'last.safetensors'));
  });
});

describe('LSTM gate kernels, WASM SIMD against the TypeScript reference', () => {
  it.each([['simd'], ['relaxed-simd']] as const)('%s: H not a multiple of 4 (the scalar tail), forward and backward, with the dc trace', (variant) => {
    const B = 3, H = 7, n = B * H;
    const w = new WasmBlas(compileKernels(variant), createSharedMemory((RESERVED_LOW_BYTES / 4 + 64 * n) * 4));
    const r = new RefBlas(RESERVED_LOW_BYTES / 4 + 64 * n, 'f64');
    const base = RESERVED_LOW_BYTES / 4;
    const A = base, cPrev = A + 4 * n, c = cPrev + n, tc = c + n, h = tc + n, dh = h + n, dc = dh + n, trace = dc + n;
    const rng = new Rng(4);
    for (let k = 0; k < 8 * n; k++) { const x = Math.fround(rng.normal() * 2); w.f[base + k] = x; r.f[base + k] = x; }
    for (const b of [w, r]) {
      b.lstmGatesForward(B, H, A, cPrev, c, tc, h);
      b.lstmGatesBackward(B, H, A, cPrev, tc, dh, dc, trace);
    }
    for (const [off, len, what] of [[A, 4 * n, 'dA'], [c, n, 'c'], [tc, n, 'tanh c'], [h, n, 'h'], [dc, n, 'dc'], [trace, n, 'dc trace']] as const) {
      for (let k = 0; k < len; k++) expect(Math.abs(w.f[off + k] - r.f[off + k]), `${what}[${k}]`).toBeLessThanOrEqual(2e-6 + 2e-6 * Math.abs(r.f[off + k]));
    }
  });
});
