// Stacked layers and dropout (issue 9, D2L 6.9): float64 finite differences for every cell and
// both GRU conventions at 2 layers (and 3 for one cell), with and without dropout, every named
// tensor and every layer's initial state; float32 WASM against float64; the dropout mask as a pure
// function of (seed, minibatch, row, t, layer, unit); 1 vs N workers and --deterministic with
// dropout on; the command line (config errors, checkpoint names and state shapes, resume, export to
// torch with num_layers and torch's logits, sample, inspect).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileKernels, createSharedMemory, createWasmBlas, RESERVED_LOW_BYTES, WasmBlas } from '../src/blas/loader.js';
import { RefBlas } from '../src/blas/ref.js';
import type { Blas } from '../src/blas/types.js';
import type { TrainConfig } from '../src/config/schema.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { applyDropout, dropoutKeeps, type DropoutKey } from '../src/model/dropout.js';
import { modelLoss } from '../src/model/model.js';
import { stateTableOf } from '../src/model/state.js';
import { paramLayout, trainFlopsPerToken } from '../src/model/params.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { Rng } from '../src/util/rng.js';
import { bptt, minibatchesPerEpoch, runAndSignalAt, D2L_ARGS } from './cli_helpers.js';
import { buildModel, close, desc, expectWasmMatchesFloat64, gradcheckBuffer, gradcheckTensors, modelGrads, type BuiltModel, type CellSpec } from './helpers.js';
import { expectWorkerInvariance, paramsAfter, D2L_BASE } from './train_helpers.js';
import { expectTorchAgrees, findTorchPython } from './torch_helpers.js';
import { failInCiWithout, TORCH_MISSING } from './prereq.js';

const shape = { V: 5, H: 4, T: 3, B: 2 };
const N = shape.T * shape.B;
const KEY: DropoutKey = { seed: 7, minibatch: 3, row0: 1 };

const build = (blas: Blas, base: number, spec: CellSpec, seed: number, s = shape) => buildModel(blas, base, spec, seed, s);
const grads = (blas: Blas, m: BuiltModel, opts = {}, n = N) => modelGrads(blas, m, opts, n);

const CELLS: Array<[string, CellSpec]> = [
  ['rnn tanh', { cell: 'rnn', act: 'tanh' }],
  ['rnn relu', { cell: 'rnn', act: 'relu' }],
  ['rnn identity', { cell: 'rnn', act: 'identity' }],
  ['gru reset before', { cell: 'gru', act: 'tanh', gruReset: 'before' }],
  ['gru reset after', { cell: 'gru', act: 'tanh', gruReset: 'after' }],
  ['lstm', { cell: 'lstm', act: 'tanh' }],
];

describe.each(CELLS)('%s, stacked: finite differences in float64', (_name, cellSpec) => {
  it.each([[2, 0], [2, 0.4]] as const)('%i layers, dropout %s: every element of every named tensor, every layer\'s dL/dh_0 (and dL/dc_0)', (layers, dropout) => {
    const spec: CellSpec = { ...cellSpec, layers, dropout };
    const blas = new RefBlas(1 << 16, 'f64');
    const m = build(blas, 0, spec, 5);
    const f = blas.f;
    const opts = dropout > 0 ? { dropout: KEY } : {};
    const loss = () => modelLoss(m.model, blas, m.P, m.ws, shape.B, opts) / N;
    grads(blas, m, opts);
    const { V, H } = shape;
    const G = { rnn: 1, gru: 3, lstm: 4 }[spec.cell];
    const extra = spec.gruReset === 'after' ? H : 0;
    expect(gradcheckTensors(f, m.layout, m.pBase, m.gBase, loss)).toBe(G * (V * H + H * H + H) + extra + G * (H * H + H * H + H) + extra + H * V + V);
    m.ws.layers.forEach((lw, l) => {
      grads(blas, m, opts);
      const n = shape.B * H;
      const dh0 = Array.from(f.subarray(lw.dh0, lw.dh0 + n));
      const dc0 = lw.dc === undefined ? null : Array.from(f.subarray(lw.dc, lw.dc + n));
      gradcheckBuffer(f, lw.hs, dh0, loss, `layer ${l} dh0`);
      if (dc0) gradcheckBuffer(f, lw.cs!, dc0, loss, `layer ${l} dc0`);
    });
  });
});

describe('three layers', () => {
  it('gru (reset after), dropout 0.3: every tensor of every layer', () => {
    const spec: CellSpec = { cell: 'gru', act: 'tanh', gruReset: 'after', layers: 3, dropout: 0.3 };
    const blas = new RefBlas(1 << 16, 'f64');
    const m = build(blas, 0, spec, 8);
    const opts = { dropout: KEY };
    grads(blas, m, opts);
    const checked = gradcheckTensors(blas.f, m.layout, m.pBase, m.gBase, () => modelLoss(m.model, blas, m.P, m.ws, shape.B, opts) / N);
    expect(checked).toBe(m.layout.names.reduce((s, n) => s + m.layout.tensors[n].size, 0));
  });
});

describe('stacked, float32 WASM against the float64 reference', () => {
  it.each(CELLS)('%s, 2 layers, dropout 0.25: loss and every gradient', (_name, cellSpec) => {
    expectWasmMatchesFloat64({ ...cellSpec, layers: 2, dropout: 0.25 }, { V: 23, H: 13, T: 6, B: 5 }, { opts: { dropout: KEY } });
  });
});

describe('a padded recurrent weight (rows of 1024 floats get 16 more, model/cells/types.ts)', () => {
  it.each([['lstm H=256', { cell: 'lstm', act: 'tanh', layers: 2 }, 256], ['rnn H=1024', { cell: 'rnn', act: 'tanh' }, 1024]] as const)(
    '%s: the named views skip the padding, WASM matches float64, and the padding stays zero in the gradient', (_n, spec, H) => {
      const s = { V: 7, H, T: 3, B: 2 };
      const layout = paramLayout(desc(spec, { V: 7, H }));
      const Wh = layout.blocks[spec.cell === 'lstm' ? 'l1.W_h' : 'W_h'];
      const width = (spec.cell === 'lstm' ? 4 : 1) * H;
      expect(Wh.rowStride).toBe(width + 16);
      // float32 sums over up to 1024 terms: a looser bound than the small models' 2e-5
      const { ref, wasm, a, b } = expectWasmMatchesFloat64(spec, s, { seed: 3, tol: 5e-5 });
      // the padding after every row but the last (the next block starts right after the last row)
      let padding = 0, nonZero = 0;
      for (let r = 0; r < H - 1; r++) for (let c = width; c < Wh.rowStride; c++) {
        padding++;
        if (wasm.f[b.gBase + Wh.offset + r * Wh.rowStride + c] !== 0 || wasm.f[b.pBase + Wh.offset + r * Wh.rowStride + c] !== 0) nonZero++;
      }
      expect(padding).toBe((H - 1) * 16);
      expect(nonZero).toBe(0);
      // finite differences in float64 on sampled elements of every recurrent tensor: the cells index
      // W_h at its padded stride (a wrong stride would agree between WASM and float64 but not here)
      grads(ref, a, {}, s.T * s.B);
      const rng = new Rng(2);
      const loss = () => modelLoss(a.model, ref, a.P, a.ws) / (s.T * s.B);
      for (const name of layout.names.filter((n) => /W_h[a-z]$/.test(n) && n !== 'W_hq')) {
        const t = layout.tensors[name];
        for (let k = 0; k < 6; k++) {
          const at = t.offset + rng.int(H) * t.rowStride + rng.int(H);
          const saved = ref.f[a.pBase + at];
          ref.f[a.pBase + at] = saved + 1e-6; const up = loss();
          ref.f[a.pBase + at] = saved - 1e-6; const down = loss();
          ref.f[a.pBase + at] = saved;
          expect(close(ref.f[a.gBase + at], (up - down) / 2e-6, 1e-8, 1e-5), `${name} @${at}`).toBe(true);
        }
      }
    });
});

describe('layout, state and FLOPs of a stack', () => {
  it('names layer k\'s tensors l{k}.<D2L name>; layer 0 reads V inputs, the layers above H; the output layer closes the list', () => {
    const layout = paramLayout(desc({ cell: 'lstm', act: 'tanh', layers: 2 }, { V: 7, H: 4 }));
    expect(layout.names.slice(0, 3)).toEqual(['l0.W_xi', 'l0.W_hi', 'l0.b_i']);
    expect(layout.names.slice(12, 15)).toEqual(['l1.W_xi', 'l1.W_hi', 'l1.b_i']);
    expect(layout.names.slice(-2)).toEqual(['W_hq', 'b_q']);
    expect(layout.tensors['l0.W_xc'].shape).toEqual([7, 4]);
    expect(layout.tensors['l1.W_xc'].shape).toEqual([4, 4]);
    // one layer: no prefix, D2L's names, as before layers existed
    expect(paramLayout(desc({ cell: 'lstm', act: 'tanh' }, { V: 7, H: 4 })).names[0]).toBe('W_xi');
    const table = stateTableOf(desc({ cell: 'lstm', act: 'tanh', layers: 3 }, { V: 7, H: 4 }), 5, 100);
    expect([table.names, table.partSize, table.size]).toEqual([['h', 'c'], 3 * 5 * 4, 2 * 3 * 5 * 4]);
    // state.h (L, rows, H) then state.c: c of layer 1, row 2 sits after all of h and c's layer 0
    expect(table.at(1, 1, 2)).toBe(100 + ((1 * 3 + 1) * 5 + 2) * 4);
  });

  it('FLOPs per token: 6HV + per layer 6GH(H + in), in = 0 for the gather, H above it', () => {
    const [V, H] = [1027, 256];
    expect(trainFlopsPerToken(desc({ cell: 'lstm', act: 'tanh', layers: 2 }, { V, H }))).toBe(6 * H * V + 24 * H * H + 24 * H * 2 * H);
    expect(trainFlopsPerToken(desc({ cell: 'gru', act: 'tanh', layers: 3 }, { V, H }))).toBe(6 * H * V + 18 * H * H + 2 * 18 * H * 2 * H);
    expect(trainFlopsPerToken(desc({ cell: 'rnn', act: 'tanh' }, { V, H }))).toBe(6 * H * V + 6 * H * H);
  });
});

describe('dropout masks', () => {
  it('keep about 1 - p of the units, scale the kept ones by 1/(1 - p), and are a pure function of (seed, minibatch, row, t, layer, unit)', () => {
    const [T, B, H, p] = [20, 8, 64, 0.3];
    const n = T * B * H;
    const blas = createWasmBlas((RESERVED_LOW_BYTES / 4 + 8 * n) * 4);
    const f = blas.f, base = RESERVED_LOW_BYTES / 4, src = base, out = base + n, scratch = base + 2 * n;
    for (let k = 0; k < n; k++) f[src + k] = 1 + (k % 7);
    applyDropout(blas, src, out, p, { seed: 1, minibatch: 5, row0: 0 }, 1, T, B, H);
    let kept = 0;
    for (let k = 0; k < n; k++) {
      if (f[out + k] !== 0) { kept++; expect(f[out + k]).toBe(Math.fround(f[src + k] * Math.fround(1 / (1 - p)))); }
    }
    // 10,240 units: the kept fraction is within 4 standard deviations (0.018) of 0.7
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.018);
    // the same rows computed as two shards (rows 0..2 and 3..7, as two workers would) give the same mask
    const shard = (lo: number, hi: number) => {
      const rows = hi - lo, m = T * rows * H;
      for (let t = 0; t < T; t++) for (let r = 0; r < rows; r++) for (let j = 0; j < H; j++) f[scratch + (t * rows + r) * H + j] = f[src + (t * B + lo + r) * H + j];
      applyDropout(blas, scratch, scratch + m, p, { seed: 1, minibatch: 5, row0: lo }, 1, T, rows, H);
      for (let t = 0; t < T; t++) for (let r = 0; r < rows; r++) for (let j = 0; j < H; j++) {
        expect(f[scratch + m + (t * rows + r) * H + j]).toBe(f[out + (t * B + lo + r) * H + j]);
        expect(f[scratch + m + (t * rows + r) * H + j] !== 0).toBe(dropoutKeeps(p, { seed: 1, minibatch: 5 }, 1, lo + r, t, j));
      }
    };
    shard(0, 3);
    shard(3, 8);
    // every field of the key changes the mask
    const maskOf = (key: DropoutKey, layer: number) => {
      blas.fill(n, 1, scratch);
      applyDropout(blas, scratch, scratch + n, p, key, layer, T, B, H);
      return Buffer.from(f.slice(scratch + n, scratch + 2 * n).buffer);
    };
    const first = maskOf({ seed: 1, minibatch: 5, row0: 0 }, 1);
    expect(first.equals(maskOf({ seed: 1, minibatch: 5, row0: 0 }, 1))).toBe(true);
    for (const [key, layer] of [[{ seed: 2, minibatch: 5, row0: 0 }, 1], [{ seed: 1, minibatch: 6, row0: 0 }, 1], [{ seed: 1, minibatch: 5, row0: 1 }, 1], [{ seed: 1, minibatch: 5, row0: 0 }, 2]] as const) {
      expect(first.equals(maskOf(key, layer)), JSON.stringify([key, layer])).toBe(false);
    }
    // consecutive units, steps and rows are uncorrelated enough: neighbours agree about as often as chance
    let agree = 0;
    for (let k = 0; k + 1 < n; k++) if ((f[out + k] !== 0) === (f[out + k + 1] !== 0)) agree++;
    expect(Math.abs(agree / (n - 1) - (0.7 * 0.7 + 0.3 * 0.3))).toBeLessThan(0.03);
  });

  it.each([['simd'], ['relaxed-simd']] as const)('the %s kernel gives the TypeScript reference\'s bits (H not a multiple of 4, in place, NaN and -0 inputs, p near 1)', (variant) => {
    for (const [T, B, H, p] of [[3, 5, 7, 0.25], [2, 3, 64, 0.9], [2, 2, 9, 1 - 2 ** -40]] as const) {
      const n = T * B * H, base = RESERVED_LOW_BYTES / 4;
      const w = new WasmBlas(compileKernels(variant), createSharedMemory((base + 4 * n) * 4));
      const r = new RefBlas(base + 4 * n, 'f32');
      const rng = new Rng(n);
      for (let k = 0; k < n; k++) { const x = k === 0 ? NaN : k === 1 ? -0 : Math.fround(rng.normal()); w.f[base + k] = x; r.f[base + k] = x; }
      for (const b of [w, r]) {
        applyDropout(b, base, base + n, p, { seed: 3, minibatch: 11, row0: 2 }, 1, T, B, H);
        applyDropout(b, base, base, p, { seed: 3, minibatch: 12, row0: 2 }, 2, T, B, H); // in place
      }
      expect(Buffer.from(w.f.slice(base, base + 2 * n).buffer).equals(Buffer.from(r.f.slice(base, base + 2 * n).buffer)), `T=${T} B=${B} H=${H} p=${p}`).toBe(true);
      // p just below 1: the threshold must not wrap around to "keep everything"
      if (p > 0.99) for (let k = 0; k < n; k++) expect(w.f[base + n + k]).toBe(0);
    }
  });

  it('are off without a key (evaluation and sampling): the loss is the dropout-free model\'s', () => {
    const spec: CellSpec = { cell: 'lstm', act: 'tanh', layers: 2, dropout: 0.5 };
    const blas = new RefBlas(1 << 16, 'f64');
    const m = build(blas, 0, spec, 3);
    const plain = modelLoss({ ...m.model, dropout: 0 }, blas, m.P, m.ws);
    expect(modelLoss(m.model, blas, m.P, m.ws)).toBe(plain);
    expect(modelLoss(m.model, blas, m.P, m.ws, shape.B, { dropout: KEY })).not.toBe(plain);
  });
});

describe('stacked in training', () => {
  const cfgOf = (cell: 'lstm' | 'gru' | 'rnn', sampler: 'random' | 'consecutive', deterministic: boolean): TrainConfig => ({
    ...D2L_BASE,
    model: { ...D2L_BASE.model, cell, gru_reset: 'after', hidden: 20, layers: 2, dropout: 0.3, init_scale: 0.1 },
    data: { ...D2L_BASE.data, sampler, steps: 9, batch: 7, val_fraction: 0.05, max_chars: 3000 },
    optim: { ...D2L_BASE.optim, lr: 1, clip: 1 },
    run: { ...D2L_BASE.run, epochs: 2, deterministic, sample_every: 0, checkpoint_every: 0, seed: 4 },
  });

  it.each([['lstm', 'consecutive'], ['gru', 'random'], ['rnn', 'consecutive']] as const)(
    '%s, %s, 2 layers, dropout 0.3: 1, 2, 3 workers give the one-thread parameters; --deterministic is bitwise across worker counts', async (cell, sampler) => {
      const det = Buffer.from((await expectWorkerInvariance((deterministic) => cfgOf(cell, sampler, deterministic))).buffer);
      // dropout is on: without it the run goes elsewhere
      const noDrop = cfgOf(cell, sampler, true);
      const plain = Buffer.from((await paramsAfter({ ...noDrop, model: { ...noDrop.model, dropout: 0 } }, 1, 6)).buffer);
      expect(plain.equals(det)).toBe(false);
    });
});

describe('stacked on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bptt-stack-'));
  const ARGS = ['--builtin', 'counting', '--set', 'model.cell=lstm', '--set', 'model.layers=2', '--set', 'model.dropout=0.2',
    '--hidden', '96', '--batch', '4', '--steps', '16', '--lr', '10', '--clip', '1', '--sampler', 'consecutive',
    '--set', 'run.sample_every=0', '--set', 'run.checkpoint_every=0'];

  it('dropout with one layer is a config error naming both keys', () => {
    const r = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--set', 'model.dropout=0.3', '--epochs', '1', '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--set model\.dropout=0\.3: model\.dropout 0\.3 applies between stacked layers, and model\.layers is 1/);
    const r2 = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--set', 'model.layers=0', '--epochs', '1', '--out', join(dir, 'never')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/model\.layers/);
  });

  it('SIGINT mid-epoch, resume: bitwise the uninterrupted run (every layer\'s h and c carried, dropout masks keyed by the global minibatch)', async () => {
    const args = [...ARGS, '--epochs', '3', '--workers', '2'];
    expect(bptt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'straight')]).code).toBe(0);
    // 50 minibatches into epoch 2: the stop lands inside the stretch running then, inside the epoch
    const at = minibatchesPerEpoch(join(dir, 'straight')) + 50;
    expect((await runAndSignalAt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'cut')], 'SIGINT', at)).code).toBe(130);
    const cut = loadCheckpoint(join(dir, 'cut', 'last.safetensors'));
    expect(cut.training!.minibatch).toBeGreaterThan(0);
    expect(cut.tensors.get('state.h')!.shape).toEqual([2, 4, 96]);
    expect(cut.tensors.get('state.c')!.shape).toEqual([2, 4, 96]);
    expect(bptt(['resume', join(dir, 'cut')]).code).toBe(0);
    const all = (p: string) => { const c = loadCheckpoint(p); return Buffer.concat(c.layout.names.map((n) => Buffer.from(c.tensors.get(n)!.data.buffer))); };
    expect(all(join(dir, 'cut', 'last.safetensors')).equals(all(join(dir, 'straight', 'last.safetensors')))).toBe(true);
  });

  it('names l0./l1. tensors; export gives torch num_layers 2 and back is bitwise; import refuses a num_layers that lies; --init checks layers; sample and inspect (per layer) work', () => {
    const ckPath = join(dir, 'straight', 'last.safetensors');
    const ck = loadCheckpoint(ckPath);
    expect(ck.layout.names.slice(0, 2)).toEqual(['l0.W_xi', 'l0.W_hi']);
    expect(ck.tensors.get('l1.W_xi')!.shape).toEqual([96, 96]);
    const exported = join(dir, 's.torch.safetensors');
    expect(bptt(['export', '--checkpoint', ckPath, '--out', exported]).stdout).toMatch(/torch\.nn\.LSTM, hidden 96, num_layers 2, dropout 0\.2/);
    const file = readSafetensors(exported);
    expect(file.metadata.num_layers).toBe('2');
    expect(file.tensors.get('rnn.weight_ih_l0')!.shape).toEqual([4 * 96, ck.vocab.size]);
    expect(file.tensors.get('rnn.weight_ih_l1')!.shape).toEqual([4 * 96, 96]);
    expect(bptt(['import', '--checkpoint', exported, '--out', join(dir, 'back.safetensors')]).stdout).toMatch(/2-layer lstm H=96, dropout 0\.2/);
    const back = loadCheckpoint(join(dir, 'back.safetensors'));
    expect(back.config.model.layers).toBe(2);
    for (const n of ck.layout.names) expect(Buffer.from(back.tensors.get(n)!.data.buffer).equals(Buffer.from(ck.tensors.get(n)!.data.buffer)), n).toBe(true);
    // a torch file whose metadata promises more layers than it holds, or nonsense: one clear line each
    for (const [layers, why] of [['3', /missing tensor rnn\.weight_ih_l2 \(metadata\.num_layers is 3\)/], ['two', /metadata\.num_layers "two": expected an integer in 1\.\.64/]] as const) {
      const hostile = join(dir, `hostile-${layers}.safetensors`);
      writeSafetensors(hostile, file.tensors, { ...file.metadata, num_layers: layers });
      const r = bptt(['import', '--checkpoint', hostile, '--out', join(dir, `hostile-${layers}-back.safetensors`)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    const init = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--set', 'model.cell=lstm', '--hidden', '96', '--epochs', '1', '--init', ckPath, '--out', join(dir, 'init1')]);
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(/its model\.layers is 2, the config's is 1; set --set model\.layers=2/);
    const s = bptt(['sample', '--checkpoint', ckPath, '--prefix', 'five', '--length', '30', '--temperature', '0']);
    expect(s.code).toBe(0);
    expect(s.stdout.startsWith('five')).toBe(true);
    const r = JSON.parse(bptt(['inspect', '--checkpoint', ckPath, '--text', 'twenty-one twenty', '--json']).stdout);
    expect(r.layers).toHaveLength(2);
    expect(r.layers[0].dc_norms).toHaveLength(16);
    expect(r.dh_norms).toEqual(r.layers[1].dh_norms);
    expect(Object.keys(r.grad_norms)).toContain('l1.W_hc');
    expect(bptt(['inspect', '--checkpoint', ckPath, '--text', 'twenty-one twenty']).stdout).toMatch(/\|\|dL\/dh_t\|\| layer 0, reads the characters/);
  });

  const torchPython = findTorchPython();
  failInCiWithout('the stacked nn.LSTM/nn.GRU comparison', torchPython !== undefined, TORCH_MISSING);
  it.skipIf(!torchPython)('torch.nn.LSTM (num_layers 2) with the exported tensors computes bptt\'s logits and generates bptt\'s text', () => {
    expectTorchAgrees(torchPython!, join(dir, 's.torch.safetensors'), join(dir, 'straight', 'last.safetensors'));
  });

  it.skipIf(!torchPython)('torch.nn.GRU and nn.RNN with 3 layers compute bptt\'s logits', () => {
    for (const [cell, extra] of [['gru', ['--set', 'model.gru_reset=after']], ['rnn', []]] as const) {
      const run = join(dir, `${cell}3`);
      expect(bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--set', `model.cell=${cell}`, ...extra, '--set', 'model.layers=3', '--set', 'model.dropout=0.1',
        '--hidden', '24', '--batch', '8', '--steps', '12', '--lr', '5', '--clip', '1', '--epochs', '1', '--set', 'run.sample_every=0', '--quiet', '--out', run]).code).toBe(0);
      const ckPath = join(run, 'last.safetensors');
      const exported = join(dir, `${cell}3.torch.safetensors`);
      expect(bptt(['export', '--checkpoint', ckPath, '--out', exported]).code).toBe(0);
      expectTorchAgrees(torchPython!, exported, ckPath, true);
    }
  });
});
