// The flat parameter buffer: layout, named ndarray views (no copies), D2L init; and clipping by
// global norm: the clipped norm is min(||g||, theta) and the direction is unchanged.
import { describe, expect, it } from 'vitest';
import { createWasmBlas, RESERVED_LOW_BYTES } from '../src/blas/loader.js';
import { initParams, paramLayout, readTensor, TENSOR_NAMES, trainFlopsPerToken, viewsOf } from '../src/model/params.js';
import { clipFactor } from '../src/optim/clip.js';
import { Rng } from '../src/util/rng.js';

describe('parameter layout and views', () => {
  const layout = paramLayout({ V: 1027, H: 256 });

  it('D2L shapes, 16-element (64-byte) aligned offsets, no overlap', () => {
    expect(TENSOR_NAMES.map((n) => layout.tensors[n].shape)).toEqual([[1027, 256], [256, 256], [256], [256, 1027], [1027]]);
    let end = 0;
    for (const n of TENSOR_NAMES) {
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
    expect(trainFlopsPerToken({ V: 1027, H: 256 })).toBe(1_970_688);
    expect(trainFlopsPerToken({ V: 1027, H: 256, cell: 'lstm' })).toBe(6 * 256 * 1027 + 24 * 256 * 256);
  });
});

describe('clipping by global L2 norm', () => {
  it.each([[0.01, 'large gradient: clipped to theta'], [1e6, 'small gradient: unchanged']] as const)('theta %s (%s)', (theta, _label) => {
    const n = 1000;
    const blas = createWasmBlas(n * 8 + RESERVED_LOW_BYTES);
    const g = RESERVED_LOW_BYTES / 4, orig = g + n;
    const rng = new Rng(2);
    for (let k = 0; k < n; k++) blas.f[g + k] = blas.f[orig + k] = rng.normal();
    const norm = Math.sqrt(blas.sumsq(n, g));
    blas.scal(n, clipFactor(norm, theta), g);
    const clipped = Math.sqrt(blas.sumsq(n, g));
    expect(clipped).toBeCloseTo(Math.min(norm, theta), 6);
    // direction: cosine similarity 1
    expect(blas.dot(n, g, orig) / (clipped * norm)).toBeCloseTo(1, 6);
  });

  it('factor is min(theta/||g||, 1)', () => {
    expect(clipFactor(2, 0.5)).toBe(0.25);
    expect(clipFactor(0.1, 0.5)).toBe(1);
    expect(clipFactor(0, 0.5)).toBe(1);
  });
});
