// Correctness of the BPTT code: central finite differences in float64 for every tensor and the
// initial state, for each activation; the seed chapter's closed forms for the identity activation;
// and the float32 WASM path against the float64 reference.
import { describe, expect, it } from 'vitest';
import { modelBackward, modelForward, modelLoss, xentForwardBackward } from '../src/model/model.js';
import { close, expectWasmMatchesFloat64, RNN_TENSORS, tinyModel, type TinyModel } from './helpers.js';

const shape = { V: 5, H: 4, T: 3, B: 2 };
const N = shape.T * shape.B;

function meanLoss(m: TinyModel): number {
  return modelLoss(m.spec, m.blas, m.P, m.ws) / N;
}

function analyticGrads(m: TinyModel): void {
  m.blas.fill(m.layout.numParams, 0, m.gBase);
  modelForward(m.spec, m.blas, m.P, m.ws);
  xentForwardBackward(m.blas, m.ws, 1 / N);
  modelBackward(m.spec, m.blas, m.P, m.G, m.ws);
}

describe.each(['tanh', 'identity', 'relu'] as const)('finite-difference gradient check, %s, float64', (act) => {
  it('matches every parameter and dL/dh_0', () => {
    const m = tinyModel(shape, act, 3);
    analyticGrads(m);
    const f = m.blas.f;
    const eps = 1e-6;
    let checked = 0;
    for (const name of RNN_TENSORS) {
      const t = m.layout.tensors[name];
      for (let k = 0; k < t.size; k++) {
        const at = m.pBase + t.offset + k;
        const saved = f[at];
        f[at] = saved + eps; const up = meanLoss(m);
        f[at] = saved - eps; const down = meanLoss(m);
        f[at] = saved;
        const numeric = (up - down) / (2 * eps);
        const analytic = f[m.gBase + t.offset + k];
        expect(close(analytic, numeric, 1e-8, 1e-6), `${name}[${k}] analytic ${analytic} numeric ${numeric}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(5 * 4 + 4 * 4 + 4 + 4 * 5 + 5);
    // dL/dh_0: perturb the initial state
    analyticGrads(m);
    const dh0 = Array.from(f.subarray(m.ws.layers[0].dh0, m.ws.layers[0].dh0 + shape.B * shape.H));
    for (let k = 0; k < shape.B * shape.H; k++) {
      const at = m.ws.layers[0].hs + k;
      const saved = f[at];
      f[at] = saved + eps; const up = meanLoss(m);
      f[at] = saved - eps; const down = meanLoss(m);
      f[at] = saved;
      expect(close(dh0[k], (up - down) / (2 * eps), 1e-8, 1e-6), `dh0[${k}]`).toBe(true);
    }
  });
});

// The chapter's notation: column vectors, W_hh(chapter) = W_hh(ours)^T, W_qh = W_hq^T, no biases
// needed for the closed forms (biases do not change them for the identity activation).
describe('closed forms of the seed chapter (identity activation)', () => {
  const T = 5, B = 2, V = 6, H = 3;
  const m = tinyModel({ V, H, T, B }, 'identity', 11, 0.6);
  const f = m.blas.f;
  const trace = 40000; // (T, B, H) scratch in the ref heap, above everything tinyModel allocated
  m.blas.fill(m.layout.numParams, 0, m.gBase);
  modelForward(m.spec, m.blas, m.P, m.ws);
  xentForwardBackward(m.blas, m.ws, 1 / (T * B));
  modelBackward(m.spec, m.blas, m.P, m.G, m.ws, B, { trace: [{ dh: trace }] });

  const Whh = (r: number, c: number) => f[m.P.W_hh + c * H + r]; // chapter W_hh[r][c] = ours[c][r]
  const Wqh = (r: number, c: number) => f[m.P.W_hq + c * V + r]; // chapter W_qh (V x H) = W_hq^T
  const dO = (t: number, b: number, v: number) => f[m.ws.logits + (t * B + b) * V + v]; // dL/do_t (1-based t in the text)
  const h = (t: number, b: number, k: number) => f[m.ws.layers[0].hs + (t * B + b) * H + k]; // h_t, t = 0..T

  function matVec(M: (r: number, c: number) => number, rows: number, cols: number, x: number[]): number[] {
    const y = new Array(rows).fill(0);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[r] += M(r, c) * x[c];
    return y;
  }

  it('dL/dh_t = sum_{i=t..T} (W_hh^T)^(T-i) W_qh^T dL/do_(T+t-i)', () => {
    const WhhT = (r: number, c: number) => Whh(c, r);
    const WqhT = (r: number, c: number) => Wqh(c, r);
    for (let b = 0; b < B; b++) {
      for (let t = 1; t <= T; t++) {
        const sum = new Array(H).fill(0);
        for (let i = t; i <= T; i++) {
          const s = T + t - i;
          let v = matVec(WqhT, H, V, Array.from({ length: V }, (_, q) => dO(s - 1, b, q)));
          for (let p = 0; p < T - i; p++) v = matVec(WhhT, H, H, v);
          for (let k = 0; k < H; k++) sum[k] += v[k];
        }
        for (let k = 0; k < H; k++) {
          const code = f[trace + ((t - 1) * B + b) * H + k];
          expect(close(code, sum[k], 1e-12, 1e-9), `t=${t} b=${b} k=${k}: ${code} vs ${sum[k]}`).toBe(true);
        }
      }
    }
  });

  it('dL/dW_qh = sum_t dL/do_t h_t^T, dL/dW_hh = sum_t dL/dh_t h_(t-1)^T, dL/dW_hx = sum_t dL/dh_t x_t^T', () => {
    const dh = (t: number, b: number, k: number) => f[trace + ((t - 1) * B + b) * H + k];
    for (let q = 0; q < V; q++) for (let k = 0; k < H; k++) {
      let s = 0;
      for (let t = 1; t <= T; t++) for (let b = 0; b < B; b++) s += dO(t - 1, b, q) * h(t, b, k);
      expect(close(f[m.G.W_hq + k * V + q], s, 1e-12, 1e-9)).toBe(true); // chapter [q][k] = ours [k][q]
    }
    for (let r = 0; r < H; r++) for (let c = 0; c < H; c++) {
      let s = 0;
      for (let t = 1; t <= T; t++) for (let b = 0; b < B; b++) s += dh(t, b, r) * h(t - 1, b, c);
      expect(close(f[m.G.W_hh + c * H + r], s, 1e-12, 1e-9)).toBe(true);
    }
    for (let r = 0; r < H; r++) for (let d = 0; d < V; d++) {
      let s = 0;
      for (let t = 1; t <= T; t++) for (let b = 0; b < B; b++) if (m.blas.i[m.ws.x + (t - 1) * B + b] === d) s += dh(t, b, r);
      expect(close(f[m.G.W_xh + d * H + r], s, 1e-12, 1e-9)).toBe(true);
    }
  });
});

describe('float32 WASM path against the float64 reference', () => {
  it.each(['tanh', 'identity', 'relu'] as const)('%s: loss and all gradients at V=67 H=33 T=7 B=5', (act) => {
    expectWasmMatchesFloat64({ cell: 'rnn', act }, { V: 67, H: 33, T: 7, B: 5 }, { seed: 5, tol: 1e-5 });
  });
});
