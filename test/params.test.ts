// The flat parameter buffer: layout, named ndarray views (no copies), D2L init; and clipping by
// global norm: the clipped norm is min(||g||, theta) and the direction is unchanged.
import { describe, expect, it } from 'vitest';
import { createWasmBlas, RESERVED_LOW_BYTES } from '../src/blas/loader.js';
import { initParams, paramLayout, readTensor, trainFlopsPerToken, viewsOf } from '../src/model/params.js';
import { DEFAULTS } from '../src/config/schema.js';
import { clipFactor } from '../src/optim/clip.js';
import { applyUpdate, optimStepOf } from '../src/optim/optimizers.js';
import { Rng } from '../src/util/rng.js';
import { desc, RNN_TENSORS } from './helpers.js';

describe('initialization, every cell at every depth', () => {
  // weights N(0, s^2), biases exactly 0, padding (what no named tensor covers) 0: the stacked biases
  // are named l{k}.b_*, and an init that looked for names starting with b_ drew them at random
  it.each([
    ['rnn', 1], ['rnn', 3], ['gru', 1], ['gru', 2], ['lstm', 1], ['lstm', 2], ['lstm', 4],
  ] as const)('%s with %i layer(s)', (cell, layers) => {
    const scale = 0.05;
    const layout = paramLayout(desc({ cell, act: 'tanh', layers, gruReset: 'after' }, { V: 37, H: 64 }));
    const heap = new Float64Array(layout.numParams).fill(NaN);
    const rng = new Rng(11);
    initParams(layout, heap, 0, () => rng.normal(), scale);
    const covered = new Uint8Array(layout.numParams);
    let biases = 0;
    for (const name of layout.names) {
      const t = layout.tensors[name];
      const x = readTensor(t, heap, 0);
      const rows = t.shape.length === 2 ? t.shape[0] : 1;
      for (let r = 0; r < rows; r++) covered.fill(1, t.offset + r * t.rowStride, t.offset + r * t.rowStride + t.size / rows);
      if (t.shape.length === 1) {
        biases++;
        expect([...x].every((v) => v === 0), `${name} is a bias: exactly 0`).toBe(true);
        continue;
      }
      const mean = x.reduce((a, v) => a + v, 0) / x.length;
      const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length);
      // a few thousand draws: the sample sd is within 10% of s, the mean within 4 standard errors
      expect(sd / scale, `${name}: sd`).toBeGreaterThan(0.9);
      expect(sd / scale, `${name}: sd`).toBeLessThan(1.1);
      expect(Math.abs(mean), `${name}: mean`).toBeLessThan((4 * scale) / Math.sqrt(x.length));
    }
    expect(biases).toBe(layers * (cell === 'rnn' ? 1 : cell === 'gru' ? 4 : 4) + 1);
    for (let k = 0; k < layout.numParams; k++) if (!covered[k]) expect(heap[k], `padding at ${k}`).toBe(0);
  });
});

describe('parameter layout and views', () => {
  const layout = paramLayout(desc({ cell: 'rnn', act: 'tanh' }, { V: 1027, H: 256 }));

  it('D2L shapes, 16-element (64-byte) aligned offsets, no overlap', () => {
    expect(RNN_TENSORS.map((n) => layout.tensors[n].shape)).toEqual([[1027, 256], [256, 256], [256], [256, 1027], [1027]]);
    let end = 0;
    for (const n of RNN_TENSORS) {
      const t = layout.tensors[n];
      expect(t.offset % 16).toBe(0);
      expect(t.offset).toBeGreaterThanOrEqual(end);
      end = t.offset + t.size;
    }
    const total = layout.numParams;
    expect(total).toBeGreaterThanOrEqual(end);
    expect(layout.numParams % 16).toBe(0);
  });

  it('views index the flat buffer row-major and write through without copying', () => {
    const heap = new Float32Array(16 + layout.numParams);
    const v = viewsOf(layout, heap, 16);
    v.W_hh.set(3, 5, 7.5);
    expect(heap[16 + layout.tensors.W_hh.offset + 3 * 256 + 5]).toBe(7.5);
    heap[16 + layout.tensors.W_hq.offset + 2 * 1027 + 1000] = -1;
    expect(v.W_hq.get(2, 1000)).toBe(-1);
    expect(v.b_q.shape).toEqual([1027]);
    expect(v.W_xh.data.buffer).toBe(heap.buffer);
  });

  it('D2L init: weights ~ N(0, 0.01^2), biases zero', () => {
    const heap = new Float32Array(layout.numParams);
    const rng = new Rng(0);
    initParams(layout, heap, 0, () => rng.normal(), 0.01);
    const v = viewsOf(layout, heap, 0);
    // a view is the whole heap seen with an offset and strides; readTensor copies its own elements
    expect(v.W_hq.offset).toBe(layout.tensors.W_hq.offset);
    const w = Array.from(readTensor(layout.tensors.W_hq, heap, 0));
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(1e-4);
    expect(std).toBeGreaterThan(0.0099);
    expect(std).toBeLessThan(0.0101);
    expect(Array.from(readTensor(layout.tensors.b_h, heap, 0)).every((x) => x === 0)).toBe(true);
  });

  it('FLOPs per token of the D2L config: 6HV + 6H^2 = 1.97 M (RNN), 6HV + 24H^2 = 3.15 M (LSTM)', () => {
    expect(trainFlopsPerToken(desc({ cell: 'rnn', act: 'tanh' }, { V: 1027, H: 256 }))).toBe(1_970_688);
    expect(trainFlopsPerToken(desc({ cell: 'lstm', act: 'tanh' }, { V: 1027, H: 256 }))).toBe(6 * 256 * 1027 + 24 * 256 * 256);
  });
});

describe('clipping by global L2 norm', () => {
  // through the path training takes: the factor is folded into the update (engine/step.ts publishes
  // it at the norm barrier and applyUpdate steps by lr * factor), the clipped g never exists
  it.each([[0.01, 'large gradient: clipped to theta'], [1e6, 'small gradient: unchanged']] as const)('theta %s (%s)', (theta, _label) => {
    const n = 1000, lr = 100;
    const blas = createWasmBlas(n * 12 + RESERVED_LOW_BYTES);
    const p = RESERVED_LOW_BYTES / 4, g = p + n, p0 = g + n;
    const rng = new Rng(2);
    for (let k = 0; k < n; k++) { blas.f[g + k] = rng.normal(); blas.f[p + k] = blas.f[p0 + k] = rng.normal(); }
    const norm = Math.sqrt(blas.sumsq(n, g));
    const factor = clipFactor(norm, theta);
    applyUpdate(blas, optimStepOf({ ...DEFAULTS.optim, kind: 'sgd' }), p, g, [], 0, n, lr, factor, 1);
    // the step taken, divided by lr, is the clipped gradient
    const step = Array.from({ length: n }, (_, k) => (blas.f[p0 + k] - blas.f[p + k]) / lr);
    const stepNorm = Math.hypot(...step);
    expect(stepNorm).toBeCloseTo(Math.min(norm, theta), 5);
    // its direction is the gradient's: cosine similarity 1
    const dot = step.reduce((s, x, k) => s + x * blas.f[g + k], 0);
    expect(dot / (stepNorm * norm)).toBeCloseTo(1, 5);
  });

  it('factor is min(theta/||g||, 1)', () => {
    expect(clipFactor(2, 0.5)).toBe(0.25);
    expect(clipFactor(0.1, 0.5)).toBe(1);
    expect(clipFactor(0, 0.5)).toBe(1);
  });
});
