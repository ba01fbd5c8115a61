// The LSTM of D2L 6.8, forward over T steps and full BPTT through its gates, in the layout of
// model/params.ts (gates fused: W_x (V,4H), W_h (H,4H), b (4H), order i, f, o, c):
//   I = σ(x W_xi + h W_hi + b_i)  F = σ(x W_xf + h W_hf + b_f)  O = σ(x W_xo + h W_ho + b_o)
//   C~ = tanh(x W_xc + h W_hc + b_c)   C_t = F ⊙ C_{t-1} + I ⊙ C~   H_t = O ⊙ tanh(C_t)
// As for the RNN, what is not recurrent leaves the time loop: the input contributions of all T
// steps are one gather (plus the bias rows), the output layer is the RNN's (bptt.ts), dW_h is one
// GEMM after the loop and dW_x one scatter-add. Per step there is one GEMM h W_h (B x 4H) forward
// and one dA W_h^T backward; the gate math is one elementwise
// kernel pair lstmGatesForward/Backward (WASM SIMD in training, the float64 TypeScript reference in
// the gradient checks). Gradients ACCUMULATE (+=).

import type { Blas } from '../blas/types.js';
import { gateInputs, outputBackward, outputForward, type Workspace } from './bptt.js';
import type { TensorOffsets } from './params.js';

/** Forward from the state in hs[0], cs[0]; fills hs[1..T], cs[1..T], the gates, tanh(c) and the logits. */
export function lstmForward(blas: Blas, P: TensorOffsets, ws: Workspace, B = ws.shape.B): void {
  const { H, T } = ws.shape;
  const G = 4 * H;
  const gates = ws.gates!, cs = ws.cs!, tc = ws.tc!;
  blas.setScratch(ws.pack);
  gateInputs(blas, P, ws, G, B);
  for (let t = 0; t < T; t++) {
    const A = gates + t * B * G;
    const hPrev = ws.hs + t * B * H, hNext = hPrev + B * H;
    const cPrev = cs + t * B * H, cNext = cPrev + B * H;
    blas.sgemm(false, false, B, G, H, 1, hPrev, H, P.W_h, G, 1, A, G);
    blas.lstmGatesForward(B, H, A, cPrev, cNext, tc + t * B * H, hNext);
  }
  outputForward(blas, P, ws, B);
}

export interface LstmBackwardOptions {
  /** (T, B, H) offset that receives dL/dh_t for every step */
  dhTrace?: number;
  /** (T, B, H) offset that receives dL/dc_t for every step (the cell state's gradient) */
  dcTrace?: number;
}

/** Full BPTT from dL/do in ws.logits; accumulates into G (blocks W_x, W_h, b, W_hq, b_q); writes ws.dh0 and ws.dc (dL/dc_0). */
export function lstmBackward(blas: Blas, P: TensorOffsets, G: TensorOffsets, ws: Workspace, B = ws.shape.B, opts: LstmBackwardOptions = {}): void {
  const { H, T } = ws.shape;
  const G4 = 4 * H;
  const gates = ws.gates!, cs = ws.cs!, tc = ws.tc!, dc = ws.dc!;
  blas.setScratch(ws.pack);
  const rows = T * B;
  outputBackward(blas, P, G, ws, B);
  blas.fill(B * H, 0, dc);
  for (let t = T - 1; t >= 0; t--) {
    const A = gates + t * B * G4;
    const dh = ws.dhs + t * B * H;
    if (opts.dhTrace !== undefined) blas.copy(B * H, dh, opts.dhTrace + t * B * H);
    blas.lstmGatesBackward(B, H, A, cs + t * B * H, tc + t * B * H, dh, dc, opts.dcTrace === undefined ? -1 : opts.dcTrace + t * B * H);
    // dh_{t-1} += dA_t W_h^T (for t = 0: dL/dh_0)
    const dhPrev = t > 0 ? dh - B * H : ws.dh0;
    blas.sgemm(false, true, B, H, G4, 1, A, G4, P.W_h, G4, t > 0 ? 1 : 0, dhPrev, H);
  }
  // parameter gradients that need every dA_t: one GEMM, one scatter, one column sum
  blas.sgemm(true, false, H, G4, rows, 1, ws.hs, H, gates, G4, 1, G.W_h, G4);
  blas.scatterAddRows(rows, G4, ws.x, gates, G4, G.W_x, G4);
  blas.colsumAdd(rows, G4, gates, G4, G.b);
}
