// Checkpoints: safetensors with the model's tensors under D2L's names and shapes (row-major float32),
// and in __metadata__ the vocabulary (a JSON array of characters in index order), the resolved
// config, and the training state needed to resume exactly (epoch, minibatch position, sampler and
// RNG state, epoch accumulators). Consecutive sampling also stores the carried state, one tensor per
// state the cell carries ("state.h", and "state.c" for the LSTM), each (B, H) or (layers, B, H), cut
// from the model's state table (model/state.ts stateTableOf). Loading validates everything and names
// the file in every error. Tensor names and shapes come from the layout of the config's model.

import { existsSync } from 'node:fs';
import { z } from 'zod';
import { merge } from '../config/load.js';
import { ConfigSchema, storedConfigDefaults, type TrainConfig } from '../config/schema.js';
import { Vocab, vocabOf } from '../data/corpus.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../io/safetensors.js';
import { paramLayout, readTensor, writeTensor, type ParamLayout } from '../model/params.js';
import { describeModel, modelOf } from '../model/desc.js';
import { stateTableOf, type StateTable } from '../model/state.js';
import { InputError } from '../util/errors.js';
import { configHash, type DataFingerprint } from './identity.js';
import { optimSlots } from '../optim/optimizers.js';

export const FORMAT = 'bptt-checkpoint-1';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.number().int().min(0);

/** A report cut short by a stop: was it an epoch's end, the interval's last learning rate, tokens and training seconds. */
const ReportDueSchema = z.strictObject({ epochEnded: z.boolean(), lr: finite, intervalTokens: count, intervalS: finite.min(0) });
export type ReportDue = z.infer<typeof ReportDueSchema>;

/**
 * The accumulators' names in checkpoints written when reports came only at epoch ends: read under
 * today's names (they hold the totals since the last report, an epoch end or an evaluation).
 */
const OLD_ACCUMULATOR_NAMES: Record<string, string> = {
  epochLossSum: 'reportLossSum', epochTokens: 'reportTokens', epochNormSum: 'reportNormSum', epochClipped: 'reportClipped',
};

function renameOldAccumulators(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [OLD_ACCUMULATOR_NAMES[k] ?? k, x]));
}

/**
 * The training state: what a resume needs to continue bitwise (the type is this schema's, so the
 * stored form and the one in memory cannot differ); validated in full before a resume touches anything.
 */
export const TrainingStateSchema = z.preprocess(renameOldAccumulators, z.strictObject({
  /** completed epochs */
  epoch: count,
  /** next minibatch of epoch `epoch` (0 at an epoch boundary) */
  minibatch: count,
  /** sampler RNG state at the start of epoch `epoch` (random sampling re-shuffles from it) */
  epochRng: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
  /** totals since the last report (an epoch end or an evaluation): summed loss, tokens, gradient norms, clipped minibatches */
  reportLossSum: finite.min(0),
  reportTokens: count,
  reportNormSum: finite.min(0),
  reportClipped: count,
  /** run time before this process, seconds */
  elapsedS: finite.min(0),
  bestValPpl: finite.positive().nullable(),
  /** evaluations since the best validation loss improved (early stopping) */
  evalsSinceBest: count.optional().default(0),
  /** global minibatch counter */
  step: count,
  // fields added with minibatch-granular runs: older checkpoints resume with these defaults
  /** the best validation loss (nats per character) and the step it was reached at */
  bestValLoss: finite.nullable().optional().default(null),
  bestStep: count.nullable().optional().default(null),
  /** a time budget's latest horizon estimate, minibatches (null: none yet, or not a time budget) */
  horizon: count.nullable().optional().default(null),
  /** run time (elapsedS) at the last evaluation, sample and checkpoint: cadences in seconds */
  lastEvalS: finite.min(0).optional().default(0),
  lastSampleS: finite.min(0).optional().default(0),
  lastCheckpointS: finite.min(0).optional().default(0),
  /** seconds the last evaluation took (reserved at the end of a time budget; auto eval cadence) */
  evalS: finite.min(0).nullable().optional().default(null),
  /** a report a stop cut short (during its evaluation): a resume evaluates and writes it before it trains */
  reportDue: ReportDueSchema.nullable().optional().default(null),
  /** the largest gradient norm since the last report */
  reportNormMax: finite.min(0).optional().default(0),
  /** T-step chunks of each row of the validation tail an evaluation reads: all of them, or the subset
   *  eval_every auto chose once for the run (null: not chosen yet; a run evaluated before reads all) */
  evalChunks: count.nullable().optional().default(null),
}));
export type TrainingState = z.output<typeof TrainingStateSchema>;

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
  carriedState: Float32Array | null;
  kernels: string;
}

export function saveCheckpoint(path: string, args: {
  vocab: Vocab; config: TrainConfig; layout: ParamLayout; heap: Float32Array; params: number;
  training: TrainingState | null; carriedState: Float32Array | null; kernels: string; data: DataFingerprint | null;
  /** the optimizer's state blocks (plan.optimState), saved as "optim.<slot>.<tensor>" */
  optimState?: number[];
}): void {
  const tensors = new Map<string, Tensor>();
  const copy = (base: number, prefix: string) => {
    for (const name of args.layout.names) {
      const t = args.layout.tensors[name];
      tensors.set(prefix + name, { shape: t.shape.slice(), data: readTensor(t, args.heap, base) }); // a copy: training goes on
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
    for (const name of ck.layout.names) {
      const t = ck.tensors.get(`optim.${slot}.${name}`);
      const spec = ck.layout.tensors[name];
      if (!t) throw new InputError(`checkpoint ${ck.path}: optimizer ${kind} needs tensor optim.${slot}.${name}, which is missing`);
      if (t.shape.join(',') !== spec.shape.join(',')) throw new InputError(`checkpoint ${ck.path}: tensor optim.${slot}.${name} has shape [${t.shape}], expected [${spec.shape}]`);
      const nf = firstNonFinite(t.data);
      if (nf >= 0) throw new InputError(`checkpoint ${ck.path}: tensor optim.${slot}.${name} holds a non-finite value`);
      if (heap) writeTensor(spec, t.data, heap, blocks[k]);
    }
  });
}

/** Writes a checkpoint from its named tensors (import, or saveCheckpoint above). */
export function writeCheckpointTensors(path: string, tensors: Map<string, Tensor>, args: {
  vocab: Vocab; config: TrainConfig; training: TrainingState | null; carriedState: Float32Array | null; kernels: string; data: DataFingerprint | null;
}): void {
  for (const [name, t] of tensors) {
    const data = t.data;
    // a model that has blown up is never saved: the previous checkpoint stays the last good one
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new InputError(`refusing to write ${path}: tensor ${name} holds a non-finite value (${data[bad]} at index ${bad}); ` +
        `${existsSync(path) ? 'the previous checkpoint is kept' : 'nothing was written'}`, 1);
    }
  }
  if (args.carriedState) {
    // the carried state table, one tensor per named state (state.h, and state.c for the LSTM)
    const table = stateTableOf(modelOf(args.vocab.size, args.config.model), args.config.data.batch, 0);
    table.names.forEach((name, s) => tensors.set(`state.${name}`, { shape: stateShape(table, args.config), data: args.carriedState!.slice(s * table.partSize, (s + 1) * table.partSize) }));
  }
  writeSafetensors(path, tensors, {
    format: FORMAT,
    vocab: JSON.stringify(args.vocab.chars),
    config: JSON.stringify(args.config),
    config_sha256: configHash(JSON.stringify(args.config)),
    training_state: JSON.stringify(args.training),
    kernels: args.kernels,
    ...(args.data ? { data_chars: String(args.data.chars), data_sha256: args.data.sha256, ...(args.data.path ? { data_path: args.data.path } : {}) } : {}),
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
  const parsed = ConfigSchema.safeParse(merge(storedConfigDefaults(), rawConfig));
  if (!parsed.success) throw bad(`metadata.config is invalid: ${parsed.error.issues[0]?.message}`);
  const config = parsed.data;
  const vocab = vocabOf(chars as string[], bad);
  const model = modelOf(vocab.size, config.model);
  const layout = paramLayout(model);
  for (const name of layout.names) {
    const t = file.tensors.get(name);
    if (!t) throw bad(`missing tensor ${name} (a ${describeModel(model)} checkpoint)`);
    const want = layout.tensors[name].shape;
    if (t.shape.join(',') !== want.join(',')) {
      throw bad(`tensor ${name} has shape [${t.shape}], expected [${want}] for vocabulary size ${model.V} and hidden ${model.H}`);
    }
    const nf = firstNonFinite(t.data);
    if (nf >= 0) throw bad(`tensor ${name} holds a non-finite value (${t.data[nf]} at index ${nf}); the model is unusable`);
    const big = t.data.findIndex((x) => Math.abs(x) > MAX_ABS_WEIGHT);
    if (big >= 0) {
      throw bad(`tensor ${name} holds ${t.data[big].toPrecision(3)} at index ${big}, beyond +-${MAX_ABS_WEIGHT.toExponential(0)}: no training run makes ` +
        'such weights (it would diverge first), and their products overflow float32; the model is unusable');
    }
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
  const table = stateTableOf(model, config.data.batch, 0);
  const stateNames = table.names.map((n) => `state.${n}`);
  const parts = stateNames.map((n) => file.tensors.get(n) ?? null);
  if (parts.some((p) => p !== null) && parts.some((p) => p === null)) throw bad(`the carried state needs ${stateNames.join(' and ')}`);
  parts.forEach((p, k) => {
    if (!p) return;
    const want = stateShape(table, config);
    if (p.shape.join(',') !== want.join(',')) {
      throw bad(`tensor ${stateNames[k]} has shape [${p.shape}], expected [${want}] (${want.length > 2 ? 'model.layers, ' : ''}data.batch, model.hidden)`);
    }
    const nf = firstNonFinite(p.data);
    if (nf >= 0) throw bad(`tensor ${stateNames[k]} holds a non-finite value (${p.data[nf]} at index ${nf})`);
  });
  let carriedState: Float32Array | null = null;
  if (parts[0]) {
    carriedState = new Float32Array(table.size);
    parts.forEach((p, s) => carriedState!.set(p!.data, s * table.partSize));
  }
  let data: DataFingerprint | null = null;
  if (meta.data_sha256 !== undefined || meta.data_chars !== undefined) {
    const chars = Number(meta.data_chars);
    if (!Number.isInteger(chars) || chars < 0 || !/^[0-9a-f]{64}$/.test(meta.data_sha256 ?? '')) throw bad('metadata data_chars/data_sha256 are malformed');
    data = { chars, sha256: meta.data_sha256, ...(typeof meta.data_path === 'string' ? { path: meta.data_path } : {}) };
  }
  return {
    path, vocab, config, layout, tensors: file.tensors,
    training: state, carriedState, kernels: meta.kernels ?? 'unknown', data, configSha256: meta.config_sha256 ?? null,
  };
}

/** A named state's tensor shape: (B, H) for one layer (as before layers existed), (L, B, H) above, like torch's h_0. */
function stateShape(table: StateTable, config: TrainConfig): number[] {
  const { hidden: H, layers: L } = config.model;
  return L > 1 ? [L, table.rows, H] : [table.rows, H];
}

/**
 * The largest weight magnitude a checkpoint may hold. Trained weights are O(1) to O(100); products
 * of two values near float32's 3.4e38 overflow, and a model with 1e30-scale weights computes
 * nothing but overflowed logits (a run diverges long before: training loss above 4 ln V stops it).
 */
export const MAX_ABS_WEIGHT = 1e15;

/** Index of the first NaN or infinity, or -1. */
export function firstNonFinite(x: Float32Array): number {
  for (let k = 0; k < x.length; k++) if (!Number.isFinite(x[k])) return k;
  return -1;
}

/** Copies a checkpoint's tensors into a parameter block (into their strided places for fused gates). */
export function loadParamsInto(ck: Checkpoint, heap: Float32Array | Float64Array, params: number): void {
  for (const name of ck.layout.names) writeTensor(ck.layout.tensors[name], ck.tensors.get(name)!.data, heap, params);
}
