// Export a checkpoint for PyTorch: safetensors named for torch.nn.RNN (tanh/relu, one layer,
// batch_first irrelevant to weights) followed by nn.Linear. torch computes
//   h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),  o_t = h_t W^T + b
// so weight_ih_l0 = W_xh^T (H, V), weight_hh_l0 = W_hh^T (H, H), bias_ih_l0 = b_h, bias_hh_l0 = 0,
// dense.weight = W_hq^T (V, H), dense.bias = b_q. The vocabulary goes into the metadata.

import type { Tensor } from './safetensors.js';
import { writeSafetensors } from './safetensors.js';
import type { Checkpoint } from '../train/checkpoint.js';
import { InputError } from '../util/errors.js';

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
    source: ck.path,
  });
}
