// safetensors read/write (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}},
// then the raw little-endian tensor bytes. Writes are atomic and verified (io/safe_write.ts): a
// temporary file is written in full, fsynced, read back and decoded, then renamed over the target,
// so neither a crash nor a full disk leaves a torn file, and the previous checkpoint survives
// until the new one is complete.

import { readFileSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { MiB, readRegularFile } from './files.js';
import { writeFileAtomic } from './safe_write.js';

export { writeFileAtomic } from './safe_write.js';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface SafeTensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keep tensor data 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, at);
    at += t.data.byteLength;
  }
  return out;
}

/** Largest checkpoint read, and largest header: far above any model bptt trains, far below what would exhaust memory. */
export const MAX_CHECKPOINT_BYTES = 2 ** 31;
export const MAX_HEADER_BYTES = 100 * MiB;

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Decodes a safetensors buffer, checking every field of the header before trusting it. */
export function decodeSafetensors(buf: Buffer, path: string): SafeTensorsFile {
  const bad = (why: string) => new InputError(`checkpoint ${path}: ${why}`);
  if (buf.length < 8) throw bad('file is truncated (shorter than the 8-byte header length)');
  const headerLen = Number(buf.readBigUInt64LE(0));
  // a safetensors header is JSON starting with '{' right after the length: a text file, a log or
  // metrics.jsonl read as one has 8 bytes of text as its "length", so say what it is not
  if (buf.length > 8 && buf[8] !== 0x7b) throw bad('not a safetensors file (no JSON header after the 8-byte length): give a .safetensors checkpoint');
  if (headerLen > buf.length - 8) throw bad(`file is truncated (header says ${headerLen} bytes, file has ${buf.length - 8})`);
  if (headerLen > MAX_HEADER_BYTES) throw bad(`header of ${headerLen} bytes is over the ${MAX_HEADER_BYTES}-byte limit; not a bptt checkpoint`);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch {
    throw bad('header is not valid JSON; not a safetensors file');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not a JSON object; not a safetensors file');
  const dataStart = 8 + headerLen;
  const dataBytes = buf.length - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  // the header in full first (every entry, then the spans against each other), the tensors after:
  // a header whose entries overlap must not allocate what it claims before it is refused
  const entries: Array<{ name: string; shape: number[]; start: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || Object.values(entry).some((v) => typeof v !== 'string')) {
        throw bad('__metadata__ is not an object of strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad(`tensor ${name}: entry is not an object`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw bad(`tensor ${name} has dtype ${JSON.stringify(e.dtype ?? null)}; only F32 is supported`);
    if (!Array.isArray(e.shape) || !e.shape.every(isCount)) throw bad(`tensor ${name}: shape must be a list of non-negative integers`);
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2 || !e.data_offsets.every(isCount)) {
      throw bad(`tensor ${name}: data_offsets must be [start, end], non-negative integers`);
    }
    const shape = e.shape as number[];
    const [start, end] = e.data_offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (start > end) throw bad(`tensor ${name}: data_offsets [${start}, ${end}] end before they start`);
    if (end - start !== count * 4) throw bad(`tensor ${name}: ${end - start} bytes for shape [${shape}]`);
    if (end > dataBytes) throw bad(`file is truncated (tensor ${name} ends past the end of the file)`);
    entries.push({ name, shape, start, end });
  }
  const spans = [...entries].sort((x, y) => x.start - y.start);
  for (let k = 1; k < spans.length; k++) {
    if (spans[k].start < spans[k - 1].end) throw bad(`tensors ${spans[k - 1].name} and ${spans[k].name} overlap in the file`);
  }
  for (const { name, shape, start, end } of entries) {
    const data = new Float32Array((end - start) / 4);
    Buffer.from(data.buffer).set(buf.subarray(dataStart + start, dataStart + end));
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafeTensorsFile {
  const { bytes } = readRegularFile(path, 'checkpoint', MAX_CHECKPOINT_BYTES, true);
  return decodeSafetensors(bytes, path);
}

/**
 * Writes atomically, and before the rename reads the temporary file back and decodes it in full
 * (header parses, every tensor's bytes present): a checkpoint is replaced only by a whole one.
 */
export function writeSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string>): void {
  const bytes = encodeSafetensors(tensors, metadata);
  writeFileAtomic(path, bytes, {
    verify: (tmp) => {
      const back = readFileSync(tmp);
      if (!back.equals(bytes)) throw new InputError('the written file does not read back as written');
      decodeSafetensors(back, tmp);
    },
  });
}
