// Export a checkpoint for PyTorch: safetensors named for torch.nn.RNN (tanh/relu, one layer,
// batch_first irrelevant to weights), torch.nn.LSTM (gates stacked in torch's order i, f, g, o,
// g being D2L's candidate c; bias_hh zero) or torch.nn.GRU (reset "after" only; order r, z, n;
// bias_hh zero but its n part, which is b_hn), followed by nn.Linear. For the RNN torch computes
//   h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),  o_t = h_t W^T + b
// so weight_ih_l0 = W_xh^T (H, V), weight_hh_l0 = W_hh^T (H, H), bias_ih_l0 = b_h, bias_hh_l0 = 0,
// dense.weight = W_hq^T (V, H), dense.bias = b_q. The vocabulary and the run's config go into the
// metadata. importTorch is the way back (after training in PyTorch, e.g. examples/train_ddp.py):
// lossless, since transposes are exact and b_h is bias_ih + bias_hh, taken as bias_ih itself while
// bias_hh is all zeros (as exported).

import { merge } from '../config/load.js';
import { ConfigSchema, DEFAULTS, type TrainConfig } from '../config/schema.js';
import { Vocab } from '../data/corpus.js';
import type { Checkpoint } from '../train/checkpoint.js';
import { InputError } from '../util/errors.js';
import { readSafetensors, writeSafetensors, type Tensor } from './safetensors.js';

function transpose(t: Tensor): Tensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** torch's LSTM gate order (i, f, g, o) in terms of D2L's gate names (g is D2L's candidate c). */
const TORCH_LSTM_GATES = ['i', 'f', 'c', 'o'] as const;
/** torch's GRU gate order (r, z, n) in terms of D2L's (n is D2L's candidate h~). */
const TORCH_GRU_GATES = ['r', 'z', 'h'] as const;

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
  const { H, V } = ck.layout.dims;
  const dense: Array<[string, Tensor]> = [
    ['dense.weight', transpose(get('W_hq'))],
    ['dense.bias', { shape: [V], data: get('b_q').data.slice() }],
  ];
  const cell = ck.config.model.cell;
  if (cell === 'lstm' || cell === 'gru') {
    const gates = cell === 'lstm' ? TORCH_LSTM_GATES : TORCH_GRU_GATES;
    const K = gates.length;
    // torch's bias_hh: zero, except the GRU's n part, which is b_hn (inside r * (...))
    const bhh = new Float32Array(K * H);
    if (cell === 'gru') bhh.set(get('b_hn').data, 2 * H);
    return new Map<string, Tensor>([
      ['rnn.weight_ih_l0', stack(gates.map((g) => transpose(get(`W_x${g}`))))],
      ['rnn.weight_hh_l0', stack(gates.map((g) => transpose(get(`W_h${g}`))))],
      ['rnn.bias_ih_l0', stack(gates.map((g) => get(`b_${g}`)))],
      ['rnn.bias_hh_l0', { shape: [K * H], data: bhh }],
      ...dense,
    ]);
  }
  return new Map<string, Tensor>([
    ['rnn.weight_ih_l0', transpose(get('W_xh'))],
    ['rnn.weight_hh_l0', transpose(get('W_hh'))],
    ['rnn.bias_ih_l0', { shape: [H], data: get('b_h').data.slice() }],
    ['rnn.bias_hh_l0', { shape: [H], data: new Float32Array(H) }],
    ...dense,
  ]);
}

export function exportTorch(ck: Checkpoint, out: string): void {
  const act = ck.config.model.activation;
  const cell = ck.config.model.cell;
  if (cell === 'rnn' && act === 'identity') {
    throw new InputError(`checkpoint ${ck.path}: torch.nn.RNN has no identity nonlinearity (only tanh and relu); this model uses activation identity`);
  }
  if (cell === 'gru' && ck.config.model.gru_reset === 'before') {
    throw new InputError(`checkpoint ${ck.path}: a GRU with the reset gate before the product (D2L's, model.gru_reset: before) has no torch.nn.GRU equivalent; ` +
      'train with model.gru_reset: after (PyTorch\'s convention) to export');
  }
  writeSafetensors(out, torchTensors(ck), {
    format: 'bptt-torch-1',
    cell,
    vocab: JSON.stringify(ck.vocab.chars),
    nonlinearity: cell === 'rnn' ? act : 'tanh',
    hidden_size: String(ck.layout.dims.H),
    vocab_size: String(ck.layout.dims.V),
    // the run's config, so that `bptt import` restores a complete bptt checkpoint
    bptt_config: JSON.stringify(ck.config),
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
  const vocab = new Vocab(chars as string[]);
  const V = vocab.size;
  const H = Number(meta.hidden_size);
  if (!Number.isInteger(H) || H <= 0) throw bad('metadata.hidden_size is not a positive integer');
  const act = meta.nonlinearity;
  if (act !== 'tanh' && act !== 'relu') throw bad(`metadata.nonlinearity ${JSON.stringify(act ?? null)}: expected tanh or relu`);
  let config: TrainConfig;
  if (meta.bptt_config !== undefined) {
    let raw: unknown;
    try { raw = JSON.parse(meta.bptt_config); } catch { throw bad('metadata.bptt_config is not valid JSON'); }
    const parsed = ConfigSchema.safeParse(merge(structuredClone(DEFAULTS), raw));
    if (!parsed.success) throw bad(`metadata.bptt_config is invalid: ${parsed.error.issues[0]?.message}`);
    config = parsed.data;
  } else {
    config = structuredClone(DEFAULTS);
  }
  const cell = meta.cell ?? 'rnn';
  if (cell !== 'rnn' && cell !== 'lstm' && cell !== 'gru') throw bad(`metadata.cell ${JSON.stringify(cell)}: expected rnn, gru or lstm`);
  config = {
    ...config,
    model: { ...config.model, cell, hidden: H, activation: cell === 'rnn' ? act : config.model.activation, gru_reset: cell === 'gru' ? 'after' : config.model.gru_reset },
  };
  const K = cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1;
  const want: Record<string, number[]> = {
    'rnn.weight_ih_l0': [K * H, V], 'rnn.weight_hh_l0': [K * H, H], 'rnn.bias_ih_l0': [K * H], 'rnn.bias_hh_l0': [K * H], 'dense.weight': [V, H], 'dense.bias': [V],
  };
  for (const [name, shape] of Object.entries(want)) {
    const t = f.tensors.get(name);
    if (!t) throw bad(`missing tensor ${name}`);
    if (t.shape.join(',') !== shape.join(',')) throw bad(`tensor ${name} has shape [${t.shape}], expected [${shape}]`);
  }
  const get = (n: string) => f.tensors.get(n)!;
  const bih = get('rnn.bias_ih_l0').data, bhh = get('rnn.bias_hh_l0').data;
  // torch has two biases where bptt has one; the sum is the same model. While bias_hh is all
  // zeros (as exported) bias_ih is taken as it is, so export then import is bitwise lossless.
  // (the GRU's n part of bias_hh is b_hn, inside r * (...): kept apart, never summed)
  const summed = cell === 'gru' ? 2 * H : K * H;
  const bias = bih.slice();
  if (!bhh.subarray(0, summed).every((x) => x === 0)) for (let k = 0; k < summed; k++) bias[k] = Math.fround(bih[k] + bhh[k]);
  const biasT: Tensor = { shape: [K * H], data: bias };
  const tensors = new Map<string, Tensor>();
  if (cell === 'lstm' || cell === 'gru') {
    (cell === 'lstm' ? TORCH_LSTM_GATES : TORCH_GRU_GATES).forEach((g, k) => {
      tensors.set(`W_x${g}`, transpose(rowsOf(get('rnn.weight_ih_l0'), k, H)));
      tensors.set(`W_h${g}`, transpose(rowsOf(get('rnn.weight_hh_l0'), k, H)));
      tensors.set(`b_${g}`, rowsOf(biasT, k, H));
    });
  } else {
    tensors.set('W_xh', transpose(get('rnn.weight_ih_l0')));
    tensors.set('W_hh', transpose(get('rnn.weight_hh_l0')));
    tensors.set('b_h', biasT);
  }
  if (cell === 'gru') tensors.set('b_hn', { shape: [H], data: bhh.slice(2 * H, 3 * H) });
  tensors.set('W_hq', transpose(get('dense.weight')));
  tensors.set('b_q', { shape: [V], data: get('dense.bias').data.slice() });
  return { tensors, vocab, config };
}
