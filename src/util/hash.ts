// Integer hashing shared by the dropout masks (model/dropout.ts), their float64 reference
// (blas/ref.ts) and, in AssemblyScript, the kernels (blas/assembly/kernels.ts mix32): one function,
// so a mask is the same bit for bit in every implementation.

/** Wellons' lowbias32, an invertible 32-bit mix. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
