// Checkpoints and the commands that read them: sample, inspect, export --format torch; and every
// way a checkpoint can be bad (missing, truncated, wrong shapes, another vocabulary).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../src/io/safetensors.js';
import { loadCheckpoint, TrainingStateSchema } from '../src/checkpoint/checkpoint.js';
import { bpttLogits } from './torch_helpers.js';
import { configHash } from '../src/checkpoint/identity.js';
import { torchTensors } from '../src/checkpoint/torch.js';
import { bptt, D2L_ARGS } from './cli_helpers.js';
import { failInCiWithout, TORCH_MISSING } from './prereq.js';

const dir = mkdtempSync(join(tmpdir(), 'bptt-ck-'));
const run = join(dir, 'run');
const ck = join(run, 'last.safetensors');

beforeAll(() => {
  const r = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--hidden', '24', '--batch', '8', '--steps', '12', '--lr', '2', '--clip', '1',
    '--epochs', '2', '--workers', '1', '--set', 'run.sample_every=0', '--set', 'data.preprocess.newlines_to_spaces=false', '--out', run]);
  expect(r.code).toBe(0);
});

describe('a written checkpoint', () => {
  it('holds the five tensors with D2L shapes, the vocabulary and the resolved config', () => {
    const c = loadCheckpoint(ck);
    expect(c.tensors.get('W_xh')!.shape).toEqual([c.vocab.size, 24]);
    expect(c.tensors.get('W_hh')!.shape).toEqual([24, 24]);
    expect(c.tensors.get('b_h')!.shape).toEqual([24]);
    expect(c.tensors.get('W_hq')!.shape).toEqual([24, c.vocab.size]);
    expect(c.tensors.get('b_q')!.shape).toEqual([c.vocab.size]);
    expect(c.vocab.chars).toContain('\n');
    expect(c.config.model.hidden).toBe(24);
    expect(c.training!.epoch).toBe(2);
  });

  it('safetensors round-trip and the header is valid JSON with 8-byte aligned data', () => {
    const buf = readFileSync(ck);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(header.W_hh.dtype).toBe('F32');
    const again = decodeSafetensors(encodeSafetensors(readSafetensors(ck).tensors, readSafetensors(ck).metadata), 'x');
    expect(Buffer.from(again.tensors.get('W_hq')!.data.buffer).equals(Buffer.from(readSafetensors(ck).tensors.get('W_hq')!.data.buffer))).toBe(true);
  });
});

describe('sample', () => {
  it('greedy generation is deterministic and starts with the prefix', () => {
    const a = bptt(['sample', '--checkpoint', ck, '--prefix', 'twenty', '--length', '30']);
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith('twenty')).toBe(true);
    expect(Array.from(a.stdout.trimEnd())).toHaveLength(36);
    expect(bptt(['sample', '--checkpoint', ck, '--prefix', 'twenty', '--length', '30']).stdout).toBe(a.stdout);
  });

  it('temperature sampling draws (seeded): another seed, another text; neither is the greedy one', () => {
    const args = ['sample', '--checkpoint', ck, '--prefix', 'one', '--length', '40', '--temperature', '1', '--top-k', '5'];
    const one = bptt([...args, '--seed', '1']).stdout;
    expect(bptt([...args, '--seed', '1']).stdout).toBe(one);
    // ignoring --temperature would be greedy: the same text for every seed, the argmax's
    const greedy = bptt(['sample', '--checkpoint', ck, '--prefix', 'one', '--length', '40', '--temperature', '0']).stdout;
    const others = ['2', '3'].map((seed) => bptt([...args, '--seed', seed]).stdout);
    expect(new Set([one, ...others]).size).toBeGreaterThan(1);
    expect([one, ...others].every((s) => s === greedy)).toBe(false);
  });

  it('a prefix with characters not in the vocabulary says which', () => {
    const r = bptt(['sample', '--checkpoint', ck, '--prefix', 'oneÆ分']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`bptt: error: prefix "oneÆ分": "Æ", "分" not in the model's vocabulary\n`);
  });
});

describe('inspect', () => {
  it('prints loss, per-tensor gradient norms and ||dL/dh_t|| per step as JSON, and writes the gradients', () => {
    const grads = join(dir, 'grads.safetensors');
    const r = bptt(['inspect', '--checkpoint', ck, '--text', 'twenty-one\ntwenty-two', '--json', '--grads-out', grads]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.dh_norms).toHaveLength(20);
    expect(Object.keys(j.grad_norms)).toEqual(['W_xh', 'W_hh', 'b_h', 'W_hq', 'b_q']);
    expect(j.loss).toBeGreaterThan(0);
    const g = readSafetensors(grads);
    for (const name of ['W_xh', 'W_hh', 'b_h', 'W_hq', 'b_q']) {
      const t = g.tensors.get(name)!;
      const norm = Math.sqrt(t.data.reduce((s, v) => s + v * v, 0));
      expect(norm).toBeCloseTo(j.grad_norms[name], 4);
    }
    const table = bptt(['inspect', '--checkpoint', ck, '--text', 'twenty-one']);
    expect(table.stdout).toMatch(/\|\|dL\/dh_t\|\|/);
  });
});

describe('export --format torch', () => {
  it('torch.nn.RNN + nn.Linear with the exported tensors computes our logits', () => {
    const c = loadCheckpoint(ck);
    const t = torchTensors(c);
    const V = c.vocab.size, H = 24;
    // torch: h = tanh(W_ih x + b_ih + W_hh h + b_hh), o = W h + b; one-hot x
    const text = c.vocab.encode(Array.from('twenty'));
    let h = new Float64Array(H);
    let logits = new Float64Array(V);
    for (const id of text) {
      const next = new Float64Array(H);
      for (let i = 0; i < H; i++) {
        let a = t.get('rnn.weight_ih_l0')!.data[i * V + id] + t.get('rnn.bias_ih_l0')!.data[i] + t.get('rnn.bias_hh_l0')!.data[i];
        for (let j = 0; j < H; j++) a += t.get('rnn.weight_hh_l0')!.data[i * H + j] * h[j];
        next[i] = Math.tanh(a);
      }
      h = next;
      logits = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let o = t.get('dense.bias')!.data[v];
        for (let j = 0; j < H; j++) o += t.get('dense.weight')!.data[v * H + j] * h[j];
        logits[v] = o;
      }
    }
    // ours (the float32 WASM forward pass): every logit equals the torch-layout float64 one
    const ours = bpttLogits(ck, 'twenty');
    for (let v = 0; v < V; v++) expect(Math.abs(ours[v] - logits[v]), `logit ${v}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(logits[v]));
    // and the greedy next character is their argmax
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    const r = bptt(['sample', '--checkpoint', ck, '--prefix', 'twenty', '--length', '1']);
    expect(r.stdout.trimEnd()).toBe('twenty' + c.vocab.chars[best]);
    const out = join(dir, 'm.torch.safetensors');
    const e = bptt(['export', '--checkpoint', ck, '--format', 'torch', '--out', out]);
    expect(e.code).toBe(0);
    const f = readSafetensors(out);
    expect([...f.tensors.keys()]).toEqual(['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'dense.weight', 'dense.bias']);
    expect(f.tensors.get('rnn.weight_ih_l0')!.shape).toEqual([H, V]);
    expect(JSON.parse(f.metadata.vocab)).toEqual(c.vocab.chars);
  });
});

const torchPython = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
failInCiWithout('examples/load_in_torch.py with a real PyTorch', torchPython !== undefined, TORCH_MISSING);
describe.skipIf(!torchPython)('examples/load_in_torch.py with a real PyTorch', () => {
  it('torch computes bptt\'s logits on the same text (every logit, not an argmax)', () => {
    const out = join(dir, 'logits.torch.safetensors');
    expect(bptt(['export', '--checkpoint', ck, '--format', 'torch', '--out', out]).code).toBe(0);
    const code = [
      'import json, sys, torch', `sys.path.insert(0, ${JSON.stringify(join(import.meta.dirname, '../examples'))})`,
      'from load_in_torch import load',
      `model, vocab = load(${JSON.stringify(out)})`,
      "ids = torch.tensor([vocab.index(ch) for ch in 'twenty']).view(-1, 1)",
      'with torch.no_grad():', '    logits, _ = model(ids, None)',
      'print(json.dumps(logits[-1, 0].tolist()))',
    ].join('\n');
    const py = spawnSync(torchPython!, ['-c', code], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    const theirs = JSON.parse(py.stdout) as number[];
    const ours = bpttLogits(ck, 'twenty');
    expect(theirs).toHaveLength(ours.length);
    theirs.forEach((x, v) => expect(Math.abs(x - ours[v]), `logit ${v}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(x)));
  });

  it('generates exactly what bptt sample generates', () => {
    const out = join(dir, 'py.torch.safetensors');
    expect(bptt(['export', '--checkpoint', ck, '--format', 'torch', '--out', out]).code).toBe(0);
    const py = spawnSync(torchPython!, [join(import.meta.dirname, '../examples/load_in_torch.py'), out, 'twenty'], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    const ours = bptt(['sample', '--checkpoint', ck, '--prefix', 'twenty', '--length', '50', '--temperature', '0']);
    expect(py.stdout).toBe(ours.stdout);
  });
});
if (!torchPython) console.warn('SKIPPED: no python3 with torch here; examples/load_in_torch.py was not run');

describe('bad checkpoints get one line naming the file and the problem', () => {
  const bad = (name: string, bytes: Buffer) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
  const good = () => readFileSync(ck);
  const withTensor = (fn: (t: ReturnType<typeof readSafetensors>) => void) => {
    const f = readSafetensors(ck);
    fn(f);
    return encodeSafetensors(f.tensors, f.metadata);
  };

  it.each([
    ['missing', () => join(dir, 'nope.safetensors'), /checkpoint .*nope\.safetensors: no such file/],
    ['truncated', () => bad('trunc.safetensors', good().subarray(0, good().length - 100)), /trunc\.safetensors: file is truncated \(tensor \w+ ends past the end of the file\)/],
    ['tiny', () => bad('tiny.safetensors', Buffer.from([1, 2, 3])), /tiny\.safetensors: file is truncated/],
    ['not safetensors', () => bad('text.safetensors', Buffer.from('hello world, this is text')), /text\.safetensors: not a safetensors file \(no JSON header after the 8-byte length\)/],
    ['wrong shape', () => bad('shape.safetensors', withTensor((f) => { f.tensors.get('W_hh')!.shape = [12, 48]; })), /shape\.safetensors: tensor W_hh has shape \[12,48\], expected \[24,24\]/],
    ['missing tensor', () => bad('miss.safetensors', withTensor((f) => { f.tensors.delete('b_q'); })), /miss\.safetensors: missing tensor b_q/],
    ['vocabulary size mismatch', () => bad('vocab.safetensors', withTensor((f) => { f.metadata.vocab = JSON.stringify(['a', 'b']); })), /vocab\.safetensors: tensor W_xh has shape \[\d+,24\], expected \[2,24\] for vocabulary size 2/],
  ])('%s', (_, path, message) => {
    const r = bptt(['sample', '--checkpoint', path(), '--prefix', 'one']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('resuming on a corpus with characters outside the checkpoint vocabulary', () => {
    const copy = join(dir, 'other');
    const r0 = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--hidden', '8', '--batch', '4', '--steps', '8', '--epochs', '1', '--workers', '1', '--set', 'run.sample_every=0', '--out', copy]);
    expect(r0.code).toBe(0);
    const text = join(dir, 'other.txt');
    writeFileSync(text, 'zebra quartz 分开 '.repeat(200));
    // point the run at another corpus: resume must refuse and leave the checkpoint untouched
    const f = readSafetensors(join(copy, 'last.safetensors'));
    const cfg = JSON.parse(f.metadata.config);
    cfg.data.path = text;
    cfg.run.epochs = 2;
    f.metadata.config = JSON.stringify(cfg);
    writeFileSync(join(copy, 'last.safetensors'), encodeSafetensors(f.tensors, f.metadata));
    const edited = readFileSync(join(copy, 'last.safetensors'));
    // the config no longer matches its recorded hash: refused as edited
    const r1 = bptt(['resume', copy]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/metadata\.config does not match its recorded sha256: the checkpoint was edited/);
    // an edit that also forges the hash (and drops config.yaml) still meets the vocabulary check
    f.metadata.config_sha256 = configHash(f.metadata.config);
    writeFileSync(join(copy, 'last.safetensors'), encodeSafetensors(f.tensors, f.metadata));
    unlinkSync(join(copy, 'config.yaml'));
    const forged = readFileSync(join(copy, 'last.safetensors'));
    const r = bptt(['resume', copy]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/data file .*other\.txt: \d+ character\(s\) not in the checkpoint's vocabulary, e\.g\. "z"/);
    expect(readFileSync(join(copy, 'last.safetensors')).equals(forged)).toBe(true);
    expect(edited.equals(forged)).toBe(false);
  });
});

it('an output path that cannot be a directory is refused before anything is written', () => {
  const fileAsDir = join(dir, 'plainfile');
  writeFileSync(fileAsDir, 'x');
  const r = bptt(['train', ...D2L_ARGS, '--builtin', 'counting', '--epochs', '1', '--out', join(fileAsDir, 'run')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^bptt: error: output .*plainfile\/run: a part of the path is a file, not a directory\n$/);
  expect(statSync(fileAsDir).isFile()).toBe(true);
});

it('a training state written under the accumulators\' old names (epochLossSum ...) reads as today\'s (reportLossSum ...)', () => {
  const old = { epoch: 3, minibatch: 2, epochRng: [1, 2, 3, 4], epochLossSum: 12.5, epochTokens: 640, epochNormSum: 1.5, epochClipped: 1, elapsedS: 4, bestValPpl: null, step: 11 };
  const s = TrainingStateSchema.parse(old);
  expect([s.reportLossSum, s.reportTokens, s.reportNormSum, s.reportClipped]).toEqual([12.5, 640, 1.5, 1]);
  expect('epochLossSum' in s).toBe(false);
  expect(TrainingStateSchema.safeParse({ ...old, epochLossSum: -1 }).success).toBe(false);
});
