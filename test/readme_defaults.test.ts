// Every sentence of the README's "Your own text" about a default, checked against the program: each
// claim is found in the README as written and compared with the value the code uses, so neither can
// change without the other (issue 26: "every README sentence about defaults checked").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config/schema.js';
import { AUTO_EVAL_MIN_EVALS, AUTO_EVAL_SHARE, parseCadence, parseDuration } from '../src/config/units.js';
import { AUTO_EVAL_MAX_EVALS, AUTO_EVAL_MIN_S } from '../src/train/cadences.js';
import { CANDIDATE_HIDDEN, MAX_EPOCHS, MIN_NEXT_EPOCHS, REPEAT_TOKENS_PER_PARAM, TOKENS_PER_PARAM } from '../src/train/choose.js';
import { blockEvery } from '../src/train/data.js';

const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8').replace(/\s+/g, ' ');
const section = readme.slice(readme.indexOf('## Your own text'), readme.indexOf('**Presets for tiny Shakespeare**'));
const WORDS: Record<string, number> = { a: 1, one: 1, two: 2, five: 5, ten: 10, twentieth: 20 };

/** The first match of `re` in the section (it must be there: the claim is part of the contract). */
function claim(re: RegExp): RegExpExecArray {
  const m = re.exec(section);
  expect(m, `the README's "Your own text" says ${re}`).not.toBeNull();
  return m!;
}

describe('the README\'s defaults are the program\'s (issue 26)', () => {
  it('the budget, the split, the optimizer and its schedule', () => {
    expect(parseDuration(DEFAULTS.run.time_budget!)).toBe(WORDS[claim(/# (\w+) minutes \(the default budget\)/)[1]] * 60);
    expect(DEFAULTS.data.val_fraction).toBe(Number(claim(/holds out its last (\d+)% for validation/)[1]) / 100);
    expect(DEFAULTS.data.val_split).toBe('tail');
    const m = claim(/trains a one-layer (\w+) by (\w+) at ([\d.]+) \(weight decay ([\d.]+)\) on a (\w+) schedule that ends at ([\de.-]+)/);
    expect([DEFAULTS.model.layers, DEFAULTS.model.cell.toUpperCase(), DEFAULTS.optim.kind, DEFAULTS.optim.lr, DEFAULTS.optim.weight_decay, DEFAULTS.optim.schedule.kind, DEFAULTS.optim.schedule.min_lr])
      .toEqual([1, m[1], m[2].toLowerCase(), Number(m[3]), Number(m[4]), m[5], Number(m[6])]);
    const s = claim(/Samples \(at temperature ([\d.]+)\) come every (\w+), a checkpoint every (\w+)/);
    expect(DEFAULTS.run.sample_temperature).toBe(Number(s[1]));
    expect(parseCadence(DEFAULTS.run.sample_every)).toEqual({ unit: 'second', n: 60 * (s[2] === 'minute' ? 1 : NaN) });
    expect(parseCadence(DEFAULTS.run.checkpoint_every)).toEqual({ unit: 'second', n: 60 * WORDS[s[3]] });
    expect(DEFAULTS.data.preprocess.newlines_to_spaces).toBe(false);
    claim(/keeps the text as it is \(newlines too\)/);
  });

  it('the model\'s size: the candidates and the threshold', () => {
    const m = claim(/candidate LSTM \(H = ([\d, ]+)\)/);
    expect(m[1].split(',').map((x) => Number(x.trim()))).toEqual([...CANDIDATE_HIDDEN]);
    expect(TOKENS_PER_PARAM).toBe(Number(claim(/would see at least (\d+) training tokens per parameter/)[1]));
    const g = claim(/would read the training text more than ([\d.]+)\s+times, the next larger candidate is taken instead when it still reads the text at least (\d+) times in\s+the budget, and so on up/);
    expect([MAX_EPOCHS, MIN_NEXT_EPOCHS]).toEqual([Number(g[1]), Number(g[2])]);
    expect(REPEAT_TOKENS_PER_PARAM).toBe(Number(claim(/every candidate reads the text as often, so there the next one must instead see at\s+least (\d+) tokens per parameter/)[1]));
  });

  it('evaluations: how many, their share, their spacing; the blocks of a blocks split', () => {
    const m = claim(/come at least (\d+) times a run and as often as keeps them under (\d+)% of it, no closer than (\d+) s nor than a (\w+) of the run/);
    expect([AUTO_EVAL_MIN_EVALS, AUTO_EVAL_SHARE * 100, AUTO_EVAL_MIN_S, AUTO_EVAL_MAX_EVALS]).toEqual([Number(m[1]), Number(m[2]), Number(m[3]), WORDS[m[4]]]);
    expect(DEFAULTS.run.eval_every).toBe('auto');
    const b = claim(/holds out every (\d+)th block of `data.val_block` characters \(([\d,]+);/);
    expect(blockEvery(DEFAULTS.data.val_fraction)).toBe(Number(b[1]));
    expect(DEFAULTS.data.val_block).toBe(Number(b[2].replace(/,/g, '')));
  });
});
