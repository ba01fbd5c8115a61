// `bptt inspect`: the seed chapter as a tool. One sequence through a trained model (inputs = the
// text's characters 0..T-2, targets 1..T-1, batch 1, zero initial state): the loss, each tensor's
// gradient norm, and ||dL/dh_t|| for every step: how the gradient vanishes or explodes on its way
// back through time.

import { createWasmBlas, RESERVED_LOW_BYTES } from '../blas/loader.js';
import { allocWorkspace, rnnBackward, rnnForward, workspaceElems, xentForwardBackward } from '../model/bptt.js';
import { offsetsAt, TENSOR_NAMES } from '../model/params.js';
import { writeSafetensors, type Tensor } from '../io/safetensors.js';
import { loadCheckpoint, loadParamsInto } from '../train/checkpoint.js';
import { Arena } from '../util/arena.js';
import { InputError } from '../util/errors.js';

export interface InspectResult {
  text: string;
  steps: number;
  loss: number;
  grad_norms: Record<string, number>;
  dh_norms: number[];
}

export function inspectCheckpoint(checkpoint: string, text: string, gradsOut?: string): InspectResult {
  const ck = loadCheckpoint(checkpoint);
  const chars = Array.from(text);
  if (chars.length < 2) throw new InputError('--text needs at least 2 characters (inputs 0..T-2, targets 1..T-1)');
  const missing = ck.vocab.missing(text);
  if (missing.length > 0) throw new InputError(`--text: ${missing.map((c) => JSON.stringify(c)).join(', ')} not in the vocabulary of ${checkpoint}`);
  const ids = ck.vocab.encode(chars);
  const T = ids.length - 1;
  const { V, H } = ck.layout.dims;
  const shape = { V, H, T, B: 1 };
  const n = ck.layout.numParams;
  const elems = 2 * n + workspaceElems(shape) + T * H + 64;
  const blas = createWasmBlas(elems * 4);
  const arena = new Arena(RESERVED_LOW_BYTES / 4, elems);
  const pBase = arena.alloc(n), gBase = arena.alloc(n), trace = arena.alloc(T * H);
  const ws = allocWorkspace(arena, shape);
  loadParamsInto(ck, blas.f, pBase);
  for (let t = 0; t < T; t++) { blas.i[ws.x + t] = ids[t]; blas.i[ws.y + t] = ids[t + 1]; }
  blas.fill(H, 0, ws.hs);
  const P = offsetsAt(ck.layout, pBase), G = offsetsAt(ck.layout, gBase);
  const act = ck.config.model.activation;
  rnnForward(blas, act, P, ws);
  const loss = xentForwardBackward(blas, ws, 1 / T) / T;
  rnnBackward(blas, act, P, G, ws, 1, { dhTrace: trace });
  const grad_norms: Record<string, number> = {};
  const tensors = new Map<string, Tensor>();
  for (const name of TENSOR_NAMES) {
    const t = ck.layout.tensors[name];
    grad_norms[name] = Math.sqrt(blas.sumsq(t.size, gBase + t.offset));
    tensors.set(name, { shape: t.shape, data: blas.f.slice(gBase + t.offset, gBase + t.offset + t.size) });
  }
  const dh_norms = Array.from({ length: T }, (_, t) => Math.sqrt(blas.sumsq(H, trace + t * H)));
  if (gradsOut) writeSafetensors(gradsOut, tensors, { format: 'bptt-gradients-1', text, loss: String(loss), checkpoint });
  return { text, steps: T, loss, grad_norms, dh_norms };
}

export function formatInspect(r: InspectResult): string {
  const lines = [`sequence of ${r.steps} steps, mean loss ${r.loss.toFixed(4)} (perplexity ${Math.exp(r.loss).toFixed(3)})`, '', 'gradient norms:'];
  for (const [k, v] of Object.entries(r.grad_norms)) lines.push(`  ${k.padEnd(5)} ${v.toExponential(3)}`);
  lines.push('', '  t  ||dL/dh_t||   (log10 bar)');
  const logs = r.dh_norms.map((v) => Math.log10(Math.max(v, 1e-30)));
  const lo = Math.min(...logs), hi = Math.max(...logs);
  const chars = Array.from(r.text);
  r.dh_norms.forEach((v, t) => {
    const bar = hi > lo ? '#'.repeat(1 + Math.round(((logs[t] - lo) / (hi - lo)) * 39)) : '#';
    lines.push(`${String(t + 1).padStart(3)}  ${v.toExponential(3)}  ${bar}  ${JSON.stringify(chars[t])}`);
  });
  return lines.join('\n');
}
