// Export a checkpoint for PyTorch: safetensors named for torch.nn.RNN (tanh/relu, one layer,
// batch_first irrelevant to weights) followed by nn.Linear. torch computes
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

export function torchTensors(ck: Checkpoint): Map<string, Tensor> {
  const get = (n: string) => ck.tensors.get(n)!;
  const H = ck.layout.dims.H;
  return new Map<string, Tensor>([
    ['rnn.weight_ih_l0', transpose(get('W_xh'))],
    ['rnn.weight_hh_l0', transpose(get('W_hh'))],
    ['rnn.bias_ih_l0', { shape: [H], data: get('b_h').data.slice() }],
    ['rnn.bias_hh_l0', { shape: [H], data: new Float32Array(H) }],
    ['dense.weight', transpose(get('W_hq'))],
    ['dense.bias', { shape: [ck.layout.dims.V], data: get('b_q').data.slice() }],
  ]);
}

export function exportTorch(ck: Checkpoint, out: string): void {
  const act = ck.config.model.activation;
  if (act === 'identity') {
    throw new InputError(`checkpoint ${ck.path}: torch.nn.RNN has no identity nonlinearity (only tanh and relu); this model uses activation identity`);
  }
  writeSafetensors(out, torchTensors(ck), {
    format: 'bptt-torch-1',
    vocab: JSON.stringify(ck.vocab.chars),
    nonlinearity: act,
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
  config = { ...config, model: { ...config.model, hidden: H, activation: act } };
  const want: Record<string, number[]> = {
    'rnn.weight_ih_l0': [H, V], 'rnn.weight_hh_l0': [H, H], 'rnn.bias_ih_l0': [H], 'rnn.bias_hh_l0': [H], 'dense.weight': [V, H], 'dense.bias': [V],
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
  const b_h = bhh.every((x) => x === 0) ? bih.slice() : bih.map((x, k) => Math.fround(x + bhh[k]));
  const tensors = new Map<string, Tensor>([
    ['W_xh', transpose(get('rnn.weight_ih_l0'))],
    ['W_hh', transpose(get('rnn.weight_hh_l0'))],
    ['b_h', { shape: [H], data: b_h }],
    ['W_hq', transpose(get('dense.weight'))],
    ['b_q', { shape: [V], data: get('dense.bias').data.slice() }],
  ]);
  return { tensors, vocab, config };
}
