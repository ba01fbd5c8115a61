// `bptt export` and `bptt import`: a checkpoint to torch's naming and back, never over a file
// without --force, never over the file being read.

import { loadCheckpoint, writeCheckpointTensors } from '../checkpoint/checkpoint.js';
import { exportTorch, importTorch } from '../checkpoint/torch.js';
import { cellOf } from '../model/cells/index.js';
import { describeModel, modelOf } from '../model/desc.js';
import { checkOutputFile } from './output_files.js';
import { out as stdout } from './stdio.js';

export function exportCommand(opts: Record<string, string>): void {
  const ck = loadCheckpoint(opts.checkpoint);
  const out = opts.out ?? opts.checkpoint.replace(/(\.safetensors)?$/, '.torch.safetensors');
  checkOutputFile(out, '--out', { force: Boolean(opts.force), reads: [opts.checkpoint] });
  exportTorch(ck, out);
  const m = ck.layout.model;
  const { torch } = cellOf(m.cell);
  // only torch.nn.RNN takes a nonlinearity argument
  const torchModule = `torch.nn.${torch.module}${torch.module === 'RNN' ? ` nonlinearity=${torch.nonlinearity({ act: m.act, gruReset: m.gruReset })}` : ''}`;
  const depth = m.layers > 1 ? `, num_layers ${m.layers}${m.dropout > 0 ? `, dropout ${m.dropout}` : ''}` : '';
  stdout(`bptt export: ${out} (${torchModule}, hidden ${m.H}${depth}, vocabulary ${m.V})\n`);
}

export function importCommand(opts: Record<string, string | boolean>): void {
  const out = opts.out as string;
  checkOutputFile(out, '--out', { force: Boolean(opts.force), reads: [opts.checkpoint as string] });
  const { tensors, vocab, config } = importTorch(opts.checkpoint as string);
  writeCheckpointTensors(out, tensors, { vocab, config, training: null, carriedState: null, kernels: 'import', data: null });
  stdout(`bptt import: ${out} (${describeModel(modelOf(vocab.size, config.model))}, vocabulary ${vocab.size}); ` +
    `use it with sample, inspect, export, or train --init\n`);
}
