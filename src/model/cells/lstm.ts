// The LSTM of D2L 6.8, four gates fused in the order i, f, o, c (W_x (in, 4H), W_h (H, 4H), b (4H)):
//   I = σ(x W_xi + h W_hi + b_i)  F = σ(x W_xf + h W_hf + b_f)  O = σ(x W_xo + h W_ho + b_o)
//   C~ = tanh(x W_xc + h W_hc + b_c)   C_t = F ⊙ C_{t-1} + I ⊙ C~   H_t = O ⊙ tanh(C_t)
// The stack writes b + the input contributions of every step into the gate buffer; per step there
// is one GEMM h W_h (B x 4H) forward and one dA W_h^T backward, the gate math one fused kernel pair
// lstmGatesForward/Backward (WASM SIMD in training, the float64 TypeScript reference in the
// gradient checks); dW_h is one GEMM after the loop. Torch: nn.LSTM, gates stacked i, f, g, o
// (g is D2L's candidate c), bias_hh zero.

import { recurrentRowStride, stepProduct, type Cell } from './types.js';

export const lstmCell: Cell = {
  kind: 'lstm',
  about: 'D2L 6.8',
  label: () => 'lstm',
  gates: ['i', 'f', 'o', 'c'],
  extras: () => [],
  state: ['h', 'c'],
  stateBuffers: (lw) => [lw.hs, lw.cs!],
  alloc(arena, base, H, T, B) {
    const gates = arena.alloc(T * B * 4 * H);
    return {
      ...base, gates,
      cs: arena.alloc((T + 1) * B * H), tc: arena.alloc(T * B * H), dc: arena.alloc(B * H),
    };
  },

  inputs: (lw) => ({ aIn: lw.gates!, dA: lw.gates! }),

  forward(blas, _o, P, lw, H, T, B) {
    const G4 = 4 * H, ld = recurrentRowStride(G4);
    const gates = lw.gates!, cs = lw.cs!, tc = lw.tc!;
    const hW = stepProduct(blas, lw, T, false, H, G4, P.W_h, ld);
    for (let t = 0; t < T; t++) {
      const A = gates + t * B * G4;
      const hPrev = lw.hs + t * B * H, hNext = hPrev + B * H;
      const cPrev = cs + t * B * H, cNext = cPrev + B * H;
      hW.run(B, hPrev, H, 1, A, G4);
      blas.lstmGatesForward(B, H, A, cPrev, cNext, tc + t * B * H, hNext);
    }
  },

  backward(blas, _o, P, G, lw, H, T, B, trace) {
    const G4 = 4 * H, ld = recurrentRowStride(G4);
    const gates = lw.gates!, cs = lw.cs!, tc = lw.tc!, dc = lw.dc!;
    blas.fill(B * H, 0, dc);
    const dAWt = stepProduct(blas, lw, T, true, G4, H, P.W_h, ld);
    for (let t = T - 1; t >= 0; t--) {
      const A = gates + t * B * G4;
      const dh = lw.dhs + t * B * H;
      if (trace.dh !== undefined) blas.copy(B * H, dh, trace.dh + t * B * H);
      blas.lstmGatesBackward(B, H, A, cs + t * B * H, tc + t * B * H, dh, dc, trace.dc === undefined ? -1 : trace.dc + t * B * H);
      // dh_{t-1} += dA_t W_h^T (for t = 0: dL/dh_0)
      const dhPrev = t > 0 ? dh - B * H : lw.dh0;
      dAWt.run(B, A, G4, t > 0 ? 1 : 0, dhPrev, H);
    }
    blas.sgemm(true, false, H, G4, T * B, 1, lw.hs, H, gates, G4, 1, G.W_h, ld);
  },

  torch: { module: 'LSTM', gateOrder: ['i', 'f', 'c', 'o'], hhBias: {}, refuses: () => null, nonlinearity: () => 'tanh', fromTorch: () => ({}) },
};
