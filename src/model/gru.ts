// The GRU of D2L 6.7, forward over T steps and full BPTT through its gates, in both conventions
// (model.gru_reset), in the layout of model/params.ts (gates fused: W_x (V,3H), W_h (H,3H), b (3H),
// order z, r, h~; plus b_hn (H) for "after"):
//   Z = σ(x W_xz + h W_hz + b_z)   R = σ(x W_xr + h W_hr + b_r)   H_t = Z ⊙ h + (1 − Z) ⊙ H~
//   before (D2L, Cho et al.):   H~ = tanh(x W_xh + (R ⊙ h) W_hh + b_h)
//   after (PyTorch, cuDNN):     H~ = tanh(x W_xh + b_h + R ⊙ (h W_hh + b_hn))
// With "after" all three hidden products of a step are one GEMM h [W_hz | W_hr | W_hh]; with
// "before" the candidate's product needs R first, so a step has two. The input contributions of
// all steps are one gather; dW_h is GEMMs after the loop, dW_x one scatter-add. The forward gate
// math is Blas kernels (WASM SIMD in training, the float64 TypeScript reference in the gradient
// checks); the backward's, which has no transcendental functions, is TypeScript over the heap.
// Gradients ACCUMULATE.

import type { Blas } from '../blas/types.js';
import { gateInputs, outputBackward, outputForward, type Workspace } from './bptt.js';
import type { TensorOffsets } from './params.js';

export type GruReset = 'before' | 'after';


/** Forward from hs[0]; fills hs[1..T], the gate activations (z, r, h~), aux and the logits. */
export function gruForward(blas: Blas, reset: GruReset, P: TensorOffsets, ws: Workspace, B = ws.shape.B): void {
  const { H, T } = ws.shape;
  const G = 3 * H;
  const gates = ws.gates!, aux = ws.aux!;
  blas.setScratch(ws.pack);
  gateInputs(blas, P, ws, G, B);
  for (let t = 0; t < T; t++) {
    const A = gates + t * B * G;
    const hPrev = ws.hs + t * B * H, hNext = hPrev + B * H;
    const X = aux + t * B * H; // after: h W_hh + b_hn; before: R ⊙ h
    if (reset === 'after') {
      const Hg = ws.hg! + t * B * G;
      blas.sgemm(false, false, B, G, H, 1, hPrev, H, P.W_h, G, 0, Hg, G);
      blas.gruAfterForward(B, H, A, Hg, P.b_hn, hPrev, X, hNext);
    } else {
      // z and r: columns [0, 2H) of W_h; then the candidate from (R ⊙ h) W_hh, columns [2H, 3H)
      blas.sgemm(false, false, B, 2 * H, H, 1, hPrev, H, P.W_h, G, 1, A, G);
      blas.gruBeforeForward1(B, H, A, hPrev, X);
      blas.sgemm(false, false, B, H, H, 1, X, H, P.W_h + 2 * H, G, 1, A + 2 * H, G);
      blas.gruBeforeForward2(B, H, A, hPrev, hNext);
    }
  }
  outputForward(blas, P, ws, B);
}

/** Full BPTT from dL/do in ws.logits; accumulates into G (blocks W_x, W_h, b, b_hn, W_hq, b_q); writes ws.dh0. */
export function gruBackward(blas: Blas, reset: GruReset, P: TensorOffsets, G: TensorOffsets, ws: Workspace, B = ws.shape.B,
  opts: { dhTrace?: number } = {}): void {
  const { H, T } = ws.shape;
  const G3 = 3 * H;
  const f = blas.f;
  const gates = ws.gates!, aux = ws.aux!;
  blas.setScratch(ws.pack);
  const rows = T * B;
  outputBackward(blas, P, G, ws, B);
  for (let t = T - 1; t >= 0; t--) {
    const A = gates + t * B * G3;
    const dh = ws.dhs + t * B * H;
    const hPrev = ws.hs + t * B * H;
    const X = aux + t * B * H;
    const dhPrev = t > 0 ? dh - B * H : ws.dh0;
    if (opts.dhTrace !== undefined) blas.copy(B * H, dh, opts.dhTrace + t * B * H);
    if (reset === 'after') {
      const Hg = ws.hg! + t * B * G3; // becomes dL/d(h W_h) for this step
      for (let r = 0; r < B; r++) {
        const a = A + r * G3, hg = Hg + r * G3;
        for (let j = 0; j < H; j++) {
          const k = r * H + j;
          const z = f[a + j], rr = f[a + H + j], n = f[a + 2 * H + j];
          const dhv = f[dh + k];
          const hp = f[hPrev + k];
          const dan = dhv * (1 - z) * (1 - n * n);
          const daz = dhv * (hp - n) * z * (1 - z);
          const dar = dan * f[X + k] * rr * (1 - rr);
          f[a + j] = daz;
          f[a + H + j] = dar;
          f[a + 2 * H + j] = dan;
          f[hg + j] = daz;
          f[hg + H + j] = dar;
          f[hg + 2 * H + j] = dan * rr;
          // the direct path h_{t-1} -> h_t; the GEMM below adds the path through the gates
          f[dhPrev + k] = (t > 0 ? f[dhPrev + k] : 0) + dhv * z;
        }
      }
      blas.sgemm(false, true, B, H, G3, 1, Hg, G3, P.W_h, G3, 1, dhPrev, H);
    } else {
      const tmp = ws.tmp!; // dL/d(R ⊙ h)
      // da_n, da_z first (they need only this step's activations)
      for (let r = 0; r < B; r++) {
        const a = A + r * G3;
        for (let j = 0; j < H; j++) {
          const k = r * H + j;
          const z = f[a + j], n = f[a + 2 * H + j];
          const dhv = f[dh + k];
          f[a + 2 * H + j] = dhv * (1 - z) * (1 - n * n);
          f[a + j] = dhv * (f[hPrev + k] - n) * z * (1 - z);
          f[dhPrev + k] = (t > 0 ? f[dhPrev + k] : 0) + dhv * z;
        }
      }
      blas.sgemm(false, true, B, H, H, 1, A + 2 * H, G3, P.W_h + 2 * H, G3, 0, tmp, H);
      for (let r = 0; r < B; r++) {
        const a = A + r * G3;
        for (let j = 0; j < H; j++) {
          const k = r * H + j;
          const rr = f[a + H + j];
          f[a + H + j] = f[tmp + k] * f[hPrev + k] * rr * (1 - rr);
          f[dhPrev + k] += f[tmp + k] * rr;
        }
      }
      // the paths through z and r: [da_z | da_r] [W_hz | W_hr]^T
      blas.sgemm(false, true, B, H, 2 * H, 1, A, G3, P.W_h, G3, 1, dhPrev, H);
    }
  }
  if (reset === 'after') {
    blas.sgemm(true, false, H, G3, rows, 1, ws.hs, H, ws.hg!, G3, 1, G.W_h, G3);
    blas.colsumAdd(rows, H, ws.hg! + 2 * H, G3, G.b_hn);
  } else {
    blas.sgemm(true, false, H, 2 * H, rows, 1, ws.hs, H, gates, G3, 1, G.W_h, G3);
    blas.sgemm(true, false, H, H, rows, 1, aux, H, gates + 2 * H, G3, 1, G.W_h + 2 * H, G3);
  }
  blas.scatterAddRows(rows, G3, ws.x, gates, G3, G.W_x, G3);
  blas.colsumAdd(rows, G3, gates, G3, G.b);
}
