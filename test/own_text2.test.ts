// Your own text, round two (issue 26): every run says what its validation tail costs a model that
// knows only character frequencies (the unigram baseline), warns when the end of the text holds
// characters training never sees, and when training ends no better than that baseline.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bptt } from './cli_helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bptt-own2-'));
const TINY = ['--cell', 'rnn', '--hidden', '16', '--steps', '8', '--batch', '4', '--workers', '1', '--set', 'run.sample_every=0'];

/** The baseline computed here, independently: add-one smoothed training frequencies over the last 10%. */
function unigram(text: string): number {
  const chars = Array.from(text);
  const cut = Math.floor(chars.length * 0.9);
  const train = chars.slice(0, cut), val = chars.slice(cut);
  const vocab = new Set(chars);
  const counts = new Map<string, number>();
  for (const c of train) counts.set(c, (counts.get(c) ?? 0) + 1);
  let loss = 0;
  for (const c of val) loss -= Math.log(((counts.get(c) ?? 0) + 1) / (train.length + vocab.size));
  return loss / val.length;
}

describe('the unigram baseline (issue 26, item 1)', () => {
  it('is said in the first lines and kept in summary.json, as computed independently', () => {
    const path = join(import.meta.dirname, '../data/tinyshakespeare.txt');
    const out = join(tmp(), 'run');
    const r = bptt(['train', ...TINY, '--data', path, '--minibatches', '5', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const want = unigram(readFileSync(path, 'utf8'));
    const said = Number(/the validation tail costs ([\d.]+) nats\/char to a model that knows only character frequencies/.exec(r.stdout)![1]);
    expect(said).toBeCloseTo(want, 3);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).unigram_val_loss).toBeCloseTo(want, 10);
    expect(r.stderr).not.toMatch(/never occur/);
  });

  it('warns when validation characters never occur in training, and when training ends no better than the baseline', () => {
    const dir = tmp();
    const text = 'abcd efgh '.repeat(300) + 'xyz';
    writeFileSync(join(dir, 'c.txt'), text);
    const r = bptt(['train', ...TINY, '--data', join(dir, 'c.txt'), '--minibatches', '3', '--out', join(dir, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    const val = Array.from(text).slice(Math.floor(text.length * 0.9));
    expect(r.stderr).toContain(`warning: ${(100 * 3 / val.length).toFixed(2)}% of the validation characters never occur in the training text`);
    // a model that learns nothing (a rate of 1e-9): the uniform guess costs ln V, more than the frequencies
    const flat = bptt(['train', ...TINY, '--builtin', 'counting', '--minibatches', '3', '--lr', '1e-9', '--set', 'optim.schedule.kind=constant', '--out', join(dir, 'flat')]);
    expect(flat.code, flat.stderr).toBe(0);
    expect(flat.stderr).toMatch(/warning: the best validation loss [\d.]+ is no better than the unigram baseline [\d.]+ \(characters by their frequency alone\)/);
  });
});

describe('a preset on another text (issue 26, item 5)', () => {
  it('--data over a preset drops the preset\'s sample prefixes ("ROMEO:"): samples start from the new text\'s own start', () => {
    const preset = join(import.meta.dirname, '../examples/shakespeare-2m.yaml');
    const lyrics = join(import.meta.dirname, '../data/jaychou_lyrics.txt');
    expect(bptt(['train', '--config', preset, '--print-config']).stdout).toMatch(/run\.sample_prefixes += \["ROMEO:"\] +# file/);
    expect(bptt(['train', '--config', preset, '--data', lyrics, '--print-config']).stdout).toMatch(/run\.sample_prefixes += \[\] +# default/);
    const out = join(tmp(), 'run');
    const r = bptt(['train', '--config', preset, '--data', lyrics, '--hidden', '16', '--minibatches', '2', '--set', 'run.sample_every=1 minibatches', '--set', 'run.sample_length=5', '--workers', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const first = Array.from(readFileSync(lyrics, 'utf8'))[0];
    for (const line of readFileSync(join(out, 'samples.txt'), 'utf8').trim().split('\n')) expect(line).toMatch(new RegExp(`^minibatch \\d+ \\(epoch [\\d.]+\\): ${first}`));
    // the same prefixes given on the command line are kept
    expect(bptt(['train', '--config', preset, '--data', lyrics, '--set', 'run.sample_prefixes=[想]', '--print-config']).stdout).toMatch(/run\.sample_prefixes += \["想"\] +# flag/);
  });
});

describe('the README\'s Quick start is what the program prints (issue 26, item 5)', () => {
  it('npm start\'s first lines, report lines, samples and last line, the speeds masked', () => {
    const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
    const start = readme.indexOf('```\n', readme.indexOf('`npm start` trains'));
    const block = readme.slice(start + 4, readme.indexOf('```', start + 4)).trim().split('\n');
    const r = bptt(['train', '--config', join(import.meta.dirname, '../examples/quickstart.yaml'), '--workers', '2', '--out', join(tmp(), 'qs')]);
    expect(r.code, r.stderr).toBe(0);
    // speeds and wall time differ by machine; everything else is the same on any
    const mask = (l: string) => l.replace(/[\d,]+ tok\/s/, 'N tok/s').replace(/[\d.]+ GFLOP\/s/, 'N GFLOP/s').replace(/ [\d.]+ s$/, ' N s')
      .replace(/in \d+s:/, 'in Ns:').replace(/[\d,]+ tokens\/s median/, 'N tokens/s median').replace(/ +/g, ' ');
    const printed = r.stdout.trim().split('\n').map(mask);
    for (const line of block.filter((l) => l !== '...')) expect(printed, line).toContain(mask(line));
  });
});
