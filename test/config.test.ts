// Config resolution: precedence defaults < file < environment < flags, and every config error
// names the file, line:column and key path (each message asserted).
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOverrides, parseSet, resolveConfig } from '../src/config/load.js';
import { DEFAULTS } from '../src/config/schema.js';
import { learningRate } from '../src/train/schedule.js';
import { configReference } from '../src/config/docs.js';
import { readSweepFile } from '../src/cli/experiments.js';
import { readFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'bptt-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('precedence', () => {
  it('defaults < file < environment < flags, with the source of each value', () => {
    const f = file('p.yaml', 'optim:\n  lr: 10\n  clip: 0.5\nrun:\n  epochs: 7\n');
    const r = resolveConfig(f, [...envOverrides({ BPTT_OPTIM_LR: '20', BPTT_RUN_SEED: '3' }), parseSet('optim.lr=30')]);
    expect(r.config.optim.lr).toBe(30);
    expect(r.sources['optim.lr']).toBe('flag');
    expect(r.config.run.seed).toBe(3);
    expect(r.sources['run.seed']).toBe('env');
    expect(r.config.optim.clip).toBe(0.5);
    expect(r.sources['optim.clip']).toBe('file');
    expect(r.config.model.hidden).toBe(DEFAULTS.model.hidden);
    expect(r.sources['model.hidden']).toBe('default');
  });

  it('overrides never leak into DEFAULTS or into the next resolution', () => {
    const before = structuredClone(DEFAULTS);
    resolveConfig(null, [parseSet('optim.lr=3'), parseSet('run.epochs=2')]);
    expect(DEFAULTS).toEqual(before);
    expect(resolveConfig(null, []).config.optim.lr).toBe(DEFAULTS.optim.lr);
    expect(resolveConfig(null, []).config.run.time_budget).toBe(DEFAULTS.run.time_budget);
  });

  it('the default weight decay belongs to the default optimizer: another one chosen without its own gets none', () => {
    expect(resolveConfig(null, []).config.optim).toMatchObject({ kind: 'adamw', weight_decay: 0.05 });
    expect(resolveConfig(null, [parseSet('optim.kind=adam')]).config.optim.weight_decay).toBe(0);
    expect(resolveConfig(null, [parseSet('optim.kind=adam'), parseSet('optim.weight_decay=0.001')]).config.optim.weight_decay).toBe(0.001);
  });

  it('JSON files work too', () => {
    expect(resolveConfig(file('c.json', '{"data": {"batch": 4}}'), []).config.data.batch).toBe(4);
  });

  it('--set parses YAML scalars and lists', () => {
    expect(parseSet('run.sample_prefixes=[a, b]').value).toEqual(['a', 'b']);
    expect(parseSet('data.path=null').value).toBe(null);
    expect(parseSet('run.deterministic=true').value).toBe(true);
  });
});

describe('errors name the file, position and key', () => {
  it.each([
    ['YAML syntax error', 'optim:\n  lr: [10\n', /^config .*bad1\.yaml:3:1: YAML syntax error: /],
    ['unknown key with a hint', 'optim:\n  lrr: 10\n', /^config .*bad2\.yaml:2:3: unknown key optim\.lrr \(did you mean optim\.lr\?\)$/],
    ['unknown section', 'modle:\n  hidden: 3\n', /^config .*bad3\.yaml:1:1: unknown key modle \(did you mean model\?\)$/],
    ['wrong type', 'data:\n  batch: "32"\n', /^config .*bad4\.yaml:2:10: data\.batch: must be an integer \(plain digits\), not "32"$/],
    ['lr <= 0', 'optim:\n  lr: 0\n', /^config .*bad5\.yaml:2:7: optim\.lr: Too small: expected number to be >0$/],
    ['batch 0', 'data:\n  batch: 0\n', /^config .*bad6\.yaml:2:10: data\.batch: Too small: expected number to be >0$/],
    ['workers 0', 'run:\n  workers: 0\n', /^config .*bad7\.yaml:2:12: run\.workers: Too small: expected number to be >=1$/],
    ['workers above 256', 'run:\n  workers: 300\n', /^config .*bad8\.yaml:2:12: run\.workers: Too big: expected number to be <=256$/],
    ['not a mapping', '- 1\n- 2\n', /^config .*bad9\.yaml: the top level must be a mapping/],
  ])('%s', (_, text, message) => {
    const n = `bad${['YAML syntax error', 'unknown key with a hint', 'unknown section', 'wrong type', 'lr <= 0', 'batch 0', 'workers 0', 'workers above 256', 'not a mapping'].indexOf(_) + 1}.yaml`;
    expect(() => resolveConfig(file(n, text), [])).toThrow(message);
  });

  it('a missing config file', () => {
    expect(() => resolveConfig(join(dir, 'nope.yaml'), [])).toThrow(/^config .*nope\.yaml: no such file$/);
  });

  it('flags and environment name themselves', () => {
    expect(() => resolveConfig(null, [parseSet('optim.lrr=3')])).toThrow(/^--set optim\.lrr=3: unknown key optim\.lrr \(did you mean optim\.lr\?\)$/);
    expect(() => resolveConfig(null, envOverrides({ BPTT_DATA_BATCH: 'many' }))).toThrow(/^BPTT_DATA_BATCH: data\.batch: must be an integer \(plain digits\), not "many"$/);
  });
});

describe('learning-rate schedules, by minibatch', () => {
  type Kind = 'constant' | 'step' | 'cosine' | 'linear';
  const optim = (kind: Kind, warmup = 0) => ({ ...DEFAULTS.optim, lr: 8, schedule: { kind, warmup, step_epochs: 2, gamma: 0.5, min_lr: 1 } });
  const at = (kind: Kind, steps: number[], horizon: number, perEpoch = 1, warmup = 0) => steps.map((s) => learningRate(optim(kind, warmup), s, horizon, perEpoch));
  it('constant, step decay (every step_epochs epochs of minibatches), cosine and linear to min_lr at the last minibatch', () => {
    expect(at('constant', [0, 1, 2, 3, 4], 5)).toEqual([8, 8, 8, 8, 8]);
    expect(at('step', [0, 1, 2, 3, 4], 5)).toEqual([8, 8, 4, 4, 2]);
    // 3 minibatches an epoch: the rate halves every 6 minibatches
    expect(at('step', [0, 5, 6, 11, 12], 20, 3)).toEqual([8, 8, 4, 4, 2]);
    const cos = at('cosine', [0, 2, 4], 5);
    expect(cos[0]).toBeCloseTo(8);
    expect(cos[1]).toBeCloseTo(4.5);
    expect(cos[2]).toBe(1);
    expect(at('linear', [0, 1, 2, 3, 4], 5)).toEqual([8, 6.25, 4.5, 2.75, 1]);
    // past the horizon (a resumed run that trains on): the floor, never below it
    expect(at('cosine', [7, 100], 5)).toEqual([1, 1]);
  });
  it('warmup ramps linearly to lr over its minibatches, then the schedule runs over the rest', () => {
    expect(at('constant', [0, 1, 3, 4, 9], 10, 1, 4)).toEqual([2, 4, 8, 8, 8]);
    const cos = at('cosine', [0, 3, 4, 9], 10, 1, 4);
    expect(cos.slice(0, 3)).toEqual([cos[0], 8, 8]);
    expect(cos[0]).toBeCloseTo(2);
    expect(cos[3]).toBe(1);
  });
  it('an unknown horizon (a time budget before its first estimate) holds the rate at its start', () => {
    expect(at('cosine', [0, 50, 5000], Infinity)).toEqual([8, 8, 8]);
  });
});

it('the README config reference is the one generated from the schema (npm run docs)', () => {
  const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
  expect(readme).toContain(configReference());
});

describe('shipped configs', () => {
  const root = join(import.meta.dirname, '..');
  const shipped = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).sort();

  it.each(shipped)('examples/%s is valid and the README names it', (name) => {
    const path = join(root, 'examples', name);
    if (/^\s*grid\s*:/m.test(readFileSync(path, 'utf8'))) {
      const spec = readSweepFile(path);
      expect(spec.grid.length).toBeGreaterThan(0);
      if (spec.config !== null) expect(() => resolveConfig(join(root, spec.config!), [])).not.toThrow();
    } else {
      const { config } = resolveConfig(path, []);
      // a preset that names its corpus ships it (a clone reproduces it with no download)
      if (config.data.path) expect(existsSync(join(root, config.data.path)), config.data.path).toBe(true);
    }
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`examples/${name}`);
  });
});
