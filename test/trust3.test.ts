// Trust, round three (issue 25): values reach the config as the user wrote them, a directory that
// is not a run is not written into without --force, a budget that cannot train says so, and the
// best model already on disk is never replaced by a worse one after a crash.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../src/io/safetensors.js';
import { bptt, CLI, runAndSignalAt } from './cli_helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bptt-trust3-'));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
/** a tiny model on a tiny text: each run takes a fraction of a second */
const TINY = ['--cell', 'rnn', '--hidden', '8', '--steps', '8', '--batch', '4', '--workers', '1', '--quiet', '--set', 'run.sample_every=0'];

/** a corpus directory c/ holding "notes #2.txt" and the decoy "notes" a YAML comment would leave */
function corpora(): { dir: string; real: string; decoy: string } {
  const dir = tmp();
  mkdirSync(join(dir, 'c'));
  writeFileSync(join(dir, 'c', 'notes #2.txt'), 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  writeFileSync(join(dir, 'c', 'notes'), 'abcdefgh '.repeat(200));
  return { dir, real: join(dir, 'c', 'notes #2.txt'), decoy: join(dir, 'c', 'notes') };
}

/** the data file a finished run trained on, from its checkpoint */
const trainedOn = (run: string) => loadCheckpoint(join(run, 'last.safetensors')).data?.path;

describe('a value reaches the config as the user wrote it (issue 25, high 2)', () => {
  it('--set, a plain flag and BPTT_* keep " #" and "~" in a path; --set data.path=~ is a missing file, not the built-in corpus', () => {
    const { dir, real } = corpora();
    const r1 = bptt(['train', ...TINY, '--minibatches', '3', '--set', `data.path=${join(dir, 'c', 'notes #2.txt')}`, '--out', join(dir, 'a')]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(trainedOn(join(dir, 'a'))).toBe(real);
    const r2 = bptt(['train', ...TINY, '--minibatches', '3', '--out', join(dir, 'b')], { BPTT_DATA_PATH: real });
    expect(r2.code, r2.stderr).toBe(0);
    expect(trainedOn(join(dir, 'b'))).toBe(real);
    const r3 = spawnSync(process.execPath, [CLI, 'train', ...TINY, '--minibatches', '3', '--data', 'c/notes #2.txt', '--out', 'd'], { cwd: dir, encoding: 'utf8' });
    expect(r3.status, r3.stderr).toBe(0);
    expect(trainedOn(join(dir, 'd'))).toBe(real);
    const r4 = bptt(['train', ...TINY, '--minibatches', '3', '--set', 'data.path=~', '--out', join(dir, 'e')]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toBe('bptt: error: data file ~: no such file\n');
    expect(existsSync(join(dir, 'e'))).toBe(false);
  });

  it('--set run.out="r/exp #4" --force writes that directory and leaves the run r/exp as it was', () => {
    const { dir, real } = corpora();
    expect(bptt(['train', ...TINY, '--data', real, '--minibatches', '3', '--out', join(dir, 'r', 'exp')]).code).toBe(0);
    const before = sha(join(dir, 'r', 'exp', 'last.safetensors'));
    const r = bptt(['train', ...TINY, '--data', real, '--minibatches', '3', '--set', `run.out=${join(dir, 'r', 'exp #4')}`, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(sha(join(dir, 'r', 'exp', 'last.safetensors'))).toBe(before);
    expect(existsSync(join(dir, 'r', 'exp #4', 'last.safetensors'))).toBe(true);
  });

  it('a sweep passes its grid values exactly: a path with " #" trains that file, and the summary names it', () => {
    const { dir, real } = corpora();
    const r = bptt(['sweep', join(import.meta.dirname, 'fixtures/d2l-base.yaml'), '--grid', `data.path=${real}`, '--grid', 'model.hidden=8',
      '--out', join(dir, 'sw'), '--epochs', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'sw', 'summary.csv'), 'utf8')).toContain('notes #2.txt');
    const [name] = readdirSync(join(dir, 'sw')).filter((f) => existsSync(join(dir, 'sw', f, 'last.safetensors')));
    const runDir = join(dir, 'sw', name);
    expect(trainedOn(runDir)).toBe(real);
  });

  it('numbers are plain numbers: --epochs 0x2 and 2e0 are refused, naming what the key takes; a deep --set list is one line, exit 2', () => {
    for (const v of ['0x2', '2e0']) {
      const r = bptt(['train', ...TINY, '--builtin', 'counting', '--epochs', v, '--out', join(tmp(), 'x')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`bptt: error: --epochs ${v}: run.epochs: must be an integer (plain digits), not "${v}"\n`);
    }
    const deep = `${'['.repeat(200)}a${']'.repeat(200)}`;
    for (const env of [{}, { BPTT_RUN_SAMPLE_PREFIXES: deep }] as Array<Record<string, string>>) {
      const args = Object.keys(env).length ? [] : ['--set', `run.sample_prefixes=${deep}`];
      const r = bptt(['train', ...TINY, '--builtin', 'counting', ...args, '--out', join(tmp(), 'x')], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^bptt: error: run\.sample_prefixes: \[+\.\.\.: nested more than 64 levels deep\n$/);
    }
  });
});

describe('a directory that is not a run is not written into without --force (issue 25, high 3)', () => {
  it('the user\'s own summary.json, curves.svg, samples.txt: refused, named, untouched; --force writes', () => {
    const dir = tmp();
    const files = { 'summary.json': '{"mine": true}\n', 'curves.svg': '<svg/>\n', 'samples.txt': 'my notes\n' };
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    const r = bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not empty and is not a bptt run \(it holds curves\.svg, samples\.txt, summary\.json\); a run would replace curves\.svg, samples\.txt, summary\.json/);
    for (const [f, text] of Object.entries(files)) expect(readFileSync(join(dir, f), 'utf8')).toBe(text);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', dir, '--force']).code).toBe(0);
    expect(existsSync(join(dir, 'last.safetensors'))).toBe(true);
  });

  it('a directory holding only the user\'s config.yaml, --out / and --out . in a non-empty directory are refused', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.yaml'), 'model:\n  hidden: 8\n');
    const r = bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a run would replace config\.yaml/);
    expect(readFileSync(join(dir, 'config.yaml'), 'utf8')).toBe('model:\n  hidden: 8\n');
    const root = bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', '/', '--force']);
    expect(root.code).toBe(2);
    expect(root.stderr).toBe('bptt: error: output /: the root directory is never a run directory; choose another --out\n');
    const dot = spawnSync(process.execPath, [CLI, 'train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', '.'], { cwd: dir, encoding: 'utf8' });
    expect(dot.status).toBe(2);
    expect(dot.stderr).toMatch(/output \.: is not empty and is not a bptt run/);
  });
});

describe('a budget that cannot train says so (issue 25, high 4)', () => {
  it('--time 0.5s: the reserve for the last evaluation takes it all; exit 2, one line, nothing written', () => {
    const dir = tmp();
    const r = bptt(['train', '--data', join(import.meta.dirname, '../data/tinyshakespeare.txt'), '--hidden', '32', '--time', '0.5s', '--out', join(dir, 'run')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bptt: error: run\.time_budget 0\.5s leaves no time to train: the last evaluation \(about [\d.]+ s on 111,540 validation characters\) is reserved at the end of the budget, [\d.]+ s with its margin; give at least \d+s, or hold out less \(data\.val_fraction\)\n$/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });
});

describe('the best model on disk survives a crash and a resume (issue 25, high 1)', () => {
  it('kill -9 after a better evaluation than the last checkpoint knows: resume keeps best.safetensors, summary.json names it, the cut rows are kept', async () => {
    const dir = join(tmp(), 'run');
    // validation loss by epoch (deterministic; a constant rate, so a shorter resume continues the same
    // trajectory): 0.680 0.613 0.551 0.636 | 0.545 0.595 0.512 0.500; checkpoints at epochs 4 and 8
    const args = ['train', '--builtin', 'counting', '--cell', 'gru', '--hidden', '32', '--steps', '16', '--batch', '8', '--workers', '1', '--lr', '0.01',
      '--set', 'optim.schedule.kind=constant',
      '--epochs', '8', '--set', 'run.eval_every=1', '--set', 'run.checkpoint_every=4', '--set', 'run.sample_every=0', '--out', dir, '--quiet'];
    const killed = await runAndSignalAt(args, 'SIGKILL', '8:1');
    expect(killed.code).toBe(null);
    const last = loadCheckpoint(join(dir, 'last.safetensors')).training!;
    const best = loadCheckpoint(join(dir, 'best.safetensors')).training!;
    expect(last.epoch).toBe(4);
    expect(best.bestStep).toBeGreaterThan(last.step);
    expect(best.bestValLoss!).toBeLessThan(last.bestValLoss!);
    const bestSha = sha(join(dir, 'best.safetensors'));
    const rowsBefore = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const r = bptt(['resume', dir, '--epochs', '5', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    // epoch 5 (0.545) beats what the checkpoint knew (0.551) but not the best on disk (0.512)
    const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const epoch5 = rows.find((m) => m.epoch === 5)!;
    expect(epoch5.val_loss).toBeLessThan(last.bestValLoss!);
    expect(epoch5.val_loss).toBeGreaterThan(best.bestValLoss!);
    expect(sha(join(dir, 'best.safetensors'))).toBe(bestSha);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect([summary.best_val_loss, summary.best_val_step]).toEqual([best.bestValLoss, best.bestStep]);
    // the rows past the checkpoint are kept, the best's among them, exactly as written
    const superseded = readFileSync(join(dir, 'metrics.superseded.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const cut = rowsBefore.filter((m) => m.step > last.step);
    expect(superseded.map(({ superseded_at: _, ...m }) => m)).toEqual(cut);
    expect(superseded.some((m) => m.step === best.bestStep && m.val_loss === best.bestValLoss)).toBe(true);
    // the next evaluation that is really better replaces it
    expect(bptt(['resume', dir, '--epochs', '8', '--quiet']).code).toBe(0);
    const after = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(after.best_val_loss).toBeLessThan(best.bestValLoss!);
    expect(loadCheckpoint(join(dir, 'best.safetensors')).training!.bestValLoss).toBe(after.best_val_loss);
  });
});

describe('hostile checkpoints (issue 25, medium)', () => {
  it('overlapping data_offsets are refused before any tensor is allocated (an 8 MB file once claimed 2.5 GB)', () => {
    const n = 1 << 20; // floats per claimed tensor: 4 MiB each, all over the same bytes
    const header: Record<string, unknown> = { __metadata__: { format: 'x' } };
    for (let k = 0; k < 200; k++) header[`t${k}`] = { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] };
    const json = Buffer.from(JSON.stringify(header));
    const buf = Buffer.alloc(8 + json.length + 4 * n);
    buf.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(buf, 8);
    const Real = globalThis.Float32Array;
    let allocated = 0;
    globalThis.Float32Array = class extends Real {
      constructor(...args: unknown[]) {
        super(...(args as [number]));
        if (typeof args[0] === 'number') allocated += args[0];
      }
    } as unknown as Float32ArrayConstructor;
    try {
      expect(() => decodeSafetensors(buf, 'hostile.safetensors')).toThrow(/checkpoint hostile\.safetensors: tensors t\d+ and t\d+ overlap in the file/);
    } finally {
      globalThis.Float32Array = Real;
    }
    expect(allocated).toBe(0);
  });
});

describe('lengths, resumes and causes said once and right (issue 25, medium)', () => {
  it('--epochs with --time or --minibatches as flags (or in the environment) is refused, as --time with --minibatches is', () => {
    const out = join(tmp(), 'x');
    const r = bptt(['train', ...TINY, '--builtin', 'counting', '--epochs', '5', '--time', '2m', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('bptt: error: --epochs 5 and --time 2m: both say how long to train; give one of run.epochs, run.time_budget, run.minibatches\n');
    const e = bptt(['train', ...TINY, '--builtin', 'counting', '--out', out], { BPTT_RUN_EPOCHS: '3', BPTT_RUN_MINIBATCHES: '5' });
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/BPTT_RUN_EPOCHS and BPTT_RUN_MINIBATCHES: both say how long to train/);
    // a file's epochs beside a flag's budget: the flag wins, as documented
    const fileThenFlag = bptt(['train', '--config', join(import.meta.dirname, '../examples/d2l-random.yaml'), '--time', '1m', '--print-config']);
    expect(fileThenFlag.stdout).toMatch(/run\.time_budget += "1m" +# flag/);
  });

  it('resume --time below the time already trained is refused; a complete budget run (ended at its horizon too) says so, its hint asking for more than it used', async () => {
    const dir = join(tmp(), 'run');
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--time', '4s', '--set', 'data.val_fraction=0.01', '--out', dir]).code).toBe(0);
    const used = loadCheckpoint(join(dir, 'last.safetensors')).training!.elapsedS;
    expect(used).toBeGreaterThan(2);
    const below = bptt(['resume', dir, '--time', '1s']);
    expect(below.code).toBe(2);
    expect(below.stderr).toMatch(/^bptt: error: --time 1s: .* has already trained for \d+s; give more, e\.g\. --time \d+m \(nothing was changed\)\n$/);
    const complete = bptt(['resume', dir]);
    expect(complete.code, complete.stdout + complete.stderr).toBe(0);
    const hint = /to train further: bptt resume \S+ (--time \S+)/.exec(complete.stdout)![1].split(' ');
    const min = Number(/(\d+)m/.exec(hint[1])![1]);
    expect(min * 60).toBeGreaterThan(used + 1);
  });

  it('a run stopped before its first checkpoint: the hint bptt gives starts it over, and works', async () => {
    const dir = join(tmp(), 'run');
    const killed = await runAndSignalAt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '100000', '--set', 'run.checkpoint_every=0', '--out', dir], 'SIGKILL', 5);
    expect(killed.code).toBe(null);
    expect(existsSync(join(dir, 'last.safetensors'))).toBe(false);
    const r = bptt(['resume', dir]);
    expect(r.code).toBe(2);
    const hint = /start it over with: bptt (.*)$/m.exec(r.stderr)![1].split(' ');
    const again = bptt([...hint, '--set', 'run.minibatches=3', '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(dir, 'last.safetensors'))).toBe(true);
  });

  it('resume from another directory reads the recorded corpus when the relative path there names another file', () => {
    const root = tmp();
    mkdirSync(join(root, 'proj'));
    mkdirSync(join(root, 'other'));
    writeFileSync(join(root, 'proj', 'corpus.txt'), 'the quick brown fox jumps over the lazy dog. '.repeat(40));
    writeFileSync(join(root, 'other', 'corpus.txt'), 'something else entirely\n');
    const opts = { encoding: 'utf8' as const };
    expect(spawnSync(process.execPath, [CLI, 'train', ...TINY, '--data', 'corpus.txt', '--minibatches', '3', '--out', 'run'], { ...opts, cwd: join(root, 'proj') }).status).toBe(0);
    const r = spawnSync(process.execPath, [CLI, 'resume', '../proj/run', '--minibatches', '6'], { ...opts, cwd: join(root, 'other') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`reading the run's data from ${join(root, 'proj', 'corpus.txt')}`);
  });

  it('finite but huge weights: sample and inspect say the model overflows (exit 2) instead of printing garbage or NaN', () => {
    const dir = join(tmp(), 'run');
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', dir]).code).toBe(0);
    const path = join(dir, 'last.safetensors');
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const [s, e] = header.W_hq.data_offsets as [number, number];
    for (let k = 8 + n + s; k < 8 + n + e; k += 4) buf.writeFloatLE(3e38, k);
    const huge = join(dir, 'huge.safetensors');
    writeFileSync(huge, buf);
    for (const args of [['sample', '--checkpoint', huge, '--prefix', 'one', '--length', '5'], ['inspect', '--checkpoint', huge, '--text', 'one two'],
      ['export', '--checkpoint', huge, '--out', join(dir, 'x.safetensors')]]) {
      const r = bptt(args);
      expect(r.code, args[0]).toBe(2);
      expect(r.stderr).toMatch(/^bptt: error: checkpoint .*huge\.safetensors: tensor W_hq holds 3\.00e\+38 at index 0, beyond \+-1e\+15: no training run makes such weights/);
      expect(r.stdout).toBe('');
    }
  });

  it('a divergence from weight decay names weight decay; an alias bomb in --set is one line, exit 2', () => {
    const r = bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '50', '--set', 'optim.weight_decay=1e10', '--out', join(tmp(), 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/optim\.weight_decay 10000000000 at learning rate .* scales every weight by 1 - lr x wd = .*: lower optim\.weight_decay/);
    expect(r.stderr).not.toMatch(/lower optim\.lr/);
    const bomb = '[&a [x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a], &c [*b, *b, *b, *b, *b, *b, *b, *b, *b], [*c, *c, *c, *c, *c, *c, *c, *c, *c]]';
    const b = bptt(['train', ...TINY, '--builtin', 'counting', '--set', `run.sample_prefixes=${bomb}`, '--out', join(tmp(), 'x')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^bptt: error: run\.sample_prefixes: .* is not a YAML list: .*\n$/);
  });
});

describe('the small things (issue 25, low)', () => {
  const cfgDir = tmp();
  const runDir = join(cfgDir, 'run');
  const trainedRun = () => {
    if (!existsSync(join(runDir, 'last.safetensors'))) {
      expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '20', '--set', 'run.sample_every=5 minibatches', '--set', 'run.checkpoint_every=10 minibatches', '--out', runDir]).code).toBe(0);
    }
    return runDir;
  };

  it('config files: __proto__ keys are unknown keys; JSON with comments and UTF-16 say what they are', () => {
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ['proto.yaml', 'model:\n  __proto__:\n    hidden: 3\n', /unknown key model\.__proto__/],
      ['proto.json', '{"__proto__": {"polluted": 1}}', /unknown key __proto__/],
      ['comments.json', '{\n  // my config\n  "model": {"hidden": 8}\n}\n', /JSON does not allow comments/],
      ['utf16.yaml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('model:\n  hidden: 8\n', 'utf16le')]), /is UTF-16 \(or binary\), not UTF-8 text; save it as UTF-8/],
    ];
    for (const [name, text, msg] of cases) {
      writeFileSync(join(cfgDir, name), text);
      const r = bptt(['train', '--config', join(cfgDir, name), '--print-config']);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(msg);
      expect(r.stderr.split('\n').length, name).toBe(2);
    }
  });

  it('sample: --temperature Infinity is refused; a 120 KB prefix is not echoed whole', () => {
    const run = trainedRun();
    const ck = join(run, 'last.safetensors');
    const inf = bptt(['sample', '--checkpoint', ck, '--prefix', 'one', '--temperature', 'Infinity']);
    expect(inf.code).toBe(2);
    expect(inf.stderr).toMatch(/--temperature Infinity: must be a finite number >= 0/);
    const long = bptt(['sample', '--checkpoint', ck, '--prefix', 'Æ'.repeat(60_000)]); // 120 KB (one argument holds at most 128 KiB)
    expect(long.code).toBe(2);
    expect(long.stderr.length).toBeLessThan(400);
    expect(long.stderr).toMatch(/\(60,000 characters\): "Æ" not in the model's vocabulary/);
  });

  it('a damaged .lock is taken over as unreadable (not "pid undefined"); a tampered minibatch past the epoch is refused', () => {
    const run = trainedRun();
    writeFileSync(join(run, '.lock'), '{"started": "yesterday"}\n');
    const r = bptt(['resume', run, '--minibatches', '21']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/taking over a stale lock \(unreadable lock file\)/);
    expect(r.stderr).not.toMatch(/undefined/);
    const copy = join(tmp(), 'copy');
    mkdirSync(copy);
    for (const f of ['config.yaml', 'metrics.jsonl']) writeFileSync(join(copy, f), readFileSync(join(run, f)));
    const f = readSafetensors(join(run, 'last.safetensors'));
    const state = JSON.parse(f.metadata.training_state);
    writeFileSync(join(copy, 'last.safetensors'), encodeSafetensors(f.tensors, { ...f.metadata, training_state: JSON.stringify({ ...state, minibatch: 999_999 }) }));
    const t = bptt(['resume', copy, '--minibatches', '30']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/training state is at minibatch 999999 of an epoch that has \d+; it is not this run's/);
  });

  it('resume accepts a non-resumable key given with the run\'s own value, and refuses another value naming the run\'s', () => {
    const run = trainedRun();
    const same = bptt(['resume', run, '--minibatches', '22', '--set', 'model.hidden=8', '--quiet']);
    expect(same.code, same.stderr).toBe(0);
    const other = bptt(['resume', run, '--minibatches', '23', '--set', 'model.hidden=9']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--set model\.hidden=9: model\.hidden cannot change when resuming \(it would not continue the same run; the run's is 8\)/);
  });

  it('after a crash and a resume samples.txt holds each sample once; import refuses a vocab_size that lies', async () => {
    const dir = join(tmp(), 'run');
    const args = ['train', ...TINY, '--builtin', 'counting', '--minibatches', '40', '--set', 'run.sample_every=5 minibatches', '--set', 'run.checkpoint_every=10 minibatches', '--out', dir];
    expect((await runAndSignalAt(args, 'SIGKILL', 27)).code).toBe(null);
    expect(bptt(['resume', dir, '--quiet']).code).toBe(0);
    const steps = readFileSync(join(dir, 'samples.txt'), 'utf8').trim().split('\n').map((l) => Number(/^minibatch (\d+)/.exec(l)![1]));
    expect(steps).toEqual([5, 10, 15, 20, 25, 30, 35, 40]);
    const exported = join(dir, 'x.torch.safetensors');
    expect(bptt(['export', '--checkpoint', join(dir, 'last.safetensors'), '--out', exported]).code).toBe(0);
    const buf = readFileSync(exported);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    header.__metadata__.vocab_size = String(Number(header.__metadata__.vocab_size) + 1);
    const h = Buffer.from(JSON.stringify(header).padEnd(n));
    const lying = join(dir, 'lying.torch.safetensors');
    writeFileSync(lying, Buffer.concat([buf.subarray(0, 8), h, buf.subarray(8 + n)]));
    const r = bptt(['import', '--checkpoint', lying, '--out', join(dir, 'back.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/metadata\.vocab_size "\d+" does not match the vocabulary's \d+ characters/);
  });

  it('a kernel file as data says why it is not read; --time under 10 s is announced as given', () => {
    const r = bptt(['train', '--data', '/proc/cpuinfo', '--out', join(tmp(), 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a kernel file \(\/proc, \/sys\) reports no size/);
    const t = bptt(['train', ...TINY.filter((a) => a !== '--quiet'), '--builtin', 'counting', '--set', 'data.val_fraction=0.01', '--time', '2.5s', '--out', join(tmp(), 'y')]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/training for 2\.5s of wall-clock time/);
  });
});

describe('process limits (issue 25, medium)', () => {
  it('too few open files or too little address space: one line naming the limit and the fix, exit 2 (was a stack trace or a crash)', () => {
    const run = (limit: string) => spawnSync('bash', ['-c', `${limit}; exec "${process.execPath}" "${CLI}" train --builtin counting --hidden 8 --minibatches 3 --out "${join(tmp(), 'x')}"`], { encoding: 'utf8' });
    const files = run('ulimit -n 64');
    expect(files.status).toBe(2);
    expect(files.stderr).toBe('bptt: error: the open-file limit is 64 (ulimit -n); bptt needs at least 128 (Node\'s module loader, the worker threads, the run\'s files): raise it, e.g. ulimit -n 1024\n');
    const space = run('ulimit -v 8000000');
    expect(space.status).toBe(2);
    expect(space.stderr).toMatch(/^bptt: error: the address-space limit is 7\.6 GiB \(ulimit -v\); bptt needs at least 16 GiB .*ulimit -v unlimited\n$/);
  });
});

describe('sample streams (issue 25, low; issue 26: one default temperature)', () => {
  it('a million characters stream out as they come; Ctrl-C keeps what was generated and exits 130', async () => {
    const dir = join(tmp(), 'run');
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--out', dir]).code).toBe(0);
    const child = spawn(process.execPath, [CLI, 'sample', '--checkpoint', join(dir, 'last.safetensors'), '--prefix', 'one', '--length', '1000000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.length >= 8192) resolve(); }));
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(out.startsWith('one')).toBe(true);
    expect(out.endsWith('\n')).toBe(true);
    const n = Number(/stopped after ([\d,]+) characters/.exec(err)![1].replace(/,/g, ''));
    expect([...out.slice(0, -1)].length).toBe(n);
    expect(n).toBeLessThan(1_000_003);
  });

  it('the default temperature is the run\'s run.sample_temperature: 0.8 samples (seeds differ), a greedy preset\'s 0 is greedy', () => {
    const warm = join(tmp(), 'warm');
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '30', '--out', warm]).code).toBe(0);
    const ck = join(warm, 'last.safetensors');
    const s = (extra: string[]) => bptt(['sample', '--checkpoint', ck, '--prefix', 'one', '--length', '200', ...extra]).stdout;
    expect(s(['--seed', '1'])).not.toBe(s(['--seed', '2']));
    expect(s(['--seed', '1'])).toBe(s(['--seed', '1', '--temperature', '0.8']));
    const greedy = join(tmp(), 'greedy');
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '30', '--set', 'run.sample_temperature=0', '--out', greedy]).code).toBe(0);
    const g = (extra: string[]) => bptt(['sample', '--checkpoint', join(greedy, 'last.safetensors'), '--prefix', 'one', '--length', '200', ...extra]).stdout;
    expect(g(['--seed', '1'])).toBe(g(['--seed', '2']));
    expect(g([])).toBe(g(['--temperature', '0']));
  });
});

describe('compare (issue 25, low; issue 26, item 5)', () => {
  it('a non-numeric metric is flagged with its line and left out; one run is "one run"; the chart\'s x axis starts at 0 with short ticks', () => {
    const dir = join(tmp(), 'run');
    expect(bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '7', '--set', 'run.eval_every=3 minibatches', '--out', dir]).code).toBe(0);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    lines[1] = JSON.stringify({ ...JSON.parse(lines[1]), tokens_per_s: 'fast' });
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
    const svg = join(tmp(), 'c.svg');
    const r = bptt(['compare', dir, '--svg', svg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`bptt: warning: ${join(dir, 'metrics.jsonl')}:2: tokens_per_s is "fast", not a number; left out of the comparison\n`);
    expect(r.stdout.split('\n')[0]).toBe(`one run: ${dir}`);
    const labels = [...readFileSync(svg, 'utf8').matchAll(/text-anchor="middle">([^<]*)</g)].map((m) => m[1]).filter((t) => /^[\d.]+$/.test(t));
    expect(labels[0]).toBe('0');
    for (const l of labels) expect(l.length, l).toBeLessThanOrEqual(7);
  });
});

describe('a large corpus is announced (issue 25, low)', () => {
  it('over 64 MB, the wait is said before it starts (a sparse 70 MB file: announced, then refused as binary)', () => {
    const f = join(tmp(), 'big.txt');
    writeFileSync(f, '');
    truncateSync(f, 70_000_000);
    const r = bptt(['train', '--data', f, '--out', join(tmp(), 'x')]);
    expect(r.stdout).toMatch(/^bptt: reading 67 MB of text from .*big\.txt: a large corpus takes a while/);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/contains NUL bytes/);
  });
});
