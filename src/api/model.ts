// bptt as a library: a trained model loaded from a checkpoint, to generate text from and to
// measure on a text. `bptt sample` is Model.sample. Each call places the model on a heap of its own
// (one thread, no pool): a checkpoint's weights are copied in once per call, which costs far less
// than the call's own work for any text worth measuring.

import { placeOnFreshBlas, type KernelPreference } from '../blas/loader.js';
import { loadCheckpoint, loadParamsInto, type Checkpoint } from '../checkpoint/checkpoint.js';
import type { TrainConfig } from '../config/schema.js';
import { toCodePoints } from '../data/corpus.js';
import { describeModel, type ModelDesc } from '../model/desc.js';
import { generateSteps } from '../model/generate.js';
import { runToEnd, type Steps } from '../util/slices.js';
import { allocModelWorkspace } from '../model/model.js';
import { offsetsAt } from '../model/params.js';
import { evalRows, evaluateLoss } from '../train/evaluate.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface SampleOptions {
  /** characters generated after the prefix (default 100) */
  length?: number;
  /** 0 = greedy (D2L, the default here; bptt sample's is the run's run.sample_temperature); otherwise sample from softmax(logits / temperature) */
  temperature?: number;
  /** sample only among the k most likely characters (0 = all) */
  topK?: number;
  /** seeds the sampling stream (default 0) */
  seed?: number;
}

export interface Evaluation {
  /** mean cross-entropy, nats per predicted character */
  loss: number;
  perplexity: number;
  bitsPerChar: number;
  /** characters predicted (the text read in chunks of data.steps; a tail shorter than a chunk is not read) */
  characters: number;
}

/** `bptt sample --length` and the library's cap: generation is one step per character on one thread. */
export const MAX_SAMPLE_LENGTH = 1_000_000;

export class Model {
  private constructor(private readonly ck: Checkpoint, private readonly kernels: KernelPreference) {}

  /** Reads and validates a bptt checkpoint (last.safetensors, best.safetensors, an imported file). */
  static load(path: string, kernels: KernelPreference = 'auto'): Model {
    return new Model(loadCheckpoint(path), kernels);
  }

  /** the checkpoint's file */
  get path(): string {
    return this.ck.path;
  }

  /** the characters the model knows, in id order */
  get vocabulary(): readonly string[] {
    return this.ck.vocab.chars;
  }

  /** the config it was trained with */
  get config(): TrainConfig {
    return this.ck.config;
  }

  /** "LSTM 512", "2 x GRU (reset after) 256, dropout 0.3", ... */
  get description(): string {
    return describeModel(this.desc);
  }

  private get desc(): ModelDesc {
    return this.ck.layout.model;
  }

  /** The prefix followed by `length` generated characters (as `bptt sample`). */
  sample(prefix: string, opts: SampleOptions = {}): string {
    return runToEnd(this.sampleSteps(prefix, opts));
  }

  /**
   * sample() as steps, one per character (util/slices.ts runs them in slices, so a signal can stop
   * a long one); `onText` receives the prefix, then each character as it is generated.
   */
  sampleSteps(prefix: string, opts: SampleOptions = {}, onText?: (text: string) => void): Steps<string> {
    const length = opts.length ?? 100;
    const temperature = opts.temperature ?? 0;
    const topK = opts.topK ?? 0;
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(length) || length < 0 || length > MAX_SAMPLE_LENGTH) {
      throw new InputError(`length ${length}: must be an integer in 0..${MAX_SAMPLE_LENGTH.toLocaleString('en-US')}`);
    }
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InputError(`temperature ${temperature}: must be a finite number >= 0`);
    if (!Number.isInteger(topK) || topK < 0) throw new InputError(`topK ${topK}: must be an integer >= 0`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`seed ${seed}: must be an integer in 0..4294967295`);
    const model = this.desc;
    const shape = { V: model.V, H: model.H, T: 1, B: 1 };
    const { blas, at: { pBase, ws } } = placeOnFreshBlas((arena) =>
      ({ pBase: arena.alloc(this.ck.layout.numParams), ws: allocModelWorkspace(arena, model, shape, false) }), this.kernels);
    loadParamsInto(this.ck, blas.f, pBase);
    return generateSteps(blas, model, offsetsAt(this.ck.layout, pBase), ws, this.ck.vocab, prefix, { length, temperature, topK, rng: new Rng(seed), onText });
  }

  /**
   * The model's loss on `text`, measured as training measures its validation tail: the text in
   * chunks of data.steps, as many rows as data.batch allows, the state carried from chunk to chunk.
   * On a run's own validation tail it is the run's reported validation loss.
   */
  evaluate(text: string): Evaluation {
    const { steps: T, batch } = this.ck.config.data;
    const ids = toCodePoints(text, { newlinesToSpaces: this.ck.config.data.preprocess.newlines_to_spaces, maxChars: 0 });
    // a capped vocabulary (data.max_vocab) reads a character it left out as U+FFFD, as training did
    const missing = this.ck.vocab.encodeCodePointsInPlace(ids, this.ck.config.data.max_vocab > 0);
    if (missing.length > 0) {
      throw new InputError(`text: ${missing.length} character(s) not in the model's vocabulary, e.g. ${missing.slice(0, 5).map((c) => JSON.stringify(String.fromCodePoint(c))).join(', ')}`);
    }
    const B = evalRows(ids.length, T, batch);
    if (B === 0) throw new InputError(`text: ${ids.length} characters is shorter than one chunk of data.steps + 1 = ${T + 1}`);
    const model = { ...this.desc, dropout: 0 };
    const shape = { V: model.V, H: model.H, T, B };
    const { blas, at: { pBase, corpus, ws } } = placeOnFreshBlas((arena) => ({
      pBase: arena.alloc(this.ck.layout.numParams), corpus: arena.alloc(ids.length), ws: allocModelWorkspace(arena, model, shape, true),
    }), this.kernels);
    loadParamsInto(this.ck, blas.f, pBase);
    blas.i.set(ids, corpus);
    const loss = evaluateLoss(blas, model, offsetsAt(this.ck.layout, pBase), ws, blas.i.subarray(corpus, corpus + ids.length));
    if (!Number.isFinite(loss)) throw new InputError(`checkpoint ${this.ck.path}: the loss on this text is not finite (${loss}): the model's weights are too large for float32 arithmetic`);
    const rowLen = Math.floor(ids.length / B);
    const characters = Math.floor((rowLen - 1) / T) * T * B;
    return { loss, perplexity: Math.exp(loss), bitsPerChar: loss / Math.LN2, characters };
  }
}

/** Model.load */
export function load(path: string, kernels: KernelPreference = 'auto'): Model {
  return Model.load(path, kernels);
}

/** The loss of a checkpoint (a path or a loaded Model) on a text: Model.evaluate. */
export function evaluate(model: string | Model, text: string): Evaluation {
  return (typeof model === 'string' ? Model.load(model) : model).evaluate(text);
}
