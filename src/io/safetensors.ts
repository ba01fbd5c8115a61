// safetensors read/write (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}},
// then the raw little-endian tensor bytes. Writes are atomic and verified (io/safe_write.ts): a
// temporary file is written in full, fsynced, read back and decoded, then renamed over the target,
// so neither a crash nor a full disk leaves a torn file, and the previous checkpoint survives
// until the new one is complete.

import { readFileSync } from 'node:fs';
import { InputError } from '../util/errors.js';
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

export function decodeSafetensors(buf: Buffer, path: string): SafeTensorsFile {
  const bad = (why: string) => new InputError(`checkpoint ${path}: ${why}`);
  if (buf.length < 8) throw bad('file is truncated (shorter than the 8-byte header length)');
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen > buf.length - 8) throw bad(`file is truncated (header says ${headerLen} bytes, file has ${buf.length - 8})`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad('header is not valid JSON; not a safetensors file');
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = entry as Record<string, string>; continue; }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (e.dtype !== 'F32') throw bad(`tensor ${name} has dtype ${e.dtype}; only F32 is supported`);
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw bad(`tensor ${name} has no shape or offsets`);
    const [start, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (end - start !== count * 4) throw bad(`tensor ${name}: ${end - start} bytes for shape [${e.shape}]`);
    if (dataStart + end > buf.length) throw bad(`file is truncated (tensor ${name} ends past the end of the file)`);
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(buf.subarray(dataStart + start, dataStart + end));
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafeTensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`checkpoint ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  return decodeSafetensors(buf, path);
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
