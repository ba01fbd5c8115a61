import { D2L_BASE } from './train_helpers.js';
// Corpus loading, the vocabulary, the D2L samplers on D2L's own example, and bad data files.
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinCorpus, numberToWords } from '../src/data/builtin.js';
import { readTextFile, toChars, Vocab } from '../src/data/corpus.js';
import { ConsecutiveSampler, RandomSampler } from '../src/data/samplers.js';
import { prepareData } from '../src/train/data.js';
import { Rng } from '../src/util/rng.js';

const seq = Int32Array.from({ length: 30 }, (_, k) => k); // D2L: my_seq = list(range(30))

/** (T, B) time-major buffer -> B rows of T, as D2L prints X */
function rows(buf: Int32Array, B: number, T: number): number[][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => buf[t * B + b]));
}

describe('samplers on D2L example (0..29, batch 2, steps 6)', () => {
  it('consecutive sampling yields exactly D2L printed minibatches', () => {
    const s = new ConsecutiveSampler(seq, 2, 6);
    expect(s.batchesPerEpoch).toBe(2);
    const X = new Int32Array(12), Y = new Int32Array(12);
    s.fill(0, X, 0, Y, 0);
    expect(rows(X, 2, 6)).toEqual([[0, 1, 2, 3, 4, 5], [15, 16, 17, 18, 19, 20]]);
    expect(rows(Y, 2, 6)).toEqual([[1, 2, 3, 4, 5, 6], [16, 17, 18, 19, 20, 21]]);
    s.fill(1, X, 0, Y, 0);
    expect(rows(X, 2, 6)).toEqual([[6, 7, 8, 9, 10, 11], [21, 22, 23, 24, 25, 26]]);
    expect(rows(Y, 2, 6)).toEqual([[7, 8, 9, 10, 11, 12], [22, 23, 24, 25, 26, 27]]);
  });

  it('random sampling: (30-1)//6 = 4 examples, 2 minibatches, each example once per epoch, Y = X + 1', () => {
    const s = new RandomSampler(seq, 2, 6);
    expect(s.batchesPerEpoch).toBe(2);
    const rng = new Rng(1);
    const starts = new Set<number>();
    const X = new Int32Array(12), Y = new Int32Array(12);
    s.startEpoch(rng);
    for (let i = 0; i < 2; i++) {
      s.fill(i, X, 0, Y, 0);
      for (const [b, row] of rows(X, 2, 6).entries()) {
        expect(row[0] % 6).toBe(0);
        expect(row).toEqual(Array.from({ length: 6 }, (_, t) => row[0] + t));
        expect(rows(Y, 2, 6)[b]).toEqual(row.map((v) => v + 1));
        starts.add(row[0]);
      }
    }
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 6, 12, 18]);
  });

  it('random sampling is seeded: same seed, same order; different seed, different order over epochs', () => {
    const order = (seed: number) => {
      const s = new RandomSampler(Int32Array.from({ length: 400 }, (_, k) => k), 4, 5);
      const rng = new Rng(seed);
      const X = new Int32Array(20), Y = new Int32Array(20);
      const out: number[] = [];
      for (let e = 0; e < 3; e++) { s.startEpoch(rng); s.fill(0, X, 0, Y, 0); out.push(...X); }
      return out;
    };
    expect(order(5)).toEqual(order(5));
    expect(order(5)).not.toEqual(order(6));
  });
});

describe('corpus and vocabulary', () => {
  it('splits by code point: CJK and emoji (surrogate pairs) are single characters', () => {
    const chars = toChars('分开😀a\r\nb', { newlinesToSpaces: true, maxChars: 0 });
    expect(chars).toEqual(['分', '开', '😀', 'a', ' ', ' ', 'b']);
    const v = Vocab.fromChars(chars);
    expect(v.size).toBe(6);
    expect(v.decode(v.encode(chars))).toBe('分开😀a  b');
    expect(toChars('😀😀😀', { newlinesToSpaces: false, maxChars: 2 })).toEqual(['😀', '😀']);
  });

  it('the built-in counting corpus spells 1..999', () => {
    expect(numberToWords(1)).toBe('one');
    expect(numberToWords(21)).toBe('twenty-one');
    expect(numberToWords(700)).toBe('seven hundred');
    expect(numberToWords(999)).toBe('nine hundred ninety-nine');
    const text = builtinCorpus('counting');
    expect(text.split('\n').length).toBe(1000);
    expect(text.startsWith('one\ntwo\nthree\n')).toBe(true);
    // the numbers the header comment of src/data/builtin.ts states
    expect(text.length).toBe(21950);
    expect(new Set(text).size).toBe(20);
    expect(new Set(text.replace(/\n/g, ' ')).size).toBe(19);
  });

  const jay = join(import.meta.dirname, '../data/jaychou_lyrics.txt');
  it('the shipped corpus exists in data/', () => expect(existsSync(jay)).toBe(true));
  it('D2L preprocessing of the Jay Chou corpus gives 10,000 characters and 1,027 distinct', () => {
    const chars = toChars(readTextFile(jay), { newlinesToSpaces: true, maxChars: 10000 });
    expect(chars.length).toBe(10000);
    expect(Vocab.fromChars(chars).size).toBe(1027);
  });
});

describe('bad data files get one clear message naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bptt-data-'));
  const write = (name: string, content: string | Buffer) => { const p = join(dir, name); writeFileSync(p, content); return p; };
  const cfg = (path: string, over: Partial<typeof D2L_BASE.data> = {}) => ({ ...D2L_BASE, data: { ...D2L_BASE.data, path, ...over } });

  it.each([
    ['missing', () => join(dir, 'nope.txt'), /data file .*nope\.txt: no such file/],
    ['empty', () => write('empty.txt', ''), /empty\.txt: the file is empty/],
    ['invalid UTF-8', () => write('latin1.txt', Buffer.from([0x68, 0x69, 0xe9, 0x20, 0x21])), /latin1\.txt: not valid UTF-8 text \(first bad byte at offset 2\)/],
    // an encoded surrogate (U+D800 as ED A0 80) and an overlong form: at their offset, not at the end
    ['a UTF-8-encoded surrogate', () => write('surrogate.txt', Buffer.from([0x61, 0x62, 0x63, 0xed, 0xa0, 0x80, 0x64, 0x65])), /surrogate\.txt: not valid UTF-8 text \(first bad byte at offset 3\)/],
    ['an overlong form', () => write('overlong.txt', Buffer.from([0x61, 0xe0, 0x80, 0xaf, 0x62])), /overlong\.txt: not valid UTF-8 text \(first bad byte at offset 1\)/],
    ['binary', () => write('bin.dat', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1])), /bin\.dat: contains NUL bytes/],
    ['a directory', () => dir, /is a directory/],
  ])('%s', (_, path, message) => {
    expect(() => prepareData(cfg(path()))).toThrow(message);
  });

  it('a corpus too short for one minibatch says how long it must be', () => {
    const p = write('short.txt', 'abcdefghij'.repeat(10));
    expect(() => prepareData(cfg(p, { batch: 32, steps: 35, val_fraction: 0 }))).toThrow(/short\.txt: 100 training characters is too short for one minibatch of batch 32 x steps 35 with random sampling \(needs 1121\)/);
  });
});
