// From a config to encoded token arrays: read the file (or generate the built-in corpus),
// preprocess, build or reuse the vocabulary, split off the validation tail, and check that the
// training part yields at least one minibatch. Every failure names the file and the problem.

import { resolve } from 'node:path';
import type { TrainConfig } from '../config/schema.js';
import { builtinCorpus } from '../data/builtin.js';
import { readTextFile, toCodePoints, Vocab } from '../data/corpus.js';
import { minCorpusLength } from '../data/samplers.js';
import { InputError } from '../util/errors.js';
import { fingerprintCodePoints, type DataFingerprint } from '../checkpoint/identity.js';

export interface PreparedData {
  /** "file PATH" or "built-in corpus NAME", for messages */
  source: string;
  vocab: Vocab;
  train: Int32Array;
  val: Int32Array | null;
  chars: number;
  /** size and sha256 of the prepared text: a resume must see the same data */
  fingerprint: DataFingerprint;
  /** data.max_vocab left characters out: the share of the text that kept its own entries, and how many were dropped */
  capped?: { covered: number; dropped: number };
  /** how the validation part was chosen, for the first lines (null: the usual tail, or none) */
  split: string | null;
}

/** Every configured sample prefix must be spelled in the vocabulary (checked before anything is written). */
export function checkSamplePrefixes(config: TrainConfig, data: PreparedData): void {
  for (const p of config.run.sample_prefixes) {
    const missing = data.vocab.missing(p);
    if (missing.length > 0) {
      throw new InputError(`run.sample_prefixes: ${JSON.stringify(p)} has characters not in the vocabulary of ${data.source}: ${missing.map((c) => JSON.stringify(c)).join(', ')}`);
    }
  }
}

export function prepareData(config: TrainConfig, vocab?: Vocab): PreparedData {
  const d = config.data;
  const source = d.path ? `data file ${d.path}` : `built-in corpus ${d.builtin}`;
  const pre = { newlinesToSpaces: d.preprocess.newlines_to_spaces, maxChars: d.max_chars };
  const text = d.path ? readTextFile(d.path, d.max_chars) : builtinCorpus(d.builtin);
  // code points on shared memory, turned into ids in place: ~4 bytes a character, and the pool
  // reads the training part without a copy
  let ids = toCodePoints(text, pre, true);
  let nVal: number;
  if (d.val_path) {
    // a validation file of its own: appended behind the training text, which is then all of data.path
    const val = toCodePoints(readTextFile(d.val_path, 0, 'validation file'), { ...pre, maxChars: 0 });
    const both = new Int32Array(new SharedArrayBuffer((ids.length + val.length) * 4));
    both.set(ids);
    both.set(val, ids.length);
    ids = both;
    nVal = val.length;
  } else {
    // the usual split (nanoGPT's, char-rnn's): the first floor(n (1 - f)) characters train, the rest validates
    nVal = ids.length - Math.floor(ids.length * (1 - d.val_fraction));
  }
  const fingerprint = {
    ...fingerprintCodePoints(ids), ...(d.path ? { path: resolve(d.path) } : {}),
  };
  const capped = vocab ? null : Vocab.capped(ids, d.max_vocab);
  const v = vocab ?? capped!.vocab;
  const missing = v.encodeCodePointsInPlace(ids, d.max_vocab > 0);
  if (missing.length > 0) {
    throw new InputError(`${source}${d.val_path ? ` with validation file ${d.val_path}` : ''}: ${missing.length} character(s) not in the checkpoint's vocabulary, e.g. ${missing.slice(0, 5).map((c) => JSON.stringify(String.fromCodePoint(c))).join(', ')}`);
  }
  if (!d.val_path && d.val_split === 'blocks' && d.val_fraction > 0) {
    // a block shorter than a sequence would make every chunk an evaluation reads straddle a seam
    if (d.val_block < d.steps + 1) throw new InputError(`data.val_block ${d.val_block} is shorter than one sequence of data.steps + 1 = ${d.steps + 1} characters; raise it`);
    const every = blockEvery(d.val_fraction);
    // block every-1 is the first to validate: the text must reach into it
    if (ids.length <= (every - 1) * d.val_block) {
      throw new InputError(`${source}: ${ids.length.toLocaleString('en-US')} characters make fewer than ${every} blocks of data.val_block ${d.val_block.toLocaleString('en-US')}, ` +
        `so no block would validate (val_split blocks holds out every ${ordinal(every)}); lower data.val_block to at most ${Math.floor(ids.length / every).toLocaleString('en-US')}`);
    }
    nVal = holdOutBlocks(ids, d.val_block, every);
  }
  const train = ids.subarray(0, ids.length - nVal);
  const val = nVal > 0 ? ids.subarray(ids.length - nVal) : null;
  const need = minCorpusLength(d.sampler, d.batch, d.steps);
  if (train.length < need) {
    throw new InputError(`${source}: ${train.length} training characters is too short for one minibatch of ` +
      `batch ${d.batch} x steps ${d.steps} with ${d.sampler} sampling (needs ${need}); use a longer text, or lower data.batch or data.steps`);
  }
  if (val && val.length < d.steps + 1) {
    throw new InputError(d.val_path
      ? `validation file ${d.val_path}: ${val.length} characters is shorter than one sequence of ${d.steps + 1}; give a longer one`
      : `${source}: the validation ${d.val_split === 'blocks' ? 'blocks hold' : 'tail holds'} ${val.length} characters, shorter than one sequence of ${d.steps + 1}; raise data.val_fraction or set it to 0`);
  }
  return {
    source, vocab: v, train, val, chars: ids.length, fingerprint,
    ...(capped && capped.dropped > 0 ? { capped: { covered: capped.covered, dropped: capped.dropped } } : {}),
    split: d.val_path ? `validation file ${d.val_path}` : d.val_split === 'blocks' && val
      ? `every ${ordinal(blockEvery(d.val_fraction))} block of ${d.val_block.toLocaleString('en-US')} characters validates` : null,
  };
}

/** val_split blocks: every k-th block validates, k = round(1 / val_fraction) (0.1: every 10th). */
export function blockEvery(valFraction: number): number {
  return Math.max(2, Math.round(1 / valFraction));
}

function ordinal(k: number): string {
  const tail = k % 100 >= 11 && k % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[k % 10] ?? 'th';
  return `${k}${tail}`;
}

/**
 * val_split blocks, in place: the text cut into blocks of `block` characters, every `every`-th one
 * (the every-th, 2 every-th, ...: the first block always trains) moved behind the others, in order;
 * returns how many characters validate (the end of `ids`). The training part's seams between blocks
 * are read as one text, as a concatenation of files would be.
 */
export function holdOutBlocks(ids: Int32Array, block: number, every: number): number {
  let nVal = 0;
  for (let b = every - 1; b * block < ids.length; b += every) nVal += Math.min(block, ids.length - b * block);
  const held = new Int32Array(nVal);
  let w = 0, v = 0;
  for (let b = 0; b * block < ids.length; b++) {
    const start = b * block, end = Math.min(start + block, ids.length);
    if (b % every === every - 1) {
      held.set(ids.subarray(start, end), v);
      v += end - start;
    } else {
      // w <= start: a forward copy never overwrites what is still to be read
      ids.copyWithin(w, start, end);
      w += end - start;
    }
  }
  ids.set(held, w);
  return nVal;
}

/**
 * What the validation tail costs a model that knows only how often each character occurs in the
 * training text (add-one smoothed, so a character training never saw costs a finite amount): the
 * loss any trained model must beat, in nats per character. `unseen`: the share of validation
 * characters that never occur in training (no model trained on this split can predict them well).
 * `read`: only the characters an evaluation of `chunks` T-step chunks of `rows` rows predicts (the
 * subset eval_every auto may read: train/evaluate.ts), so the baseline is of what the loss is of.
 */
export function unigramBaseline(data: PreparedData, read?: { rows: number; T: number; chunks: number }): { loss: number; unseen: number } | null {
  if (!data.val) return null;
  const V = data.vocab.size;
  const counts = new Float64Array(V);
  for (let k = 0; k < data.train.length; k++) counts[data.train[k]]++;
  const denom = data.train.length + V;
  let loss = 0, unseen = 0, n = 0;
  const add = (id: number) => {
    const c = counts[id];
    if (c === 0) unseen++;
    loss -= Math.log((c + 1) / denom);
    n++;
  };
  if (read) {
    // the targets of chunk i of row b: b rowLen + i T + 1 .. + T (evaluation's ConsecutiveSampler)
    const rowLen = Math.floor(data.val.length / read.rows);
    for (let b = 0; b < read.rows; b++) for (let k = 1; k <= read.chunks * read.T; k++) add(data.val[b * rowLen + k]);
  } else {
    for (let k = 0; k < data.val.length; k++) add(data.val[k]);
  }
  return { loss: loss / n, unseen: unseen / n };
}
