// bptt as a library: the README's example runs from a separate package that imports 'bptt' by name
// (through package.json "exports", the built files, the published types), and what the library
// reports is what the run wrote: Model.evaluate on the validation tail is the run's own val_loss.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, InputError, load, train, type Report } from '../src/index.js';
import { builtinCorpus } from '../src/data/builtin.js';

const ROOT = resolve(import.meta.dirname, '..');

/** The README's library example: the ```js block after the marker. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- library-example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```js block after <!-- library-example -->');
  return m[1];
}

/** A package of its own in a temp dir, with bptt installed in its node_modules (a link to this checkout). */
function consumerPackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bptt-consumer-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'bptt'), 'dir');
  return dir;
}

describe('bptt as a library', () => {
  it('the README example runs from another package importing bptt by name', () => {
    const dir = consumerPackage();
    const code = readmeExample();
    expect(code.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(12);
    writeFileSync(join(dir, 'example.mjs'), code);
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => /^minibatch \d+: validation loss \d+\.\d{3} nats\/char$/.test(l)).length).toBeGreaterThanOrEqual(3);
    expect(lines).toContain('completed');
    // the sample begins with its prefix, and the evaluation is a loss in nats
    expect(lines.some((l) => l.startsWith('twenty'))).toBe(true);
    expect(Number(lines[lines.length - 1])).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'runs', 'lib-demo', 'best.safetensors'))).toBe(true);
  });

  it('its types: a TypeScript consumer compiles against the published declarations, and a wrong option does not', () => {
    const dir = consumerPackage();
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: {
      module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true,
      // a Node project has Node's types: the consumer's, here the ones this checkout installed
      types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
    } }));
    writeFileSync(join(dir, 'ok.ts'), [
      "import { train, load, evaluate, type Report, type Evaluation, type TrainResult } from 'bptt';",
      "const r: Promise<TrainResult> = train({ run: { epochs: 1 } }, { onReport: (m: Report) => { const v: number | null = m.val_loss; void v; } });",
      "const e: Evaluation = evaluate(load('x.safetensors'), 'text');",
      'void r; void e;',
    ].join('\n'));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const ok = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8' });
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    writeFileSync(join(dir, 'ok.ts'), "import { load } from 'bptt';\nload('x').sample('a', { temprature: 1 });\n");
    const bad = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain('temprature');
  });

  it('train() reports each row as written; Model.evaluate on the validation tail is the run\'s own validation loss', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bptt-lib-')), 'run');
    const reports: Report[] = [];
    const logs: string[] = [];
    const result = await train({
      model: { cell: 'lstm', hidden: 32 }, data: { builtin: 'counting', batch: 8, steps: 16 },
      run: { minibatches: 40, eval_every: '20 minibatches', sample_every: 0, workers: 1, out },
    }, { onReport: (r) => reports.push(r), onLog: (l) => logs.push(l) });
    expect(result.outcome).toBe('completed');
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(reports).toEqual(rows);
    expect(logs.some((l) => /done after 40 minibatches/.test(l))).toBe(true);
    // the validation tail as prepareData cuts it: the last 10% of the corpus
    const text = builtinCorpus('counting');
    const chars = Array.from(text);
    const tail = chars.slice(Math.floor(chars.length * 0.9)).join('');
    const e = evaluate(join(out, 'last.safetensors'), tail);
    expect(e.loss).toBe(rows[rows.length - 1].val_loss);
    expect(e.perplexity).toBeCloseTo(Math.exp(e.loss), 12);
    expect(e.characters).toBeGreaterThan(1000);
    expect(result.summary.best_val_loss).toBe(Math.min(...rows.filter((r) => r.val_loss !== null).map((r) => r.val_loss)));
    // the CLI samples through the same function
    const model = load(join(out, 'last.safetensors'));
    expect(model.description).toBe('lstm H=32');
    expect(model.sample('one', { length: 20 }).startsWith('one')).toBe(true);
    expect(model.sample('one', { length: 20, temperature: 1, seed: 3 })).toBe(model.sample('one', { length: 20, temperature: 1, seed: 3 }));
  });

  it('an AbortSignal stops the run at a minibatch boundary with a checkpoint (outcome interrupted); bad input is an InputError', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bptt-lib-')), 'run');
    const stop = new AbortController();
    const result = await train({ model: { hidden: 32 }, data: { builtin: 'counting' }, run: { minibatches: 100_000, eval_every: '10 minibatches', sample_every: 0, workers: 1, out } },
      { signal: stop.signal, onReport: (r) => { if (r.step >= 20) stop.abort(); } });
    expect(result.outcome).toBe('interrupted');
    expect(existsSync(join(out, 'last.safetensors'))).toBe(true);
    expect(existsSync(join(out, '.lock'))).toBe(false);
    await expect(train({ model: { hiden: 32 } })).rejects.toThrow(new InputError('config.model.hiden: unknown key model.hiden (did you mean model.hidden?)'));
    await expect(train({ optim: { lr: 'fast' } })).rejects.toThrow(/^config\.optim\.lr: optim\.lr: /);
    const model = load(join(out, 'last.safetensors'));
    expect(() => model.sample('Æ')).toThrow(/not in the model's vocabulary/);
    expect(() => model.evaluate('one')).toThrow(/shorter than one chunk/);
    expect(() => model.sample('one', { temperature: Infinity })).toThrow(/temperature Infinity/);
  });
});
