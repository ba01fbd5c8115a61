// Corpus loading and the character vocabulary. Characters are Unicode code points (Array.from
// splits a string by code point), so CJK text and emoji work and surrogate pairs are never split.
// D2L's preprocessing is an option: newlines and carriage returns to spaces, first N characters.

import { resolve } from 'node:path';
import { MiB, readRegularFile } from '../io/files.js';
import { InputError } from '../util/errors.js';

export interface Preprocess {
  /** replace \n and \r by spaces (D2L) */
  newlinesToSpaces: boolean;
  /** keep the first N characters (code points); 0 = all */
  maxChars: number;
}

/** Largest data file read whole: a JavaScript string holds at most ~2^29 UTF-16 units. */
export const MAX_DATA_BYTES = 512 * MiB;

/**
 * Reads a UTF-8 text file; every failure is an InputError that names the file. With maxChars > 0
 * only the bytes that can hold that many characters are read (4 per code point at most), so a
 * huge file with a small max_chars costs what the small prefix costs.
 */
export function readTextFile(path: string, maxChars = 0, what = 'data file'): string {
  const limit = maxChars > 0 ? Math.min(MAX_DATA_BYTES, maxChars * 4 + 3) : MAX_DATA_BYTES;
  const { bytes: read, size } = readRegularFile(path, what, limit, maxChars === 0);
  if (size === 0) {
    // kernel files report a size of 0 whatever they hold
    if (/^\/(proc|sys)\//.test(resolve(path))) throw new InputError(`${what} ${path}: a kernel file (/proc, /sys) reports no size and is not read; copy it to a regular file first`);
    throw new InputError(`${what} ${path}: the file is empty`);
  }
  // a cut prefix may end inside a multi-byte character: drop that partial character
  const bytes = read.length < size ? read.subarray(0, completeUtf8Length(read)) : read;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${what} ${path}: not valid UTF-8 text (first bad byte at offset ${firstInvalidUtf8(bytes)})`);
  }
  if (text.includes('\u0000')) throw new InputError(`${what} ${path}: contains NUL bytes; this looks like a binary file, not text`);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Length of the longest prefix of `b` that does not end inside a UTF-8 sequence. */
function completeUtf8Length(b: Buffer): number {
  let k = b.length;
  // step back over continuation bytes (at most 3) to the lead byte of the last sequence
  let back = 0;
  while (back < 3 && k - back - 1 >= 0 && (b[k - back - 1] & 0xc0) === 0x80) back++;
  const lead = k - back - 1;
  if (lead < 0) return k;
  const c = b[lead];
  const len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  return lead + len <= k ? k : lead;
}

/** Byte offset of the first malformed UTF-8 sequence (for the error message). */
function firstInvalidUtf8(bytes: Buffer): number {
  let k = 0;
  while (k < bytes.length) {
    const b = bytes[k];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (len === 0 || k + len > bytes.length) return k;
    for (let c = 1; c < len; c++) if ((bytes[k + c] & 0xc0) !== 0x80) return k;
    // the second byte's narrower ranges (RFC 3629): no overlong forms, no surrogates (ED A0..BF:
    // U+D800..DFFF, which the decoder refuses), nothing past U+10FFFF
    const b1 = bytes[k + 1];
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return k;
    k += len;
  }
  return k;
}

/**
 * The corpus as code points after preprocessing, in an Int32Array (4 bytes a character, and on a
 * SharedArrayBuffer when `shared`, so the worker pool reads it without a copy): no array of
 * one-character strings, which cost ~40 bytes a character.
 */
export function toCodePoints(text: string, pre: Preprocess, shared = false): Int32Array {
  let n = 0;
  for (let i = 0; i < text.length && (pre.maxChars === 0 || n < pre.maxChars); n++) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  const out = shared ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n);
  for (let i = 0, k = 0; k < n; k++) {
    let c = text.codePointAt(i)!;
    i += c > 0xffff ? 2 : 1;
    if (pre.newlinesToSpaces && (c === 10 || c === 13)) c = 32;
    out[k] = c;
  }
  return out;
}

/** The corpus as code points after preprocessing. */
export function toChars(text: string, pre: Preprocess): string[] {
  const src = pre.newlinesToSpaces ? text.replace(/[\r\n]/g, ' ') : text;
  const chars = Array.from(src);
  return pre.maxChars > 0 ? chars.slice(0, pre.maxChars) : chars;
}

/** U+FFFD, the replacement character: data.max_vocab's one symbol for every character it leaves out. */
export const RARE_CHAR = '\uFFFD';

export class Vocab {
  private readonly index: Map<string, number>;

  constructor(readonly chars: readonly string[]) {
    // one entry, one character (code point): "dd" or "" would decode every id to the wrong text
    const bad = chars.findIndex((c) => typeof c !== 'string' || [...c].length !== 1 || /^[\ud800-\udfff]$/.test(c));
    if (bad >= 0) throw new InputError(`vocabulary entry ${bad} (${JSON.stringify(chars[bad])}) is not a single character`);
    this.index = new Map(chars.map((c, k) => [c, k]));
    if (this.index.size !== chars.length) throw new InputError('vocabulary has duplicate characters');
  }

  /** Distinct characters in code-point order (deterministic, unlike D2L's list(set(...))). */
  static fromChars(chars: readonly string[]): Vocab {
    return new Vocab([...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  /** The same vocabulary from code points. */
  static fromCodePoints(cps: Int32Array): Vocab {
    const distinct = [...new Set(cps)].sort((a, b) => a - b);
    return new Vocab(distinct.map((c) => String.fromCodePoint(c)));
  }

  /**
   * At most `max` entries for the text `cps`: its max - 1 most frequent characters (ties: the lower
   * code point) and RARE_CHAR standing for all the others; the whole vocabulary when it fits.
   * `covered`: the share of the text's characters that keep their own entry.
   */
  static capped(cps: Int32Array, max: number): { vocab: Vocab; covered: number; dropped: number } {
    const counts = new Map<number, number>();
    for (let k = 0; k < cps.length; k++) counts.set(cps[k], (counts.get(cps[k]) ?? 0) + 1);
    if (max === 0 || counts.size <= max) return { vocab: Vocab.fromCodePoints(cps), covered: 1, dropped: 0 };
    const rare = RARE_CHAR.codePointAt(0)!;
    const byCount = [...counts].filter(([c]) => c !== rare).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const kept = byCount.slice(0, max - 1);
    const keptChars = kept.reduce((a, [, n]) => a + n, 0);
    const vocab = new Vocab([...kept.map(([c]) => c), rare].sort((a, b) => a - b).map((c) => String.fromCodePoint(c)));
    return { vocab, covered: cps.length === 0 ? 1 : keptChars / cps.length, dropped: counts.size - kept.length };
  }

  /**
   * Replaces code points by their ids, in place; returns the code points missing from the
   * vocabulary (the array is then unchanged). `mapRare`: a vocabulary with RARE_CHAR (data.max_vocab)
   * gives it to every character it lacks, and nothing is missing.
   */
  encodeCodePointsInPlace(cps: Int32Array, mapRare = false): number[] {
    const idOf = new Map(this.chars.map((ch, k) => [ch.codePointAt(0)!, k]));
    const rareId = mapRare ? this.index.get(RARE_CHAR) : undefined;
    if (rareId !== undefined) {
      for (let k = 0; k < cps.length; k++) cps[k] = idOf.get(cps[k]) ?? rareId;
      return [];
    }
    const missing = new Set<number>();
    for (let k = 0; k < cps.length; k++) if (!idOf.has(cps[k])) missing.add(cps[k]);
    if (missing.size > 0) return [...missing];
    for (let k = 0; k < cps.length; k++) cps[k] = idOf.get(cps[k])!;
    return [];
  }

  get size(): number {
    return this.chars.length;
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  /** A character's id; one the vocabulary lacks is RARE_CHAR's where it has one (a prefix with a rare character). */
  id(ch: string): number {
    const k = this.index.get(ch) ?? this.index.get(RARE_CHAR);
    if (k === undefined) throw new InputError(`character ${JSON.stringify(ch)} is not in the vocabulary`);
    return k;
  }

  encode(chars: readonly string[]): Int32Array {
    const out = new Int32Array(chars.length);
    for (let k = 0; k < chars.length; k++) out[k] = this.id(chars[k]);
    return out;
  }

  /** Characters of `text` missing from the vocabulary, each once (none where RARE_CHAR stands for them). */
  missing(text: string): string[] {
    if (this.index.has(RARE_CHAR)) return [];
    return [...new Set(Array.from(text).filter((c) => !this.index.has(c)))];
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let k = 0; k < ids.length; k++) s += this.chars[ids[k]];
    return s;
  }
}

/** A stored vocabulary (checkpoint metadata), its errors named by the file: `bad` makes the error. */
export function vocabOf(chars: string[], bad: (why: string) => Error): Vocab {
  try {
    return new Vocab(chars);
  } catch (err) {
    throw bad(`metadata.${(err as Error).message}`);
  }
}
