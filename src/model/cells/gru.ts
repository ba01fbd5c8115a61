// The GRU of D2L 6.7 in both conventions (model.gru_reset), three gates fused in the order z, r, h~
// (W_x (in, 3H), W_h (H, 3H), b (3H); plus b_hn (H) for "after"):
//   Z = σ(x W_xz + h W_hz + b_z)   R = σ(x W_xr + h W_hr + b_r)   H_t = Z ⊙ h + (1 − Z) ⊙ H~
//   before (D2L, Cho et al.):   H~ = tanh(x W_xh + (R ⊙ h) W_hh + b_h)
//   after (PyTorch, cuDNN):     H~ = tanh(x W_xh + b_h + R ⊙ (h W_hh + b_hn))
// With "after" all three hidden products of a step are one GEMM h [W_hz | W_hr | W_hh]; with
// "before" the candidate's product needs R first, so a step has two. dW_h is GEMMs after the loop.
// The gate math is Blas kernels (WASM SIMD in training, the float64 TypeScript reference in the
// gradient checks). Torch: nn.GRU for "after" only, gates stacked r, z, n, bias_hh zero but its
// n part, which is b_hn.

import { recurrentRowStride, stepProduct, type Cell } from './types.js';

export const gruCell: Cell = {
  kind: 'gru',
  about: 'D2L 6.7',
  label: (o) => `gru (reset ${o.gruReset})`,
  gates: ['z', 'r', 'h'],
  extras: (o) => (o.gruReset === 'after' ? ['b_hn'] : []),
  state: ['h'],
  stateBuffers: (lw) => [lw.hs],
  alloc(arena, base, H, T, B, o) {
    const gates = arena.alloc(T * B * 3 * H);
    const aux = arena.alloc(T * B * H);
    return o.gruReset === 'after'
      ? { ...base, gates, aux, hg: arena.alloc(T * B * 3 * H) }
      : { ...base, gates, aux, tmp: arena.alloc(B * H) };
  },

  inputs: (lw) => ({ aIn: lw.gates!, dA: lw.gates! }),

  forward(blas, o, P, lw, H, T, B) {
    const G3 = 3 * H, ld = recurrentRowStride(G3);
    const gates = lw.gates!, aux = lw.aux!;
    // after: h [W_hz | W_hr | W_hh]; before: h [W_hz | W_hr] and (R ⊙ h) W_hh, packed one after the other
    const after = o.gruReset === 'after';
    const hW = stepProduct(blas, lw, T, false, H, after ? G3 : 2 * H, P.W_h, ld);
    const xWn = after ? null : stepProduct(blas, lw, T, false, H, H, P.W_h + 2 * H, ld, hW.elems);
    for (let t = 0; t < T; t++) {
      const A = gates + t * B * G3;
      const hPrev = lw.hs + t * B * H, hNext = hPrev + B * H;
      const X = aux + t * B * H; // after: h W_hh + b_hn; before: R ⊙ h
      if (after) {
        const Hg = lw.hg! + t * B * G3;
        hW.run(B, hPrev, H, 0, Hg, G3);
        blas.gruAfterForward(B, H, A, Hg, P.b_hn, hPrev, X, hNext);
      } else {
        // z and r: columns [0, 2H) of W_h; then the candidate from (R ⊙ h) W_hh, columns [2H, 3H)
        hW.run(B, hPrev, H, 1, A, G3);
        blas.gruBeforeForward1(B, H, A, hPrev, X);
        xWn!.run(B, X, H, 1, A + 2 * H, G3);
        blas.gruBeforeForward2(B, H, A, hPrev, hNext);
      }
    }
  },

  backward(blas, o, P, G, lw, H, T, B, trace) {
    const G3 = 3 * H, ld = recurrentRowStride(G3);
    const gates = lw.gates!, aux = lw.aux!;
    const rows = T * B;
    // after: dL/d(h W_h) [W_hz | W_hr | W_hh]^T; before: da_n W_hh^T and [da_z | da_r] [W_hz | W_hr]^T
    const after = o.gruReset === 'after';
    const dW = stepProduct(blas, lw, T, true, after ? G3 : 2 * H, H, P.W_h, ld);
    const dWn = after ? null : stepProduct(blas, lw, T, true, H, H, P.W_h + 2 * H, ld, dW.elems);
    for (let t = T - 1; t >= 0; t--) {
      const A = gates + t * B * G3;
      const dh = lw.dhs + t * B * H;
      const hPrev = lw.hs + t * B * H;
      const X = aux + t * B * H;
      const dhPrev = t > 0 ? dh - B * H : lw.dh0;
      if (trace.dh !== undefined) blas.copy(B * H, dh, trace.dh + t * B * H);
      if (after) {
        const Hg = lw.hg! + t * B * G3; // becomes dL/d(h W_h) for this step
        blas.gruAfterBackward(B, H, A, Hg, hPrev, X, dh, dhPrev, t > 0 ? 1 : 0);
        dW.run(B, Hg, G3, 1, dhPrev, H);
      } else {
        const tmp = lw.tmp!; // dL/d(R ⊙ h)
        blas.gruBeforeBackward1(B, H, A, hPrev, dh, dhPrev, t > 0 ? 1 : 0);
        dWn!.run(B, A + 2 * H, G3, 0, tmp, H);
        blas.gruBeforeBackward2(B, H, A, hPrev, tmp, dhPrev);
        // the paths through z and r: [da_z | da_r] [W_hz | W_hr]^T
        dW.run(B, A, G3, 1, dhPrev, H);
      }
    }
    if (o.gruReset === 'after') {
      blas.sgemm(true, false, H, G3, rows, 1, lw.hs, H, lw.hg!, G3, 1, G.W_h, ld);
      blas.colsumAdd(rows, H, lw.hg! + 2 * H, G3, G.b_hn);
    } else {
      blas.sgemm(true, false, H, 2 * H, rows, 1, lw.hs, H, gates, G3, 1, G.W_h, ld);
      blas.sgemm(true, false, H, H, rows, 1, aux, H, gates + 2 * H, G3, 1, G.W_h + 2 * H, ld);
    }
  },

  torch: {
    module: 'GRU',
    gateOrder: ['r', 'z', 'h'],
    hhBias: { h: 'b_hn' },
    refuses: (o) => (o.gruReset === 'before'
      ? 'a GRU with the reset gate before the product (D2L\'s, model.gru_reset: before) has no torch.nn.GRU equivalent; train with model.gru_reset: after (PyTorch\'s convention) to export'
      : null),
    nonlinearity: () => 'tanh',
    fromTorch: () => ({ gruReset: 'after' }),
  },
};
