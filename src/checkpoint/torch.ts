// Export a checkpoint for PyTorch: safetensors named for torch.nn.RNN (tanh/relu, batch_first
// irrelevant to weights), torch.nn.LSTM (gates stacked in torch's order i, f, g, o,
// g being D2L's candidate c; bias_hh zero) or torch.nn.GRU (reset "after" only; order r, z, n;
// bias_hh zero but its n part, which is b_hn), followed by nn.Linear. For the RNN torch computes
//   h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),  o_t = h_t W^T + b
// so weight_ih_l0 = W_xh^T (H, V), weight_hh_l0 = W_hh^T (H, H), bias_ih_l0 = b_h, bias_hh_l0 = 0,
// dense.weight = W_hq^T (V, H), dense.bias = b_q. Stacked layers are torch's num_layers: layer k
// (bptt's l{k}. tensors) becomes weight_ih_l{k} (G*H, H for k > 0) and so on; each cell module's
// torch mapping (cells/*.ts) gives the gate order and the bias_hh parts. The vocabulary and the run's config go into the
// metadata. importTorch is the way back (after training in PyTorch, e.g. examples/train_ddp.py):
// lossless, since transposes are exact and b_h is bias_ih + bias_hh, taken as bias_ih itself while
// bias_hh is all zeros (as exported).

import { merge } from '../config/load.js';
import { ConfigSchema, DEFAULTS, storedConfigDefaults, type TrainConfig } from '../config/schema.js';
import { Vocab, vocabOf } from '../data/corpus.js';
import type { Checkpoint } from './checkpoint.js';
import { InputError } from '../util/errors.js';
import { CELL_KINDS, cellOf, isCellKind } from '../model/cells/index.js';
import { layerPrefix } from '../model/params.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../io/safetensors.js';

function transpose(t: Tensor): Tensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** Row-stacks (k, r, c) tensors into one (k*r, c). */
function stack(parts: Tensor[]): Tensor {
  const [r, c] = parts[0].shape.length === 2 ? parts[0].shape : [parts[0].shape[0], 1];
  const out = new Float32Array(parts.length * r * c);
  parts.forEach((p, k) => out.set(p.data, k * r * c));
  return { shape: parts[0].shape.length === 2 ? [parts.length * r, c] : [parts.length * r], data: out };
}

/** Rows [k*n, (k+1)*n) of a (K*n, c) or (K*n) tensor. */
function rowsOf(t: Tensor, k: number, n: number): Tensor {
  const c = t.shape.length === 2 ? t.shape[1] : 1;
  return { shape: t.shape.length === 2 ? [n, c] : [n], data: t.data.slice(k * n * c, (k + 1) * n * c) };
}

export function torchTensors(ck: Checkpoint): Map<string, Tensor> {
  const get = (n: string) => ck.tensors.get(n)!;
  const { H, V } = ck.layout.model;
  const m = ck.config.model;
  const cell = cellOf(m.cell);
  const { gateOrder, hhBias } = cell.torch;
  const K = gateOrder.length;
  const out = new Map<string, Tensor>();
  for (let l = 0; l < m.layers; l++) {
    const pre = layerPrefix(l, m.layers);
    // torch's bias_hh: zero, except the parts the cell keeps apart (the GRU's n part: b_hn, inside r * (...))
    const bhh = new Float32Array(K * H);
    gateOrder.forEach((g, k) => { if (hhBias[g]) bhh.set(get(pre + hhBias[g]).data, k * H); });
    out.set(`rnn.weight_ih_l${l}`, stack(gateOrder.map((g) => transpose(get(`${pre}W_x${g}`)))));
    out.set(`rnn.weight_hh_l${l}`, stack(gateOrder.map((g) => transpose(get(`${pre}W_h${g}`)))));
    out.set(`rnn.bias_ih_l${l}`, stack(gateOrder.map((g) => get(`${pre}b_${g}`))));
    out.set(`rnn.bias_hh_l${l}`, { shape: [K * H], data: bhh });
  }
  out.set('dense.weight', transpose(get('W_hq')));
  out.set('dense.bias', { shape: [V], data: get('b_q').data.slice() });
  return out;
}

export function exportTorch(ck: Checkpoint, out: string): void {
  const m = ck.config.model;
  const refusal = cellOf(m.cell).torch.refuses({ act: m.activation, gruReset: m.gru_reset });
  if (refusal) throw new InputError(`checkpoint ${ck.path}: ${refusal}`);
  writeSafetensors(out, torchTensors(ck), {
    format: 'bptt-torch-1',
    cell: m.cell,
    vocab: JSON.stringify(ck.vocab.chars),
    nonlinearity: cellOf(m.cell).torch.nonlinearity({ act: m.activation, gruReset: m.gru_reset }),
    hidden_size: String(ck.layout.model.H),
    vocab_size: String(ck.layout.model.V),
    num_layers: String(m.layers),
    dropout: String(m.dropout),
    // the run's config, so that `bptt import` restores a complete bptt checkpoint
    bptt_config: JSON.stringify(ck.config),
    // where training stands, so examples/train_ddp.py continues the learning-rate schedule from there
    ...(ck.training ? { bptt_training: JSON.stringify({ step: ck.training.step, epoch: ck.training.epoch, minibatch: ck.training.minibatch, horizon: ck.training.horizon }) } : {}),
    source: ck.path,
  });
}

/** A bptt checkpoint's parts from a torch-named file (exported by bptt, maybe trained on since). */
export function importTorch(path: string): { tensors: Map<string, Tensor>; vocab: Vocab; config: TrainConfig } {
  const f = readSafetensors(path);
  const bad = (why: string) => new InputError(`checkpoint ${path}: ${why}`);
  const meta = f.metadata;
  if (meta.format !== 'bptt-torch-1') throw bad(`not a file written by "bptt export --format torch" (format ${JSON.stringify(meta.format ?? null)})`);
  let chars: unknown;
  try { chars = JSON.parse(meta.vocab); } catch { throw bad('metadata.vocab is not valid JSON'); }
  if (!Array.isArray(chars) || chars.some((c) => typeof c !== 'string')) throw bad('metadata.vocab is not an array of characters');
  const vocab = vocabOf(chars as string[], bad);
  const V = vocab.size;
  if (meta.vocab_size !== undefined && Number(meta.vocab_size) !== V) throw bad(`metadata.vocab_size ${JSON.stringify(meta.vocab_size)} does not match the vocabulary's ${V} characters`);
  const H = Number(meta.hidden_size);
  if (!Number.isInteger(H) || H <= 0) throw bad('metadata.hidden_size is not a positive integer');
  const L = meta.num_layers === undefined ? 1 : Number(meta.num_layers);
  if (!Number.isInteger(L) || L < 1 || L > 64) throw bad(`metadata.num_layers ${JSON.stringify(meta.num_layers)}: expected an integer in 1..64`);
  const act = meta.nonlinearity;
  if (act !== 'tanh' && act !== 'relu') throw bad(`metadata.nonlinearity ${JSON.stringify(act ?? null)}: expected tanh or relu`);
  let config: TrainConfig;
  if (meta.bptt_config !== undefined) {
    let raw: unknown;
    try { raw = JSON.parse(meta.bptt_config); } catch { throw bad('metadata.bptt_config is not valid JSON'); }
    const parsed = ConfigSchema.safeParse(merge(storedConfigDefaults(), raw));
    if (!parsed.success) throw bad(`metadata.bptt_config is invalid: ${parsed.error.issues[0]?.message}`);
    config = parsed.data;
  } else {
    config = structuredClone(DEFAULTS);
  }
  const kind = meta.cell ?? 'rnn'; // files exported before the gated cells existed held an RNN and said nothing
  if (!isCellKind(kind)) throw bad(`metadata.cell ${JSON.stringify(kind)}: expected ${CELL_KINDS.join(', ')}`);
  // what torch's module fixes for this cell (its nonlinearity, the GRU's reset after the product)
  const fixed = cellOf(kind).torch.fromTorch(act);
  config = {
    ...config,
    model: {
      ...config.model, cell: kind, hidden: H, layers: L, dropout: L > 1 ? config.model.dropout : 0,
      activation: fixed.act ?? config.model.activation, gru_reset: fixed.gruReset ?? config.model.gru_reset,
    },
  };
  const { gateOrder, hhBias } = cellOf(kind).torch;
  const K = gateOrder.length;
  const want: Record<string, number[]> = { 'dense.weight': [V, H], 'dense.bias': [V] };
  for (let l = 0; l < L; l++) {
    Object.assign(want, {
      [`rnn.weight_ih_l${l}`]: [K * H, l === 0 ? V : H], [`rnn.weight_hh_l${l}`]: [K * H, H], [`rnn.bias_ih_l${l}`]: [K * H], [`rnn.bias_hh_l${l}`]: [K * H],
    });
  }
  // every tensor in the file is used, or the import is refused: a tensor left over means the file
  // holds a model other than the one its metadata describes (a deeper one, say), and dropping it
  // would change the model silently
  const unused = [...f.tensors.keys()].filter((n) => !(n in want));
  if (unused.length > 0) {
    throw bad(`tensor${unused.length > 1 ? 's' : ''} ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''} ` +
      `${unused.length > 1 ? 'are' : 'is'} not part of the model the metadata describes (${kind}, num_layers ${L}, hidden ${H}); nothing was written`);
  }
  for (const [name, shape] of Object.entries(want)) {
    const t = f.tensors.get(name);
    if (!t) throw bad(`missing tensor ${name}${L > 1 ? ` (metadata.num_layers is ${L})` : ''}`);
    if (t.shape.join(',') !== shape.join(',')) throw bad(`tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    const nonFinite = t.data.findIndex((x) => !Number.isFinite(x));
    if (nonFinite >= 0) throw bad(`tensor ${name} holds a non-finite value (${t.data[nonFinite]} at index ${nonFinite}); nothing was written`);
  }
  const get = (n: string) => f.tensors.get(n)!;
  const tensors = new Map<string, Tensor>();
  for (let l = 0; l < L; l++) {
    const pre = layerPrefix(l, L);
    const bih = get(`rnn.bias_ih_l${l}`).data, bhh = get(`rnn.bias_hh_l${l}`).data;
    // torch has two biases where bptt has one; the sum is the same model. While bias_hh is all
    // zeros (as exported) bias_ih is taken as it is, so export then import is bitwise lossless.
    // Parts the cell keeps apart (the GRU's b_hn, inside r * (...)) are never summed.
    const summed = gateOrder.flatMap((g, k) => (hhBias[g] ? [] : Array.from({ length: H }, (_, j) => k * H + j)));
    const bias = bih.slice();
    if (summed.some((k) => bhh[k] !== 0)) for (const k of summed) bias[k] = Math.fround(bih[k] + bhh[k]);
    const biasT: Tensor = { shape: [K * H], data: bias };
    const extras = new Map<string, Tensor>();
    gateOrder.forEach((g, k) => {
      tensors.set(`${pre}W_x${g}`, transpose(rowsOf(get(`rnn.weight_ih_l${l}`), k, H)));
      tensors.set(`${pre}W_h${g}`, transpose(rowsOf(get(`rnn.weight_hh_l${l}`), k, H)));
      tensors.set(`${pre}b_${g}`, rowsOf(biasT, k, H));
      if (hhBias[g]) extras.set(`${pre}${hhBias[g]}`, rowsOf({ shape: [K * H], data: bhh }, k, H));
    });
    for (const [name, t] of extras) tensors.set(name, t);
  }
  tensors.set('W_hq', transpose(get('dense.weight')));
  tensors.set('b_q', { shape: [V], data: get('dense.bias').data.slice() });
  return { tensors, vocab, config };
}
