// The Elman RNN of the seed chapter: h_t = phi(a_t), a_t = x_t W_xh + h_{t-1} W_hh + b_h.
// One gate, named h: the layout's blocks are W_xh (in, H), W_hh (H, H), b_h (H), exactly the
// chapter's tensors. The stack writes b_h + x_t W_xh of every step straight into hs[1..T]; the
// recurrence adds h_{t-1} W_hh and applies phi in place, one GEMM per step. Backward turns dL/dh_t
// into dL/da_t in place (so dA is dhs) and sends dL/dh_{t-1} += da_t W_hh^T down the chain;
// dW_hh is one GEMM after the loop. Torch: nn.RNN (tanh or relu; no identity).

import { recurrentRowStride, stepProduct, type Cell } from './types.js';

export const rnnCell: Cell = {
  kind: 'rnn',
  about: 'the Elman RNN of D2L chapter 6',
  label: (o) => `rnn ${o.act}`,
  gates: ['h'],
  extras: () => [],
  state: ['h'],
  stateBuffers: (lw) => [lw.hs],
  alloc: (_arena, base) => ({ ...base }),
  // a_t is written where h_t will be (phi is applied in place); da_t replaces dL/dh_t in place
  inputs: (lw, H, B) => ({ aIn: lw.hs + B * H, dA: lw.dhs }),

  forward(blas, o, P, lw, H, T, B) {
    const ld = recurrentRowStride(H);
    const hW = stepProduct(blas, lw, T, false, H, H, P.W_h, ld);
    for (let t = 0; t < T; t++) {
      const hPrev = lw.hs + t * B * H;
      const a = hPrev + B * H;
      hW.run(B, hPrev, H, 1, a, H);
      blas.actForward(o.act, B * H, a);
    }
  },

  backward(blas, o, P, G, lw, H, T, B, trace) {
    const ld = recurrentRowStride(H);
    const daWt = stepProduct(blas, lw, T, true, H, H, P.W_h, ld);
    // newest step first: dhs[t] already holds dL/dh_t in full when we reach it
    for (let t = T - 1; t >= 0; t--) {
      const dh = lw.dhs + t * B * H;
      if (trace.dh !== undefined) blas.copy(B * H, dh, trace.dh + t * B * H);
      blas.actBackward(o.act, B * H, lw.hs + (t + 1) * B * H, dh); // dh -> da_t
      const dhPrev = t > 0 ? dh - B * H : lw.dh0;
      daWt.run(B, dh, H, t > 0 ? 1 : 0, dhPrev, H);
    }
    blas.sgemm(true, false, H, H, T * B, 1, lw.hs, H, lw.dhs, H, 1, G.W_h, ld);
  },

  torch: {
    module: 'RNN',
    gateOrder: ['h'],
    hhBias: {},
    refuses: (o) => (o.act === 'identity' ? 'torch.nn.RNN has no identity nonlinearity (only tanh and relu); this model uses activation identity' : null),
    nonlinearity: (o) => (o.act === 'relu' ? 'relu' : 'tanh'),
    fromTorch: (nonlinearity) => ({ act: nonlinearity }),
  },
};
