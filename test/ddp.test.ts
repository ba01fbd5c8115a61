// The road to PyTorch DDP and back (issue 11): export -> examples/train_ddp.py under torchrun
// (gloo, 2 processes on this machine) -> import -> sample / train --init. The round trip of the
// tensors is bitwise; the DDP side is checked against bptt where a Python with torch and PyYAML is
// installed (skipped with a printed reason elsewhere).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinCorpus } from '../src/data/builtin.js';
import { makeSampler } from '../src/data/samplers.js';
import { Result } from '../src/engine/control.js';
import { InlineEngine } from '../src/engine/engine.js';
import { loadCheckpoint, loadParamsInto } from '../src/checkpoint/checkpoint.js';
import { prepareData } from '../src/train/data.js';
import { readTensor } from '../src/model/params.js';
import { learningRate } from '../src/train/schedule.js';
import { planInputOf } from '../src/engine/plan.js';
import { bptt, D2L_ARGS } from './cli_helpers.js';
import { failInCiWithout } from './prereq.js';
import { optimStepOf, PLAIN_SGD } from '../src/optim/optimizers.js';

const dir = mkdtempSync(join(tmpdir(), 'bptt-ddp-'));
const run = join(dir, 'run');
const corpus = join(dir, 'counting.txt');
const exported = join(dir, 'm.torch.safetensors');
const SCRIPT = join(import.meta.dirname, '../examples/train_ddp.py');

beforeAll(() => {
  writeFileSync(corpus, builtinCorpus('counting'));
  const r = bptt(['train', ...D2L_ARGS, '--data', corpus, '--hidden', '32', '--batch', '8', '--steps', '16', '--lr', '2', '--clip', '1',
    '--sampler', 'consecutive', '--epochs', '3', '--set', 'run.sample_every=0', '--quiet', '--out', run]);
  expect(r.code).toBe(0);
  expect(bptt(['export', '--checkpoint', join(run, 'last.safetensors'), '--out', exported]).code).toBe(0);
});

const bits = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('export then import', () => {
  it('is bitwise lossless, and the result is a checkpoint sample, inspect and export accept', () => {
    const back = join(dir, 'back.safetensors');
    const r = bptt(['import', '--checkpoint', exported, '--out', back]);
    expect(r.code).toBe(0);
    const a = loadCheckpoint(join(run, 'last.safetensors'));
    const b = loadCheckpoint(back);
    expect(b.layout.names).toEqual(a.layout.names);
    for (const n of a.layout.names) expect(bits(b.tensors.get(n)!.data).equals(bits(a.tensors.get(n)!.data)), n).toBe(true);
    expect(b.vocab.chars).toEqual(a.vocab.chars);
    expect(b.config.model).toEqual(a.config.model);
    expect(bptt(['sample', '--checkpoint', back, '--prefix', 'one', '--length', '20']).stdout)
      .toBe(bptt(['sample', '--checkpoint', join(run, 'last.safetensors'), '--prefix', 'one', '--length', '20']).stdout);
    expect(bptt(['inspect', '--checkpoint', back, '--text', 'one two']).code).toBe(0);
    expect(bptt(['export', '--checkpoint', back, '--out', join(dir, 'again.torch.safetensors')]).code).toBe(0);
  });

  it('import refuses a file that is not a torch export, and never overwrites without --force', () => {
    expect(bptt(['import', '--checkpoint', join(run, 'last.safetensors'), '--out', join(dir, 'x.safetensors')]).stderr)
      .toMatch(/not a file written by "bptt export --format torch"/);
    expect(bptt(['import', '--checkpoint', exported, '--out', join(run, 'last.safetensors')]).stderr).toMatch(/exists; pass --force/);
  });
});

const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch, torch.distributed, yaml'], { encoding: 'utf8' }).status === 0);
if (!python) console.warn('SKIPPED: no python3 with torch and PyYAML here; examples/train_ddp.py was not run');

/** A TCP port free right now on the loopback (torchrun's rendezvous; --standalone's fixed 29400 collides with any other torchrun). */
function freePort(): number {
  const r = spawnSync(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

/** torchrun (as a module of the Python that has torch); returns the JSON objects rank 0 printed. */
function torchrun(ranks: number, out: string, extra: string[], runDir = run, init = exported): Array<Record<string, number>> {
  // --redirects 1 --tee 1: torch 1.13's launcher under Python 3.11 fails on the default of 0
  const r = spawnSync(python!, ['-m', 'torch.distributed.run', '--nnodes', '1', '--master_addr', '127.0.0.1', '--master_port', String(freePort()),
    `--nproc_per_node=${ranks}`, '--redirects', '1', '--tee', '1',
    SCRIPT, '--config', join(runDir, 'config.yaml'), '--data', corpus, '--init', init, '--out', out, ...extra],
  { encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  // the launcher tees each rank's output in chunks, each headed "[default0]:", and a chunk can end
  // mid-line: the prefixes go wherever they are, then every (flat) JSON object is taken whole
  return (r.stdout.replace(/\[[a-z]+\d+\]:/g, '').match(/\{"[^{}]*\}/g) ?? []).map((l) => JSON.parse(l));
}

/** bptt's mean loss on minibatch 0 of an epoch (consecutive sampling) with the checkpoint's parameters. */
async function bpttFirstLoss(runDir = run): Promise<number> {
  const ck = loadCheckpoint(join(runDir, 'last.safetensors'));
  const cfg = { ...ck.config, data: { ...ck.config.data, path: corpus } };
  const data = prepareData(cfg, ck.vocab);
  const { steps: T, batch: B } = cfg.data;
  const engine = new InlineEngine({
    plan: planInputOf(cfg, ck.vocab.size, { workers: 1, deterministic: false }), corpus: data.train,
  });
  loadParamsInto(ck, engine.blas.f, engine.plan.params);
  makeSampler('consecutive', data.train, B, T).starts(0, engine.control.schedule, 0);
  engine.blas.fill(engine.plan.state.size, 0, engine.plan.state.offset);
  await engine.runStretch({ k0: 0, k1: 1, carry: true, gradScale: 1 / (T * B), lr: 0, clipTheta: 1, optim: PLAIN_SGD, step0: 0 });
  return engine.control.results[Result.LOSS] / (T * B);
}

/**
 * bptt's parameters after one SGD step on minibatch `minibatch` of an epoch (consecutive sampling,
 * a zero state, the schedule's rate at the checkpoint's position), by tensor name.
 */
async function bpttFirstStep(runDir: string): Promise<Map<string, Float32Array>> {
  const ck = loadCheckpoint(join(runDir, 'last.safetensors'));
  const cfg = { ...ck.config, data: { ...ck.config.data, path: corpus } };
  const data = prepareData(cfg, ck.vocab);
  const { steps: T, batch: B } = cfg.data;
  const engine = new InlineEngine({ plan: planInputOf(cfg, ck.vocab.size, { workers: 1, deterministic: false }), corpus: data.train });
  loadParamsInto(ck, engine.blas.f, engine.plan.params);
  const sampler = makeSampler('consecutive', data.train, B, T);
  sampler.starts(ck.training!.minibatch, engine.control.schedule, 0);
  engine.blas.fill(engine.plan.state.size, 0, engine.plan.state.offset);
  const lr = learningRate(cfg.optim, ck.training!.step, cfg.run.epochs * sampler.batchesPerEpoch, sampler.batchesPerEpoch);
  await engine.runStretch({ k0: 0, k1: 1, carry: true, gradScale: 1 / (T * B), lr, clipTheta: cfg.optim.clip, optim: optimStepOf(cfg.optim), step0: ck.training!.step });
  const layout = engine.plan.layout;
  return new Map(layout.names.map((n) => [n, readTensor(layout.tensors[n], engine.blas.f, engine.plan.params)]));
}

failInCiWithout('examples/train_ddp.py under torchrun', python !== undefined, "a python3 that imports torch, torch.distributed and yaml (Debian's python3-torch, python3-yaml)");
describe.skipIf(!python)('examples/train_ddp.py under torchrun (gloo, this machine)', () => {
  // 1 rank and 2 ranks each agree with bptt's clipped step, so with each other: the clip follows the all-reduce
  it.each(['rnn', 'lstm', 'gru'] as const)('%s: one identical minibatch through bptt and through DDP on 1 and 2 ranks gives the same updated tensors (one bias, the norm over bptt\'s parameters)', async (cell) => {
    const lrun = join(dir, `one-${cell}`);
    expect(bptt(['train', ...D2L_ARGS, '--data', corpus, '--set', `model.cell=${cell}`, '--set', 'model.gru_reset=after', '--hidden', '24', '--batch', '8', '--steps', '16',
      '--lr', '5', '--clip', '1', '--sampler', 'consecutive', '--epochs', '2', '--set', 'run.sample_every=0', '--quiet', '--out', lrun]).code).toBe(0);
    const lexp = join(dir, `one-${cell}.torch.safetensors`);
    expect(bptt(['export', '--checkpoint', join(lrun, 'last.safetensors'), '--out', lexp]).code).toBe(0);
    const ours = await bpttFirstStep(lrun);
    const before = loadCheckpoint(join(lrun, 'last.safetensors')).tensors;
    for (const ranks of [1, 2]) {
      const out = join(dir, `one-${cell}-${ranks}.torch.safetensors`);
      torchrun(ranks, out, ['--epochs', '1', '--max-minibatches', '1'], lrun, lexp);
      const back = join(dir, `one-${cell}-${ranks}.safetensors`);
      expect(bptt(['import', '--checkpoint', out, '--out', back]).code).toBe(0);
      const theirs = loadCheckpoint(back).tensors;
      for (const [name, mine] of ours) {
        const t = theirs.get(name)!.data, b0 = before.get(name)!.data;
        // float32 rounding: the step of each element agrees to 1e-4 of the largest step in the tensor
        let scale = 0;
        for (let k = 0; k < mine.length; k++) scale = Math.max(scale, Math.abs(mine[k] - b0[k]));
        for (let k = 0; k < mine.length; k++) expect(Math.abs(t[k] - mine[k]), `${cell} ${ranks} rank(s) ${name}[${k}]`).toBeLessThanOrEqual(1e-4 * scale + 1e-7);
      }
    }
  });

  it('the schedule continues where bptt left it: after 3 epochs of a step schedule the first DDP minibatch uses lr x gamma^3', () => {
    const lrun = join(dir, 'sched');
    expect(bptt(['train', ...D2L_ARGS, '--data', corpus, '--hidden', '16', '--batch', '8', '--steps', '16', '--lr', '4', '--clip', '1', '--sampler', 'consecutive',
      '--set', 'optim.schedule.kind=step', '--set', 'optim.schedule.step_epochs=1', '--set', 'optim.schedule.gamma=0.5',
      '--epochs', '3', '--set', 'run.sample_every=0', '--quiet', '--out', lrun]).code).toBe(0);
    const lexp = join(dir, 'sched.torch.safetensors');
    expect(bptt(['export', '--checkpoint', join(lrun, 'last.safetensors'), '--out', lexp]).code).toBe(0);
    const lines = torchrun(1, join(dir, 'sched-t.torch.safetensors'), ['--epochs', '1', '--max-minibatches', '2', '--log-minibatches'], lrun, lexp);
    const first = lines.find((l) => l.minibatch === 1)!;
    expect(first.lr).toBe(4 * 0.5 ** 3);
    expect(first.epoch).toBe(4);
  });

  it('bad input gets one line and exit 2, never a traceback or an output', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--data', join(dir, 'missing.txt'), '--epochs', '1'], /train_ddp: error: --data .*missing\.txt: no such file/],
      [['--data', corpus, '--epochs', '-3'], /train_ddp: error: --epochs -3: must be at least 1/],
    ];
    for (const [extra, msg] of cases) {
      const out = join(dir, 'never.torch.safetensors');
      const r = spawnSync(python!, [SCRIPT, '--config', join(run, 'config.yaml'), '--init', exported, '--out', out, ...extra], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('2 ranks: the first minibatch loss is bptt\'s on the same rows; perplexity continues from bptt\'s; the import samples', async () => {
    const out = join(dir, 't2.torch.safetensors');
    const lines = torchrun(2, out, ['--epochs', '1', '--log-minibatches']);
    const first = lines.find((l) => l.minibatch === 1)!;
    expect(first.world_size).toBe(2);
    const ours = await bpttFirstLoss();
    expect(Math.abs(first.loss - ours)).toBeLessThanOrEqual(1e-5 * ours);
    console.log(`train_ddp first minibatch loss ${first.loss}, bptt ${ours}, relative difference ${Math.abs(first.loss - ours) / ours}`);
    // a fresh model starts near the vocabulary size (19); this one goes on from bptt's last epoch
    const epoch = lines.find((l) => l.train_ppl !== undefined)!;
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { train_ppl: number });
    expect(epoch.train_ppl).toBeLessThan(metrics[metrics.length - 1].train_ppl * 1.2);
    // the epoch's rate is every rank's tokens (the global minibatch, T*B each) over the epoch's seconds
    const perEpoch = lines.filter((l) => l.minibatch !== undefined && l.epoch === epoch.epoch).length;
    const { steps: T, batch: B } = loadCheckpoint(join(run, 'last.safetensors')).config.data;
    expect(epoch.tokens).toBe(perEpoch * T * B);
    expect(epoch.tokens_per_s).toBeCloseTo(epoch.tokens / epoch.seconds, 6);
    const imported = join(dir, 't2.safetensors');
    expect(bptt(['import', '--checkpoint', out, '--out', imported]).code).toBe(0);
    const s = bptt(['sample', '--checkpoint', imported, '--prefix', 'one', '--length', '30']);
    expect(s.code).toBe(0);
    expect(s.stdout.startsWith('one')).toBe(true);
    // and bptt trains on from it
    const cont = bptt(['train', '--config', join(run, 'config.yaml'), '--init', imported, '--epochs', '1', '--quiet', '--out', join(dir, 'cont')]);
    expect(cont.code).toBe(0);
  });

  // one layer of each cell is the per-cell test above (the whole updated model, not only the loss)
  it.each([['lstm', 2], ['gru', 3]] as const)('a %s run of %i layer(s): the first minibatch loss equals bptt\'s, and the result imports as that model', async (cell, layers) => {
    const lrun = join(dir, `${cell}${layers}-run`);
    expect(bptt(['train', ...D2L_ARGS, '--data', corpus, '--set', `model.cell=${cell}`, '--set', 'model.gru_reset=after', '--set', `model.layers=${layers}`, '--hidden', '32', '--batch', '8', '--steps', '16',
      '--lr', '10', '--clip', '1', '--sampler', 'consecutive', '--epochs', '2', '--set', 'run.sample_every=0', '--quiet', '--out', lrun]).code).toBe(0);
    const lexp = join(dir, `${cell}${layers}.torch.safetensors`);
    expect(bptt(['export', '--checkpoint', join(lrun, 'last.safetensors'), '--out', lexp]).code).toBe(0);
    const out = join(dir, `${cell}${layers}-t.torch.safetensors`);
    const lines = torchrun(2, out, ['--epochs', '1', '--max-minibatches', '2', '--log-minibatches'], lrun, lexp);
    const first = lines.find((l) => l.minibatch === 1)!;
    const ours = await bpttFirstLoss(lrun);
    expect(Math.abs(first.loss - ours)).toBeLessThanOrEqual(1e-5 * ours);
    const imported = join(dir, `${cell}${layers}-t.safetensors`);
    expect(bptt(['import', '--checkpoint', out, '--out', imported]).code).toBe(0);
    expect(loadCheckpoint(imported).config.model.cell).toBe(cell);
    expect(loadCheckpoint(imported).config.model.layers).toBe(layers);
    expect(bptt(['sample', '--checkpoint', imported, '--prefix', 'one', '--length', '10']).code).toBe(0);
  });

  it('a 2-layer LSTM with dropout 0.3 trains under DDP (torch draws its own masks) and imports with its dropout', () => {
    const lrun = join(dir, 'drop-run');
    expect(bptt(['train', ...D2L_ARGS, '--data', corpus, '--set', 'model.cell=lstm', '--set', 'model.layers=2', '--set', 'model.dropout=0.3', '--hidden', '32', '--batch', '8',
      '--steps', '16', '--lr', '10', '--clip', '1', '--sampler', 'consecutive', '--epochs', '2', '--set', 'run.sample_every=0', '--quiet', '--out', lrun]).code).toBe(0);
    const lexp = join(dir, 'drop.torch.safetensors');
    expect(bptt(['export', '--checkpoint', join(lrun, 'last.safetensors'), '--out', lexp]).code).toBe(0);
    const out = join(dir, 'drop-t.torch.safetensors');
    const lines = torchrun(2, out, ['--epochs', '1', '--max-minibatches', '3', '--log-minibatches'], lrun, lexp);
    expect(lines.filter((l) => l.minibatch !== undefined)).toHaveLength(3);
    const imported = join(dir, 'drop-t.safetensors');
    expect(bptt(['import', '--checkpoint', out, '--out', imported]).code).toBe(0);
    expect(loadCheckpoint(imported).config.model).toMatchObject({ cell: 'lstm', layers: 2, dropout: 0.3 });
  });
});
