// Corpus loading and the character vocabulary. Characters are Unicode code points (Array.from
// splits a string by code point), so CJK text and emoji work and surrogate pairs are never split.
// D2L's preprocessing is an option: newlines and carriage returns to spaces, first N characters.

import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../util/errors.js';

export interface Preprocess {
  /** replace \n and \r by spaces (D2L) */
  newlinesToSpaces: boolean;
  /** keep the first N characters (code points); 0 = all */
  maxChars: number;
}

/** Reads a UTF-8 text file; every failure is an InputError that names the file. */
export function readTextFile(path: string): string {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new InputError(`data file ${path}: is a directory, not a text file`);
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new InputError(`data file ${path}: ${why}`);
  }
  if (bytes.length === 0) throw new InputError(`data file ${path}: the file is empty`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`data file ${path}: not valid UTF-8 text (first bad byte at offset ${firstInvalidUtf8(bytes)})`);
  }
  if (text.includes('\u0000')) throw new InputError(`data file ${path}: contains NUL bytes; this looks like a binary file, not text`);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Byte offset of the first malformed UTF-8 sequence (for the error message). */
function firstInvalidUtf8(bytes: Buffer): number {
  let k = 0;
  while (k < bytes.length) {
    const b = bytes[k];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (len === 0 || k + len > bytes.length) return k;
    for (let c = 1; c < len; c++) if ((bytes[k + c] & 0xc0) !== 0x80) return k;
    k += len;
  }
  return k;
}

/** The corpus as code points after preprocessing. */
export function toChars(text: string, pre: Preprocess): string[] {
  const src = pre.newlinesToSpaces ? text.replace(/[\r\n]/g, ' ') : text;
  const chars = Array.from(src);
  return pre.maxChars > 0 ? chars.slice(0, pre.maxChars) : chars;
}

export class Vocab {
  private readonly index: Map<string, number>;

  constructor(readonly chars: readonly string[]) {
    this.index = new Map(chars.map((c, k) => [c, k]));
    if (this.index.size !== chars.length) throw new InputError('vocabulary has duplicate characters');
  }

  /** Distinct characters in code-point order (deterministic, unlike D2L's list(set(...))). */
  static fromChars(chars: readonly string[]): Vocab {
    return new Vocab([...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  get size(): number {
    return this.chars.length;
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  id(ch: string): number {
    const k = this.index.get(ch);
    if (k === undefined) throw new InputError(`character ${JSON.stringify(ch)} is not in the vocabulary`);
    return k;
  }

  encode(chars: readonly string[]): Int32Array {
    const out = new Int32Array(chars.length);
    for (let k = 0; k < chars.length; k++) out[k] = this.id(chars[k]);
    return out;
  }

  /** Characters of `text` missing from the vocabulary, each once. */
  missing(text: string): string[] {
    return [...new Set(Array.from(text).filter((c) => !this.index.has(c)))];
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let k = 0; k < ids.length; k++) s += this.chars[ids[k]];
    return s;
  }
}
