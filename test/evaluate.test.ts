// The validation loss a run reports is the value it claims to be: the mean cross-entropy, in nats,
// of every next character of the held-out tail, read as evaluate.ts says (B rows of the tail, each
// read on from its start in T-step chunks with the state carried), computed here again directly:
// one character at a time in float64, with the seed chapter's formulas on the checkpoint's tensors.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { prepareData } from '../src/train/data.js';
import { evalRows } from '../src/train/evaluate.js';
import { bptt, D2L_ARGS } from './cli_helpers.js';

/** h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h), o_t = h_t W_hq + b_q; -log softmax(o_t)[y_t], summed. */
function directLoss(t: Map<string, Float32Array>, V: number, H: number, ids: Int32Array, from: number, steps: number): number {
  const Wxh = t.get('W_xh')!, Whh = t.get('W_hh')!, bh = t.get('b_h')!, Whq = t.get('W_hq')!, bq = t.get('b_q')!;
  let h = new Float64Array(H);
  let sum = 0;
  for (let s = 0; s < steps; s++) {
    const x = ids[from + s], y = ids[from + s + 1];
    const next = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let a = Wxh[x * H + j] + bh[j];
      for (let i = 0; i < H; i++) a += h[i] * Whh[i * H + j];
      next[j] = Math.tanh(a);
    }
    h = next;
    const o = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let z = bq[v];
      for (let j = 0; j < H; j++) z += h[j] * Whq[j * V + v];
      o[v] = z;
    }
    const max = Math.max(...o);
    const logSumExp = max + Math.log(o.reduce((acc, z) => acc + Math.exp(z - max), 0));
    sum += logSumExp - o[y];
  }
  return sum;
}

it('the reported validation loss and perplexity are the direct computation over the held-out tail', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bptt-eval-')), 'run');
  const r = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--hidden', '24', '--batch', '8', '--steps', '10', '--lr', '2', '--clip', '1',
    '--set', 'data.val_fraction=0.3', '--epochs', '2', '--workers', '2', '--set', 'run.sample_every=0', '--out', out, '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  const last = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
  const ck = loadCheckpoint(join(out, 'last.safetensors'));
  const { V, H } = ck.layout.model;
  const val = prepareData(ck.config, ck.vocab).val!;
  const T = ck.config.data.steps;
  const B = evalRows(val.length, T, ck.config.data.batch);
  const rowLen = Math.floor(val.length / B);
  const chunks = Math.floor((rowLen - 1) / T);
  expect(B * chunks).toBeGreaterThan(0);
  const tensors = new Map([...ck.tensors].map(([n, x]) => [n, x.data]));
  let sum = 0;
  for (let b = 0; b < B; b++) sum += directLoss(tensors, V, H, val, b * rowLen, chunks * T);
  const direct = sum / (B * chunks * T);
  expect(last.val_mode).toBe('carried');
  // float32 kernels against float64 arithmetic: agreement to single precision
  expect(Math.abs(last.val_loss - direct)).toBeLessThan(2e-5 * direct);
  expect(last.val_ppl).toBe(Math.exp(last.val_loss));
  // and it is a real measurement: better than guessing uniformly, worse than knowing
  expect(direct).toBeLessThan(Math.log(V));
  expect(direct).toBeGreaterThan(0);
});
