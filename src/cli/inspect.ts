// `bptt inspect`: the seed chapter as a tool. One sequence through a trained model (inputs = the
// text's characters 0..T-2, targets 1..T-1, batch 1, zero initial state): the loss, each tensor's
// gradient norm, and ||dL/dh_t|| for every step: how the gradient vanishes or explodes on its way
// back through time.

import { extent } from '../util/extent.js';
import { placeOnFreshBlas } from '../blas/loader.js';
import { cellOf } from '../model/cells/index.js';
import { allocModelWorkspace, modelBackward, modelForward, xentForwardBackward, zeroState } from '../model/model.js';
import { offsetsAt, readTensor } from '../model/params.js';
import { writeSafetensors, type Tensor } from '../io/safetensors.js';
import { loadCheckpoint, loadParamsInto } from '../checkpoint/checkpoint.js';
import { Arena } from '../util/arena.js';
import { InputError } from '../util/errors.js';
import { checkOutputFile } from './output_files.js';
import { out as stdout } from './stdio.js';

export interface InspectResult {
  text: string;
  /** which loss was differentiated: the mean over all steps, or the last step's alone */
  loss_at: 'all' | 'last';
  cell: string;
  steps: number;
  loss: number;
  grad_norms: Record<string, number>;
  dh_norms: number[];
  /** LSTM: ||dL/dc_t|| per step, the gradient on the cell state's own path */
  dc_norms?: number[];
  /** stacked models: the same per layer, layers[0] reading the characters (dh_norms, dc_norms above are the top layer's) */
  layers?: Array<{ dh_norms: number[]; dc_norms?: number[] }>;
}

/**
 * `lastOnly`: differentiate only the loss of the LAST character: ||dL_T/dh_t|| then shows how far
 * back one prediction's gradient reaches (the chapter's point: it vanishes in an RNN, the LSTM's
 * cell state carries it further).
 */
export function inspectCheckpoint(checkpoint: string, text: string, gradsOut?: string, lastOnly = false): InspectResult {
  const ck = loadCheckpoint(checkpoint);
  const chars = Array.from(text);
  if (chars.length < 2) throw new InputError('--text needs at least 2 characters (inputs 0..T-2, targets 1..T-1)');
  const missing = ck.vocab.missing(text);
  if (missing.length > 0) throw new InputError(`--text: ${missing.map((c) => JSON.stringify(c)).join(', ')} not in the vocabulary of ${checkpoint}`);
  const ids = ck.vocab.encode(chars);
  const T = ids.length - 1;
  const model = ck.layout.model;
  const { V, H, layers: L } = model;
  const shape = { V, H, T, B: 1 };
  const n = ck.layout.numParams;
  const place = (arena: Arena) => ({
    pBase: arena.alloc(n), gBase: arena.alloc(n),
    trace: Array.from({ length: L }, () => ({ dh: arena.alloc(T * H), dc: arena.alloc(T * H) })),
    ws: allocModelWorkspace(arena, model, shape, false),
  });
  const { blas, at: { pBase, gBase, trace, ws } } = placeOnFreshBlas(place);
  loadParamsInto(ck, blas.f, pBase);
  for (let t = 0; t < T; t++) { blas.i[ws.x + t] = ids[t]; blas.i[ws.y + t] = ids[t + 1]; }
  zeroState(model, blas, ws, 1);
  const P = offsetsAt(ck.layout, pBase), G = offsetsAt(ck.layout, gBase);
  modelForward(model, blas, P, ws);
  const lastLoss = blas.xentLoss(1, V, ws.logits + (T - 1) * V, V, ws.y + T - 1);
  let loss = xentForwardBackward(blas, ws, 1 / T) / T;
  if (!Number.isFinite(loss) || !Number.isFinite(lastLoss)) {
    throw new InputError(`checkpoint ${checkpoint}: the loss on this text is not finite (${loss}): the model's weights are too large for float32 arithmetic; nothing to inspect`);
  }
  if (lastOnly) {
    // keep only the last step's dL/do, as the gradient of that one loss (not of the mean)
    blas.fill((T - 1) * V, 0, ws.logits);
    blas.scal(V, T, ws.logits + (T - 1) * V);
    loss = lastLoss;
  }
  modelBackward(model, blas, P, G, ws, 1, { trace });
  const grad_norms: Record<string, number> = {};
  const tensors = new Map<string, Tensor>();
  for (const name of ck.layout.names) {
    const t = ck.layout.tensors[name];
    const g = readTensor(t, blas.f, gBase);
    grad_norms[name] = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
    tensors.set(name, { shape: t.shape, data: g });
  }
  const norms = (trace: number) => Array.from({ length: T }, (_, t) => Math.sqrt(blas.sumsq(H, trace + t * H)));
  if (gradsOut) writeSafetensors(gradsOut, tensors, { format: 'bptt-gradients-1', text, loss: String(loss), checkpoint });
  // a cell that carries more than h (the LSTM's c) also reports the gradient on that state's own path
  const hasC = cellOf(model.cell).state.length > 1;
  const perLayer = trace.map((tr) => ({ dh_norms: norms(tr.dh), ...(hasC ? { dc_norms: norms(tr.dc) } : {}) }));
  return {
    text, cell: model.cell, steps: T, loss, loss_at: lastOnly ? 'last' : 'all', grad_norms, ...perLayer[L - 1],
    ...(L > 1 ? { layers: perLayer } : {}),
  };
}

export function formatInspect(r: InspectResult): string {
  const lines = [`sequence of ${r.steps} steps, mean loss ${r.loss.toFixed(4)} (perplexity ${Math.exp(r.loss).toFixed(3)})`, '', 'gradient norms:'];
  for (const [k, v] of Object.entries(r.grad_norms)) lines.push(`  ${k.padEnd(8)} ${v.toExponential(3)}`);
  const chars = Array.from(r.text);
  const table = (title: string, values: number[]) => {
    lines.push('', `  t  ${title}   (log10 bar)`);
    const logs = values.map((v) => Math.log10(Math.max(v, 1e-30)));
    const [lo, hi] = extent(logs);
    values.forEach((v, t) => {
      const bar = hi > lo ? '#'.repeat(1 + Math.round(((logs[t] - lo) / (hi - lo)) * 39)) : '#';
      lines.push(`${String(t + 1).padStart(3)}  ${v.toExponential(3)}  ${bar}  ${JSON.stringify(chars[t])}`);
    });
  };
  if (r.layers) {
    r.layers.forEach((l, k) => {
      const which = k === 0 ? ', reads the characters' : k === r.layers!.length - 1 ? ', feeds the output' : '';
      table(`||dL/dh_t|| layer ${k}${which}`, l.dh_norms);
      if (l.dc_norms) table(`||dL/dc_t|| layer ${k}`, l.dc_norms);
    });
  } else {
    table('||dL/dh_t||', r.dh_norms);
    if (r.dc_norms) table('||dL/dc_t||', r.dc_norms);
  }
  return lines.join('\n');
}

/** `bptt inspect`: --grads-out checked before any work, then the result as text or JSON. */
export function inspectCommand(opts: Record<string, string | boolean>): void {
  if (opts.gradsOut) checkOutputFile(opts.gradsOut as string, '--grads-out', { force: Boolean(opts.force), reads: [opts.checkpoint as string] });
  const r = inspectCheckpoint(opts.checkpoint as string, opts.text as string, opts.gradsOut as string | undefined, Boolean(opts.lastOnly));
  stdout((opts.json ? JSON.stringify(r, null, 2) : formatInspect(r)) + '\n');
}
