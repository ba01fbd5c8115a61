// Checkpoints: safetensors with the five tensors under D2L's names and shapes (row-major float32),
// and in __metadata__ the vocabulary (a JSON array of characters in index order), the resolved
// config, and the training state needed to resume exactly (epoch, minibatch position, sampler and
// RNG state, epoch accumulators). Consecutive sampling also stores the carried hidden state as
// the tensor "state.h" (B, H). Loading validates everything and names the file in every error.

import { z } from 'zod';
import { merge } from '../config/load.js';
import { ConfigSchema, DEFAULTS, type TrainConfig } from '../config/schema.js';
import { Vocab } from '../data/corpus.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../io/safetensors.js';
import { paramLayout, shapeOf, TENSOR_NAMES, viewsOf, type ParamLayout } from '../model/params.js';
import { InputError } from '../util/errors.js';
import type { RngState } from '../util/rng.js';
import { configHash, type DataFingerprint } from './identity.js';
import { optimSlots } from '../optim/optimizers.js';

export const FORMAT = 'bptt-checkpoint-1';

export interface TrainingState {
  /** completed epochs */
  epoch: number;
  /** next minibatch of epoch `epoch` (0 at an epoch boundary) */
  minibatch: number;
  /** sampler RNG state at the start of epoch `epoch` (random sampling re-shuffles from it) */
  epochRng: RngState;
  /** accumulators of the current, partial epoch */
  epochLossSum: number;
  epochTokens: number;
  epochNormSum: number;
  epochClipped: number;
  /** run time before this process, seconds */
  elapsedS: number;
  bestValPpl: number | null;
  /** evaluations since bestValPpl improved (early stopping) */
  evalsSinceBest: number;
  /** global minibatch counter */
  step: number;
}

/** The training state as stored: validated in full before a resume touches anything. */
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.number().int().min(0);
export const TrainingStateSchema = z.strictObject({
  epoch: count,
  minibatch: count,
  epochRng: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
  epochLossSum: finite.min(0),
  epochTokens: count,
  epochNormSum: finite.min(0),
  epochClipped: count,
  elapsedS: finite.min(0),
  bestValPpl: finite.positive().nullable(),
  evalsSinceBest: count.optional().default(0),
  step: count,
});

export interface Checkpoint {
  path: string;
  /** the training data it was trained on (null: written before fingerprints existed) */
  data: DataFingerprint | null;
  /** sha256 of the resolved config as written (null: older checkpoint) */
  configSha256: string | null;
  vocab: Vocab;
  config: TrainConfig;
  layout: ParamLayout;
  tensors: Map<string, Tensor>;
  training: TrainingState | null;
  stateH: Float32Array | null;
  kernels: string;
}

export function saveCheckpoint(path: string, args: {
  vocab: Vocab; config: TrainConfig; layout: ParamLayout; heap: Float32Array; params: number;
  training: TrainingState | null; stateH: Float32Array | null; kernels: string; data: DataFingerprint | null;
  /** the optimizer's state blocks (plan.optimState), saved as "optim.<slot>.<tensor>" */
  optimState?: number[];
}): void {
  const tensors = new Map<string, Tensor>();
  const copy = (base: number, prefix: string) => {
    const views = viewsOf(args.layout, args.heap, base);
    for (const name of TENSOR_NAMES) {
      const v = views[name];
      tensors.set(prefix + name, { shape: v.shape.slice(), data: Float32Array.from(v.data) }); // a copy: training goes on
    }
  };
  copy(args.params, '');
  optimSlots(args.config.optim.kind).forEach((slot, k) => copy(args.optimState![k], `optim.${slot}.`));
  writeCheckpointTensors(path, tensors, args);
}

/**
 * Restores the optimizer state of `kind` (resume); every tensor must be there with its parameter's
 * shape and finite. With heap null it only checks (resume does, before it touches the run directory).
 */
export function loadOptimStateInto(ck: Checkpoint, kind: TrainConfig['optim']['kind'], heap: Float32Array | Float64Array | null, blocks: number[]): void {
  optimSlots(kind).forEach((slot, k) => {
    for (const name of TENSOR_NAMES) {
      const t = ck.tensors.get(`optim.${slot}.${name}`);
      const spec = ck.layout.tensors[name];
      if (!t) throw new InputError(`checkpoint ${ck.path}: optimizer ${kind} needs tensor optim.${slot}.${name}, which is missing`);
      if (t.shape.join(',') !== spec.shape.join(',')) throw new InputError(`checkpoint ${ck.path}: tensor optim.${slot}.${name} has shape [${t.shape}], expected [${spec.shape}]`);
      const nf = firstNonFinite(t.data);
      if (nf >= 0) throw new InputError(`checkpoint ${ck.path}: tensor optim.${slot}.${name} holds a non-finite value`);
      heap?.set(t.data, blocks[k] + spec.offset);
    }
  });
}

/** Writes a checkpoint from its five named tensors (import, or saveCheckpoint above). */
export function writeCheckpointTensors(path: string, tensors: Map<string, Tensor>, args: {
  vocab: Vocab; config: TrainConfig; training: TrainingState | null; stateH: Float32Array | null; kernels: string; data: DataFingerprint | null;
}): void {
  for (const [name, t] of tensors) {
    const data = t.data;
    // a model that has blown up is never saved: the previous checkpoint stays the last good one
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new InputError(`refusing to write ${path}: tensor ${name} holds a non-finite value (${data[bad]} at index ${bad}); the previous checkpoint is kept`, 1);
  }
  if (args.stateH) tensors.set('state.h', { shape: [args.config.data.batch, args.config.model.hidden], data: args.stateH });
  writeSafetensors(path, tensors, {
    format: FORMAT,
    vocab: JSON.stringify(args.vocab.chars),
    config: JSON.stringify(args.config),
    config_sha256: configHash(JSON.stringify(args.config)),
    training_state: JSON.stringify(args.training),
    kernels: args.kernels,
    ...(args.data ? { data_chars: String(args.data.chars), data_sha256: args.data.sha256 } : {}),
  });
}

export function loadCheckpoint(path: string): Checkpoint {
  const file = readSafetensors(path);
  const bad = (why: string) => new InputError(`checkpoint ${path}: ${why}`);
  const meta = file.metadata;
  if (meta.format !== FORMAT) throw bad(`not a bptt checkpoint (format ${JSON.stringify(meta.format ?? null)}, expected ${FORMAT})`);
  let chars: unknown, rawConfig: unknown, training: unknown;
  try {
    chars = JSON.parse(meta.vocab);
    rawConfig = JSON.parse(meta.config);
    training = JSON.parse(meta.training_state ?? 'null');
  } catch {
    throw bad('metadata is not valid JSON');
  }
  if (!Array.isArray(chars) || chars.some((c) => typeof c !== 'string')) throw bad('metadata.vocab is not an array of characters');
  // merged over today's defaults, so checkpoints written before a key existed still load
  const parsed = ConfigSchema.safeParse(merge(DEFAULTS, rawConfig));
  if (!parsed.success) throw bad(`metadata.config is invalid: ${parsed.error.issues[0]?.message}`);
  const config = parsed.data;
  const vocab = new Vocab(chars as string[]);
  const dims = { V: vocab.size, H: config.model.hidden };
  for (const name of TENSOR_NAMES) {
    const t = file.tensors.get(name);
    if (!t) throw bad(`missing tensor ${name}`);
    const want = shapeOf(name, dims);
    if (t.shape.join(',') !== want.join(',')) {
      throw bad(`tensor ${name} has shape [${t.shape}], expected [${want}] for vocabulary size ${dims.V} and hidden ${dims.H}`);
    }
    const nf = firstNonFinite(t.data);
    if (nf >= 0) throw bad(`tensor ${name} holds a non-finite value (${t.data[nf]} at index ${nf}); the model is unusable`);
  }
  if (meta.config_sha256 !== undefined && meta.config_sha256 !== configHash(meta.config)) {
    throw bad('metadata.config does not match its recorded sha256: the checkpoint was edited');
  }
  let state: TrainingState | null = null;
  if (training !== null) {
    const ts = TrainingStateSchema.safeParse(training);
    if (!ts.success) {
      const issue = ts.error.issues[0];
      throw bad(`metadata.training_state.${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    state = ts.data;
  }
  const h = file.tensors.get('state.h') ?? null;
  if (h) {
    const want = [config.data.batch, config.model.hidden];
    if (h.shape.join(',') !== want.join(',')) throw bad(`tensor state.h has shape [${h.shape}], expected [${want}] (data.batch, model.hidden)`);
    const nf = firstNonFinite(h.data);
    if (nf >= 0) throw bad(`tensor state.h holds a non-finite value (${h.data[nf]} at index ${nf})`);
  }
  let data: DataFingerprint | null = null;
  if (meta.data_sha256 !== undefined || meta.data_chars !== undefined) {
    const chars = Number(meta.data_chars);
    if (!Number.isInteger(chars) || chars < 0 || !/^[0-9a-f]{64}$/.test(meta.data_sha256 ?? '')) throw bad('metadata data_chars/data_sha256 are malformed');
    data = { chars, sha256: meta.data_sha256 };
  }
  return {
    path, vocab, config, layout: paramLayout(dims), tensors: file.tensors,
    training: state, stateH: h?.data ?? null, kernels: meta.kernels ?? 'unknown', data, configSha256: meta.config_sha256 ?? null,
  };
}

/** Index of the first NaN or infinity, or -1. */
export function firstNonFinite(x: Float32Array): number {
  for (let k = 0; k < x.length; k++) if (!Number.isFinite(x[k])) return k;
  return -1;
}

/** Copies a checkpoint's tensors into a parameter block. */
export function loadParamsInto(ck: Checkpoint, heap: Float32Array | Float64Array, params: number): void {
  for (const name of TENSOR_NAMES) {
    const t = ck.layout.tensors[name];
    heap.set(ck.tensors.get(name)!.data, params + t.offset);
  }
}
