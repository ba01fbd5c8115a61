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
  const text = d.path ? readTextFile(d.path, d.max_chars) : builtinCorpus(d.builtin);
  // code points on shared memory, turned into ids in place: ~4 bytes a character, and the pool
  // reads the training part without a copy
  const ids = toCodePoints(text, { newlinesToSpaces: d.preprocess.newlines_to_spaces, maxChars: d.max_chars }, true);
  const fingerprint = { ...fingerprintCodePoints(ids), ...(d.path ? { path: resolve(d.path) } : {}) };
  const v = vocab ?? Vocab.fromCodePoints(ids);
  const missing = v.encodeCodePointsInPlace(ids);
  if (missing.length > 0) {
    throw new InputError(`${source}: ${missing.length} character(s) not in the checkpoint's vocabulary, e.g. ${missing.slice(0, 5).map((c) => JSON.stringify(String.fromCodePoint(c))).join(', ')}`);
  }
  // the usual split (nanoGPT's, char-rnn's): the first floor(n (1 - f)) characters train, the rest validates
  const nVal = ids.length - Math.floor(ids.length * (1 - d.val_fraction));
  const train = ids.subarray(0, ids.length - nVal);
  const val = nVal > 0 ? ids.subarray(ids.length - nVal) : null;
  const need = minCorpusLength(d.sampler, d.batch, d.steps);
  if (train.length < need) {
    throw new InputError(`${source}: ${train.length} training characters is too short for one minibatch of ` +
      `batch ${d.batch} x steps ${d.steps} with ${d.sampler} sampling (needs ${need}); use a longer text, or lower data.batch or data.steps`);
  }
  if (val && val.length < d.steps + 1) {
    throw new InputError(`${source}: the validation tail (${val.length} characters) is shorter than one sequence of ${d.steps + 1}; raise data.val_fraction or set it to 0`);
  }
  return { source, vocab: v, train, val, chars: ids.length, fingerprint };
}

/**
 * What the validation tail costs a model that knows only how often each character occurs in the
 * training text (add-one smoothed, so a character training never saw costs a finite amount): the
 * loss any trained model must beat, in nats per character. `unseen`: the share of validation
 * characters that never occur in training (no model trained on this split can predict them well).
 */
export function unigramBaseline(data: PreparedData): { loss: number; unseen: number } | null {
  if (!data.val) return null;
  const V = data.vocab.size;
  const counts = new Float64Array(V);
  for (let k = 0; k < data.train.length; k++) counts[data.train[k]]++;
  const denom = data.train.length + V;
  let loss = 0, unseen = 0;
  for (let k = 0; k < data.val.length; k++) {
    const c = counts[data.val[k]];
    if (c === 0) unseen++;
    loss -= Math.log((c + 1) / denom);
  }
  return { loss: loss / data.val.length, unseen: unseen / data.val.length };
}
