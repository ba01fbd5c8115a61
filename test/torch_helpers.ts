// Shared by the tests that hold bptt against PyTorch: bptt's own logits for a text (any cell, the
// float32 WASM forward pass), the Python that has torch (if any), and torch's logits and greedy text
// from an exported file through examples/load_in_torch.py.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createWasmBlas, RESERVED_LOW_BYTES } from '../src/blas/loader.js';
import { allocModelWorkspace, modelForward, zeroState } from '../src/model/model.js';
import { offsetsAt } from '../src/model/params.js';
import { loadCheckpoint, loadParamsInto } from '../src/checkpoint/checkpoint.js';
import { Arena } from '../src/util/arena.js';
import { bptt } from './cli_helpers.js';

/** bptt's logits after reading `text`, for its last character (batch 1, zero initial state). */
export function bpttLogits(path: string, text: string): Float32Array {
  const c = loadCheckpoint(path);
  const ids = c.vocab.encode(Array.from(text));
  const model = c.layout.model;
  const shape = { V: model.V, H: model.H, T: ids.length, B: 1 };
  const place = (arena: Arena) => ({ p: arena.alloc(c.layout.numParams), ws: allocModelWorkspace(arena, model, shape, false) });
  const measure = new Arena(RESERVED_LOW_BYTES / 4);
  place(measure);
  const blas = createWasmBlas(measure.end * 4);
  const { p, ws } = place(new Arena(RESERVED_LOW_BYTES / 4));
  loadParamsInto(c, blas.f, p);
  blas.i.set(ids, ws.x);
  zeroState(model, blas, ws, 1);
  modelForward(model, blas, offsetsAt(c.layout, p), ws);
  const V = model.V;
  return blas.f.slice(ws.logits + (ids.length - 1) * V, ws.logits + ids.length * V);
}

/** A python3 that can import torch (and `extra` modules), or undefined. */
export function findTorchPython(extra: string[] = []): string | undefined {
  return ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', ['import torch', ...extra.map((m) => `import ${m}`)].join('; ')], { encoding: 'utf8' }).status === 0);
}

/** torch's logits after `text` and its greedy continuation of `prefix`, from an exported file. */
export function torchLogitsAndText(python: string, exported: string, text: string, prefix: string, length: number): { logits: number[]; text: string } {
  const code = [
    'import json, sys, torch', `sys.path.insert(0, ${JSON.stringify(join(import.meta.dirname, '../examples'))})`,
    'from load_in_torch import load, generate', `model, vocab = load(${JSON.stringify(exported)})`,
    `ids = torch.tensor([vocab.index(ch) for ch in ${JSON.stringify(text)}]).view(-1, 1)`,
    'with torch.no_grad():', '    logits, _ = model(ids, None)',
    `print(json.dumps({'logits': logits[-1, 0].tolist(), 'text': generate(model, vocab, ${JSON.stringify(prefix)}, ${length})}))`,
  ].join('\n');
  const py = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  expect(py.stderr).toBe('');
  return JSON.parse(py.stdout) as { logits: number[]; text: string };
}

/** Every logit within float32 rounding of the other side's. */
export function expectSameLogits(theirs: ArrayLike<number>, ours: ArrayLike<number>): void {
  expect(theirs.length).toBe(ours.length);
  for (let v = 0; v < ours.length; v++) expect(Math.abs(theirs[v] - ours[v]), `logit ${v}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(theirs[v]));
}

/**
 * torch, loading `exported` through examples/load_in_torch.py, computes bptt's logits after
 * "twenty-one" (the checkpoint `ckPath` it was exported from) and, unless `logitsOnly`, generates
 * exactly the greedy text `bptt sample` generates from "five".
 */
export function expectTorchAgrees(python: string, exported: string, ckPath: string, logitsOnly = false): void {
  const length = 30;
  const torch = torchLogitsAndText(python, exported, 'twenty-one', 'five', length);
  expectSameLogits(torch.logits, bpttLogits(ckPath, 'twenty-one'));
  if (!logitsOnly) expect(torch.text + '\n').toBe(bptt(['sample', '--checkpoint', ckPath, '--prefix', 'five', '--length', String(length), '--temperature', '0']).stdout);
}
