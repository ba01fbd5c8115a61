// Trust, round two (issue 17): nothing a command reads, nor a device, is ever overwritten, with or
// without --force; a sweep stays in its directory; import uses every tensor or refuses; stops,
// resumes and locks hold in the states found by attacking them. Each test failed before its fix.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { parseGridArg } from '../src/cli/experiments.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { bptt, CLI, D2L_ARGS, runAndSignalAt } from './cli_helpers.js';

const SMALL = [...D2L_ARGS, '--builtin', 'counting', '--hidden', '16', '--batch', '8', '--steps', '12', '--lr', '2', '--clip', '1', '--set', 'run.sample_every=0'];
const BENCH = [...D2L_ARGS, '--set', 'model.hidden=16', '--workers', '1', '--minibatches', '1', '--warmup', '0', '--repeat', '1'];
const tmp = () => mkdtempSync(join(tmpdir(), 'bptt-trust-'));
/**
 * A run whose evaluation spans many 50 ms slices (about 0.8 s here: a stop raised as it starts is
 * seen in one of them) after a short epoch: LSTM 512 on 34,199 characters of words, half held out.
 */
const SLOW_EVAL = (dir: string) => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
  writeFileSync(join(dir, 'words.txt'), Array.from({ length: 6000 }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(' '));
  return [...SMALL, '--data', join(dir, 'words.txt'), '--cell', 'lstm', '--hidden', '512', '--workers', '1',
    '--set', 'run.eval_every=1', '--set', 'data.val_fraction=0.5'];
};
const sha = (path: string) => readFileSync(path).toString('base64');

/** A finished small run (2 epochs, checkpoint every epoch) in a new directory. */
function trained(extra: string[] = []): string {
  const run = join(tmp(), 'run');
  const r = bptt(['train', ...SMALL, '--epochs', '2', '--set', 'run.checkpoint_every=1', '--workers', '1', '--out', run, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return run;
}

function fifo(dir: string): string {
  const p = join(dir, 'fifo');
  execFileSync('mkfifo', [p]);
  return p;
}

describe('--force never replaces what is not a regular file, nor what the command reads', () => {
  const run = trained();
  const ck = join(run, 'last.safetensors');

  it('a character device or a FIFO as an output is refused, with --force too, and stays what it was', () => {
    const dir = tmp();
    const pipe = fifo(dir);
    const exported = join(dir, 'm.torch.safetensors');
    expect(bptt(['export', '--checkpoint', ck, '--out', exported]).code).toBe(0);
    const cases: string[][] = [
      ['export', '--checkpoint', ck, '--out', '/dev/null', '--force'],
      ['export', '--checkpoint', ck, '--out', pipe, '--force'],
      ['import', '--checkpoint', exported, '--out', pipe, '--force'],
      ['inspect', '--checkpoint', ck, '--text', 'one two', '--grads-out', pipe, '--force'],
      ['compare', run, '--svg', pipe, '--force'],
      ['bench', ...BENCH, '--json', pipe, '--force'],
    ];
    for (const args of cases) {
      const r = bptt(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/is a (character device|pipe \(FIFO\)), not a regular file/);
    }
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(statSync(pipe).isFIFO()).toBe(true);
  });

  it('an output that is a file the command reads is refused whatever the flags, and the file is untouched', () => {
    const dir = tmp();
    const corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, 'one two three four five six seven eight nine ten\n'.repeat(200));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, readFileSync(D2L_ARGS[1]));
    const before = [sha(join(run, 'metrics.jsonl')), sha(join(run, 'config.yaml')), sha(ck), sha(corpus), sha(cfg)];
    const cases: Array<[string[], RegExp]> = [
      [['compare', run, '--svg', join(run, 'metrics.jsonl'), '--force'], /--svg .*metrics\.jsonl: is a file this command reads/],
      [['compare', run, '--svg', join(run, 'config.yaml'), '--force'], /--svg .*config\.yaml: is a file this command reads/],
      [['compare', run, '--svg', ck, '--force'], /--svg .*last\.safetensors: is a file this command reads/],
      [['bench', ...BENCH, '--data', corpus, '--json', corpus, '--force'], /--json .*corpus\.txt: is a file this command reads/],
      [['bench', '--config', cfg, '--workers', '1', '--svg', cfg, '--force'], /--svg .*c\.yaml: is a file this command reads/],
    ];
    for (const [args, msg] of cases) {
      const r = bptt(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    expect([sha(join(run, 'metrics.jsonl')), sha(join(run, 'config.yaml')), sha(ck), sha(corpus), sha(cfg)]).toEqual(before);
  });

  it('train --force never destroys its --init, nor a run file that is a directory; its own config.yaml as --config starts it over', () => {
    const dir = tmp();
    // the run's own config.yaml is read whole before anything is written: --force starts the run over from it
    const configBefore = readFileSync(join(run, 'config.yaml'), 'utf8');
    const r1 = bptt(['train', '--config', join(run, 'config.yaml'), '--out', run, '--force', '--quiet']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(readFileSync(join(run, 'config.yaml'), 'utf8')).toBe(configBefore);
    const r2 = bptt(['train', ...SMALL, '--init', ck, '--out', run, '--force']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--init .*last\.safetensors: is this run directory's last\.safetensors/);
    expect(existsSync(ck) && existsSync(join(run, 'config.yaml'))).toBe(true);
    // metrics.jsonl as a directory: refused before config.yaml or anything else is removed
    const other = join(dir, 'other');
    expect(bptt(['train', ...SMALL, '--epochs', '1', '--workers', '1', '--out', other]).code).toBe(0);
    renameSync(join(other, 'metrics.jsonl'), join(dir, 'm.jsonl'));
    mkdirSync(join(other, 'metrics.jsonl'));
    for (const args of [['train', ...SMALL, '--epochs', '1', '--out', other, '--force'], ['resume', other, '--epochs', '2']]) {
      const r = bptt(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/metrics\.jsonl is a directory; a run writes only regular files there/);
      expect(existsSync(join(other, 'config.yaml')) && existsSync(join(other, 'last.safetensors'))).toBe(true);
    }
  });

  it('a directory holding only the user\'s own config.yaml is not "a run"', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.yaml'), readFileSync(D2L_ARGS[1]));
    const r = spawnSync(process.execPath, [CLI, 'train', '--config', 'config.yaml', '--builtin', 'counting', '--hidden', '8', '--epochs', '1', '--out', 'out'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('a sweep writes only inside its directory', () => {
  it('run.out is not a grid axis', () => {
    const dir = tmp();
    const victim = trained();
    const before = sha(join(victim, 'last.safetensors'));
    const r = bptt(['sweep', D2L_ARGS[1], '--grid', `run.out=${victim}`, '--out', join(dir, 'sw'), '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/run\.out cannot be a grid axis/);
    expect(sha(join(victim, 'last.safetensors'))).toBe(before);
  });
});

describe('import uses every tensor or refuses', () => {
  const run = trained(['--set', 'model.cell=lstm', '--set', 'model.layers=2']);
  const dir = tmp();
  const exported = join(dir, 'deep.torch.safetensors');
  expect(bptt(['export', '--checkpoint', join(run, 'last.safetensors'), '--out', exported]).code).toBe(0);
  const rewrite = (edit: (f: ReturnType<typeof readSafetensors>) => void, name: string) => {
    const f = readSafetensors(exported);
    edit(f);
    const path = join(dir, name);
    writeSafetensors(path, f.tensors, f.metadata);
    return path;
  };

  it('a file whose metadata promises fewer layers than it holds is refused, naming the tensors left over', () => {
    const lying = rewrite((f) => { f.metadata.num_layers = '1'; }, 'lying.safetensors');
    const r = bptt(['import', '--checkpoint', lying, '--out', join(dir, 'x.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rnn\.weight_ih_l1.* not part of the model the metadata describes \(lstm, num_layers 1/);
    expect(existsSync(join(dir, 'x.safetensors'))).toBe(false);
  });

  it('an unknown extra tensor is refused; a NaN is bad input (exit 2) and nothing is written', () => {
    const extra = rewrite((f) => { f.tensors.set('surprise', { shape: [2], data: new Float32Array([1, 2]) }); }, 'extra.safetensors');
    const r1 = bptt(['import', '--checkpoint', extra, '--out', join(dir, 'y.safetensors')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/tensor surprise is not part of the model/);
    const nan = rewrite((f) => { f.tensors.get('dense.bias')!.data[3] = NaN; }, 'nan.safetensors');
    const r2 = bptt(['import', '--checkpoint', nan, '--out', join(dir, 'z.safetensors')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/dense\.bias holds a non-finite value \(NaN at index 3\); nothing was written/);
    expect(r2.stderr).not.toMatch(/previous checkpoint is kept/);
  });

  it('a vocabulary entry that is not one character is refused by import and by every reader of a checkpoint', () => {
    for (const entry of ['dd', '']) {
      const bad = rewrite((f) => { const v = JSON.parse(f.metadata.vocab); v[5] = entry; f.metadata.vocab = JSON.stringify(v); }, `v${entry.length}.safetensors`);
      const r = bptt(['import', '--checkpoint', bad, '--out', join(dir, `w${entry.length}.safetensors`)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`vocabulary entry 5 \\(${JSON.stringify(entry)}\\) is not a single character`));
    }
    const ck = readSafetensors(join(run, 'last.safetensors'));
    const v = JSON.parse(ck.metadata.vocab);
    v[2] = 'dd';
    ck.metadata.vocab = JSON.stringify(v);
    const badCk = join(dir, 'badvocab.safetensors');
    writeSafetensors(badCk, ck.tensors, ck.metadata);
    const r = bptt(['sample', '--checkpoint', badCk, '--prefix', 'one']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/vocabulary entry 2 \("dd"\) is not a single character/);
  });

  it('a file that is not a safetensors checkpoint is named as such', () => {
    const r = bptt(['sample', '--checkpoint', join(run, 'metrics.jsonl'), '--prefix', 'one']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/metrics\.jsonl: not a safetensors file/);
  });
});

describe('stops and states', () => {
  it('a model whose loss blows up does not "complete": divergence is judged on the loss and named with its cause', () => {
    const run = join(tmp(), 'run');
    const r = bptt(['train', ...SMALL, '--hidden', '32', '--epochs', '4', '--set', 'optim.kind=adam', '--lr', '100', '--workers', '1', '--out', run]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/training diverged by minibatch \d+: the mean training loss is [\d.e+]+ nats per character, more than 4 times a uniform guess's/);
    expect(r.stderr).toMatch(/adam at learning rate 100 moved the parameters too far: lower optim\.lr/);
    // the metrics say what the loss was: a number, not null
    const rows = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(typeof rows[rows.length - 1].train_loss).toBe('number');
  });

  it('Ctrl-C during a long periodic sample stops it: the checkpoint is written and the unfinished samples are not', async () => {
    const run = join(tmp(), 'run');
    const args = ['train', ...SMALL, '--hidden', '256', '--epochs', '3', '--workers', '1', '--set', 'run.sample_every=1', '--set', 'run.sample_length=100000',
      '--set', 'run.sample_prefixes=[one, two, three]', '--out', run];
    const { code } = await runAndSignalAt(args, 'SIGINT', 'sampling');
    expect(code).toBe(130);
    expect(existsSync(join(run, 'last.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).outcome).toBe('interrupted');
    expect(existsSync(join(run, 'samples.txt')) ? readFileSync(join(run, 'samples.txt'), 'utf8') : '').toBe('');
  });

  it('Ctrl-C during an evaluation stops it: the checkpoint is written, no half-evaluated row, and resume evaluates what was cut', async () => {
    const dir = tmp(), run = join(dir, 'run');
    const args = ['train', ...SLOW_EVAL(dir), '--epochs', '3', '--out', run];
    const { code } = await runAndSignalAt(args, 'SIGINT', 'evaluation');
    expect(code).toBe(130);
    expect(existsSync(join(run, 'last.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).outcome).toBe('interrupted');
    const rows = () => (existsSync(join(run, 'metrics.jsonl')) ? readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
    // cut in epoch 1's evaluation: no row yet, and the checkpoint holds epoch 1's training
    expect(rows()).toEqual([]);
    expect(loadCheckpoint(join(run, 'last.safetensors')).training!.reportDue).toMatchObject({ epochEnded: true });
    const r = bptt(['resume', run]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const after = rows();
    expect(after.map((m) => [m.epoch, typeof m.val_loss, m.tokens_per_s > 0])).toEqual([[1, 'number', true], [2, 'number', true], [3, 'number', true]]);
    // the same run without the stop: the same rows, bit for bit, but for the times
    const straight = join(dir, 'straight');
    expect(bptt([...args.slice(0, -1), straight]).code).toBe(0);
    const strip = (m: Record<string, unknown>) => ({ epoch: m.epoch, train_loss: m.train_loss, val_loss: m.val_loss, lr: m.lr, grad_norm: m.grad_norm });
    const straightRows = readFileSync(join(straight, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => strip(JSON.parse(l)));
    expect(after.map(strip)).toEqual(straightRows);
  });

  it('Ctrl-C during the last evaluation: resume makes it, writes its row and the final checkpoint, and completes', async () => {
    const dir = tmp(), run = join(dir, 'run');
    const args = ['train', ...SLOW_EVAL(dir), '--epochs', '1', '--out', run];
    const { code } = await runAndSignalAt(args, 'SIGINT', 'evaluation');
    expect(code).toBe(130);
    const r = bptt(['resume', run]);
    expect(r.code).toBe(0);
    const rows = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((m) => [m.epoch, typeof m.val_loss])).toEqual([[1, 'number']]);
    expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).outcome).toBe('completed');
    expect(loadCheckpoint(join(run, 'last.safetensors')).training!.reportDue).toBeNull();
  });

  it('SIGHUP (a closed terminal) stops like SIGTERM: checkpoint, lock released, exit 129, and resume continues', async () => {
    const run = join(tmp(), 'run');
    const { code } = await runAndSignalAt(['train', ...SMALL, '--hidden', '512', '--batch', '4', '--epochs', '3', '--workers', '1', '--out', run], 'SIGHUP', '2:2');
    expect(code).toBe(129);
    expect(existsSync(join(run, 'last.safetensors'))).toBe(true);
    expect(existsSync(join(run, '.lock'))).toBe(false);
    expect(bptt(['resume', run]).code).toBe(0);
  });

  it('Ctrl-C on a run whose loss has blown up either writes its checkpoint or says in one line why not', async () => {
    const run = join(tmp(), 'run');
    const child = spawn(process.execPath, [CLI, 'train', ...SMALL, '--hidden', '512', '--batch', '4', '--epochs', '8', '--workers', '1', '--set', 'optim.kind=adam', '--lr', '100', '--out', run],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', sent = false;
    child.stdout.on('data', (d: Buffer) => { out += d; if (!sent && out.includes('bptt: training')) { sent = true; setTimeout(() => child.kill('SIGINT'), 100); } });
    child.stderr.on('data', (d: Buffer) => { err += d; });
    const code = await new Promise((resolve) => child.on('close', resolve));
    if (code === 130) {
      expect(existsSync(join(run, 'last.safetensors'))).toBe(true);
      expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).outcome).toBe('interrupted');
    } else {
      expect(code).toBe(1);
      expect(err).toMatch(/^bptt: error: (training diverged|refusing to write)/m);
    }
  });

  it('SIGUSR1 does not open Node\'s inspector: the run goes on and finishes', async () => {
    const run = join(tmp(), 'run');
    const child = spawn(process.execPath, [CLI, 'train', ...SMALL, '--hidden', '256', '--epochs', '3', '--workers', '1', '--out', run], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', sent = false;
    child.stdout.on('data', (d: Buffer) => { out += d; if (!sent && out.includes('epoch 1/3')) { sent = true; child.kill('SIGUSR1'); } });
    child.stderr.on('data', (d: Buffer) => { err += d; });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(sent).toBe(true);
    expect(code).toBe(0);
    expect(err).not.toMatch(/Debugger listening/);
  });

  it('resume --epochs below what is done is refused in one line and touches nothing', async () => {
    const run = join(tmp(), 'run');
    const { code } = await runAndSignalAt(['train', ...SMALL, '--hidden', '512', '--batch', '4', '--epochs', '3', '--workers', '1', '--out', run], 'SIGINT', '2:2');
    expect(code).toBe(130);
    const files = ['config.yaml', 'last.safetensors', 'summary.json', 'metrics.jsonl'].filter((f) => existsSync(join(run, f)));
    const before = files.map((f) => sha(join(run, f)));
    // stopped in epoch 2 (at its second minibatch): epoch 1 is below where the run is
    const r = bptt(['resume', run, '--epochs', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--epochs 1: .* is already at epoch 2 \(minibatch \d+\); give at least 2 \(nothing was changed\)/);
    expect(files.map((f) => sha(join(run, f)))).toEqual(before);
  });

  it('a corpus that moved: resume finds it from another directory, or takes --data with the same content; other content is refused', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'data'));
    const text = 'alpha beta gamma delta epsilon zeta eta theta\n'.repeat(300);
    writeFileSync(join(dir, 'data', 'c.txt'), text);
    const cwd = (d: string, args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: d, encoding: 'utf8' });
    const t = cwd(dir, ['train', ...SMALL.filter((a) => a !== '--builtin' && a !== 'counting'), '--data', 'data/c.txt', '--epochs', '1', '--workers', '1', '--out', 'run']);
    expect(t.status, t.stderr).toBe(0);
    const run = join(dir, 'run');
    // from another working directory the relative data/c.txt is not there: the recorded absolute path is
    const r1 = cwd(tmpdir(), ['resume', run, '--epochs', '2']);
    expect(r1.status, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/reading the run's data from .*data\/c\.txt/);
    // moved, byte-identical: --data takes it; a different text is refused by size and sha256
    const moved = join(dir, 'moved.txt');
    renameSync(join(dir, 'data', 'c.txt'), moved);
    expect(cwd(dir, ['resume', 'run', '--epochs', '3', '--data', moved]).status).toBe(0);
    writeFileSync(join(dir, 'other.txt'), text.replace('alpha', 'omega'));
    const r3 = cwd(dir, ['resume', 'run', '--epochs', '4', '--data', 'other.txt']);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/differs from the data this run was trained on/);
  });

  it('inspect takes a long text without an internal error', () => {
    const run = trained();
    const text = 'one hundred twenty-three '.repeat(5200); // 130,000 characters (newlines are spaces in this model)
    // its JSON (a norm per step) is several MB: more than spawnSync's default buffer
    const r = spawnSync(process.execPath, [CLI, 'inspect', '--checkpoint', join(run, 'last.safetensors'), '--text', text, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.status, r.stderr.slice(0, 300)).toBe(0);
    expect(JSON.parse(r.stdout).steps).toBe(text.length - 1);
  });

  it('a lock naming a live process that is not its writer (pid reused) is taken over; a live bptt\'s message says how to clear a stale one', () => {
    const run = trained();
    writeFileSync(join(run, '.lock'), JSON.stringify({ pid: 1, host: hostname(), started: '2020-01-01T00:00:00Z', pidStart: -1 }));
    const r1 = bptt(['resume', run, '--epochs', '3']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stderr).toMatch(/taking over a stale lock/);
    writeFileSync(join(run, '.lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: '2020-01-01T00:00:00Z', pidStart: null }));
    const r2 = bptt(['resume', run, '--epochs', '4']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/if no bptt is running there, remove .*\.lock/);
  });
});

describe('small things', () => {
  it('an environment variable with a typo is an error with a did-you-mean; resume reads the environment as train --resume does', () => {
    const r = bptt(['train', ...SMALL, '--epochs', '1', '--out', join(tmp(), 'r')], { BPTT_OPTIM_LRR: '5' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/environment variable BPTT_OPTIM_LRR: names no config key \(did you mean BPTT_OPTIM_LR\?\)/);
    const run = trained();
    const r2 = bptt(['resume', run], { BPTT_RUN_EPOCHS: '3' });
    expect(r2.code).toBe(0);
    expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).epochs).toBe(3);
  });

  it('config messages: min_lr above lr, 1e400, a section set as a key, a list item set by --set', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'optim.schedule.kind=cosine', '--set', 'optim.schedule.min_lr=5', '--lr', '1'], /optim\.schedule\.min_lr 5 is above optim\.lr 1: the cosine schedule would raise the rate/],
      [['--lr', '1e400'], /--lr 1e400: optim\.lr: must be a finite number/],
      [['--set', 'model=3'], /--set model=3: model is a section, not a key; set one of its keys, e\.g\. model\.cell/],
      [['--set', 'run.sample_prefixes=[a, ""]'], /^bptt: error: --set run\.sample_prefixes=\[a, ""\]: run\.sample_prefixes\.1:/],
      [['--time', '10m', '--set', 'run.minibatches=5'], /run\.time_budget and run\.minibatches both say how long to train/],
      [['--time', 'soon'], /--time soon: run\.time_budget: must be a duration such as 90s, 10m or 1h30m/],
      [['--seed', '99999999999999999999'], /--seed 99999999999999999999: run\.seed: Too big: expected number to be <=4294967295$/m],
    ];
    for (const [args, msg] of cases) {
      const r = bptt(['train', ...SMALL, ...args, '--out', join(tmp(), 'r')]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
  });

  it('a .lock that is a directory is one clear error; resuming with other kernels says it is no longer bitwise', () => {
    const run = trained();
    mkdirSync(join(run, '.lock'));
    const r = bptt(['resume', run, '--epochs', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\.lock is a directory, not a bptt lock; remove it/);
    expect(r.stderr).not.toMatch(/warning/);
    rmdirSync(join(run, '.lock'));
    const k = bptt(['resume', run, '--epochs', '3', '--kernels', 'simd']);
    expect(k.code).toBe(0);
    if (loadCheckpoint(join(run, 'last.safetensors')).kernels !== 'wasm-simd') {
      expect(k.stderr).toMatch(/trained with wasm-relaxed-simd kernels and this process runs wasm-simd: .* no longer bitwise/);
    }
  });

  it('grid values may hold commas, as a YAML list', () => {
    expect(parseGridArg('run.sample_prefixes=[["a, b"], [c]]')).toEqual(['run.sample_prefixes', [['a, b'], ['c']]]);
    expect(parseGridArg('optim.lr=0.1,0.2')).toEqual(['optim.lr', [0.1, 0.2]]);
  });

  it('early_stop without evaluations warns that it never triggers', () => {
    const r = bptt(['train', ...SMALL, '--epochs', '1', '--set', 'run.early_stop=2', '--set', 'data.val_fraction=0', '--out', join(tmp(), 'r')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/run\.early_stop 2 never triggers: there is no validation split/);
  });
});
