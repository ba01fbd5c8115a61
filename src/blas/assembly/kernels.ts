// bptt's "blas-wasm": the float32 kernels of the trainer, compiled by AssemblyScript to WebAssembly
// with SIMD (f32x4). Built twice from this one file (scripts/build-wasm.mjs): once with plain SIMD
// (mul then add) and once with relaxed SIMD (fused multiply-add), chosen at load time (loader.ts).
//
// Rules that make it safe to instantiate in every worker over ONE shared memory:
// - no mutable globals, no allocation: every buffer is a pointer argument. The only static data
//   are the constant tables the compiler brings for Math.log & co. (5 KB today), placed low in
//   the memory; every instantiation writes the same bytes there, and loader.ts checks that they
//   end inside RESERVED_LOW_BYTES, which no buffer of ours ever uses;
// - all matrices are row-major; `ld*` are leading dimensions in ELEMENTS, pointers are BYTE addresses;
// - integer index arrays (token ids) are i32.
// The scalar TypeScript reference for every export is src/blas/ref.ts; tests compare the two.

// ---------------------------------------------------------------------------------------------
// Primitives

/** c + a*b: fused on the relaxed build (one rounding), mul then add otherwise. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * exp(x) for 4 lanes, Cephes expf (max rel. error ~2e-7 on [-87, 88]). Written for x64's
 * instructions: the clamp is pmin/pmax (one minps/maxps each; min/max carry NaN and -0 rules that
 * V8 spells in about 7), and 2^n comes from adding 1.5 * 2^23 + 127 to n, which leaves n + 127 in
 * the low mantissa bits, shifted into the exponent field (i32x4.trunc_sat is a saturating sequence
 * on x64). A NaN still comes out NaN. The LSTM's gate step ran 26% faster, bit for bit the same.
 */
// @ts-ignore: decorator
@inline function exp4(x0: v128): v128 {
  let x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  x = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  x = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.mul(f32x4.mul(y, x), x), f32x4.add(x, f32x4.splat(1.0)));
  // fx is an integer in [-126, 127]: fx + 127 + 1.5 * 2^23 is exact, its low 9 bits are fx + 127
  const pow2n = i32x4.shl(f32x4.add(fx, f32x4.splat(12583039.0)), 23);
  return f32x4.mul(y, pow2n);
}

/** tanh(x) for 4 lanes, Cephes tanhf: odd polynomial below |x| = 0.625, 1 - 2/(e^{2|x|}+1) above. */
// @ts-ignore: decorator
@inline function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = exp4(f32x4.mul(f32x4.pmin(ax, f32x4.splat(9.0)), f32x4.splat(2.0)));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  const signedBig = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signedBig, f32x4.lt(ax, f32x4.splat(0.625)));
}

function expf(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

function tanhf(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}

// ---------------------------------------------------------------------------------------------
// SGEMM. C (M x N) = alpha * op(A) * op(B) + beta * C.
// NN and TN share one register-blocked kernel (4 rows x 8 columns of C in 8 f32x4 accumulators):
// they differ only in how A(i, k) is addressed, passed as byte strides (rowStride, kStride).
// NT uses a dot-product kernel (2 x 4 outputs), since both operands run along k contiguously.

const KC: i32 = 256; // k-block: a KC x 8 slab of B stays in L1 while all row blocks of A pass over it

function scaleC(M: i32, N: i32, beta: f32, C: usize, ldc: i32): void {
  if (beta == 1.0) return;
  for (let i = 0; i < M; i++) {
    const row = C + (<usize>i * <usize>ldc << 2);
    if (beta == 0.0) memory.fill(row, 0, <usize>N << 2);
    else scal(N, beta, row);
  }
}

function gemmAN(M: i32, N: i32, K: i32, alpha: f32, A: usize, aRowStrideBytes: usize, aKStrideBytes: usize,
                B: usize, ldb: i32, beta: f32, C: usize, ldc: i32): void {
  scaleC(M, N, beta, C, ldc);
  if (K <= 0 || alpha == 0.0) return;
  const va = f32x4.splat(alpha);
  const ldbBytes = <usize>ldb << 2;
  const ldcBytes = <usize>ldc << 2;
  const N8 = N & ~7;
  const M4 = M & ~3;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const Bk = B + <usize>k0 * ldbBytes;
    const Ak = A + <usize>k0 * aKStrideBytes;
    let j = 0;
    for (; j < N8; j += 8) {
      const Bj = Bk + (<usize>j << 2);
      let i = 0;
      for (; i < M4; i += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pa = Ak + <usize>i * aRowStrideBytes;
        let pb = Bj;
        for (let k = 0; k < kc; k++) {
          const b0 = v128.load(pb);
          const b1 = v128.load(pb, 16);
          let a = v128.load32_splat(pa);
          c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pa + aRowStrideBytes);
          c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pa + 2 * aRowStrideBytes);
          c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pa + 3 * aRowStrideBytes);
          c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          pa += aKStrideBytes;
          pb += ldbBytes;
        }
        let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, madd(va, c00, v128.load(pc)));
        v128.store(pc, madd(va, c01, v128.load(pc, 16)), 16);
        pc += ldcBytes;
        v128.store(pc, madd(va, c10, v128.load(pc)));
        v128.store(pc, madd(va, c11, v128.load(pc, 16)), 16);
        pc += ldcBytes;
        v128.store(pc, madd(va, c20, v128.load(pc)));
        v128.store(pc, madd(va, c21, v128.load(pc, 16)), 16);
        pc += ldcBytes;
        v128.store(pc, madd(va, c30, v128.load(pc)));
        v128.store(pc, madd(va, c31, v128.load(pc, 16)), 16);
      }
      for (; i < M; i++) {
        let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
        let pa = Ak + <usize>i * aRowStrideBytes;
        let pb = Bj;
        for (let k = 0; k < kc; k++) {
          const a = v128.load32_splat(pa);
          c0 = madd(a, v128.load(pb), c0);
          c1 = madd(a, v128.load(pb, 16), c1);
          pa += aKStrideBytes;
          pb += ldbBytes;
        }
        const pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, madd(va, c0, v128.load(pc)));
        v128.store(pc, madd(va, c1, v128.load(pc, 16)), 16);
      }
    }
    // Column tail: one f32x4 at a time, then scalars.
    for (; j + 4 <= N; j += 4) {
      const Bj = Bk + (<usize>j << 2);
      for (let i = 0; i < M; i++) {
        let c0 = f32x4.splat(0);
        let pa = Ak + <usize>i * aRowStrideBytes;
        let pb = Bj;
        for (let k = 0; k < kc; k++) {
          c0 = madd(v128.load32_splat(pa), v128.load(pb), c0);
          pa += aKStrideBytes;
          pb += ldbBytes;
        }
        const pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, madd(va, c0, v128.load(pc)));
      }
    }
    for (; j < N; j++) {
      const Bj = Bk + (<usize>j << 2);
      for (let i = 0; i < M; i++) {
        let s: f32 = 0;
        let pa = Ak + <usize>i * aRowStrideBytes;
        let pb = Bj;
        for (let k = 0; k < kc; k++) {
          s += load<f32>(pa) * load<f32>(pb);
          pa += aKStrideBytes;
          pb += ldbBytes;
        }
        const pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        store<f32>(pc, load<f32>(pc) + alpha * s);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packed SGEMM for the large products (the output layer and its gradients). GotoBLAS-style: a
// KC x NC block of op(B) is copied into 8-column micro-panels and an MC x KC block of op(A) into
// 4-row micro-panels, both contiguous and zero-padded, so the 4 x 8 micro-kernel streams unit
// stride memory whatever the transposes: no TLB walk per k (rows of B are 4 KiB apart at V=1027),
// one 8 KiB B micro-panel stays in L1 while the A block (MC x KC, 128 KiB) streams from L2.
// Needs `scratch` bytes from sgemm_scratch_bytes(), private to the calling thread.

const PMC: i32 = 128;
const PKC: i32 = 256;
const PNC: i32 = 2048;

export function sgemm_scratch_bytes(): i32 {
  return (PMC * PKC + PKC * PNC + 32) << 2;
}

function packA(mc: i32, kc: i32, A: usize, rowStride: usize, kStride: usize, Ap: usize): void {
  for (let p = 0; p < mc; p += 4) {
    const rows = min(4, mc - p);
    const dst = Ap + (<usize>p * <usize>kc << 2);
    if (rows == 4 && kStride == 4) {
      // rows contiguous along k (op(A) = A): read 4 rows, write interleaved
      const r0 = A + <usize>p * rowStride;
      for (let k = 0; k < kc; k++) {
        const off = <usize>k << 2;
        const d = dst + (off << 2);
        store<f32>(d, load<f32>(r0 + off));
        store<f32>(d, load<f32>(r0 + rowStride + off), 4);
        store<f32>(d, load<f32>(r0 + 2 * rowStride + off), 8);
        store<f32>(d, load<f32>(r0 + 3 * rowStride + off), 12);
      }
    } else if (rows == 4 && rowStride == 4) {
      // op(A) = A^T: the 4 values of one k are adjacent
      for (let k = 0; k < kc; k++) v128.store(dst + (<usize>k << 4), v128.load(A + <usize>p * 4 + <usize>k * kStride));
    } else {
      for (let k = 0; k < kc; k++) {
        for (let r = 0; r < 4; r++) {
          store<f32>(dst + (<usize>k << 4) + (<usize>r << 2), r < rows ? load<f32>(A + <usize>(p + r) * rowStride + <usize>k * kStride) : 0);
        }
      }
    }
  }
}

function packB(kc: i32, nc: i32, B: usize, kStride: usize, colStride: usize, Bp: usize): void {
  for (let q = 0; q < nc; q += 8) {
    const cols = min(8, nc - q);
    const dst = Bp + (<usize>q * <usize>kc << 2);
    if (cols == 8 && colStride == 4) {
      for (let k = 0; k < kc; k++) {
        const src = B + <usize>k * kStride + (<usize>q << 2);
        const d = dst + (<usize>k << 5);
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      }
    } else {
      for (let c = 0; c < 8; c++) {
        const src = B + <usize>(q + c) * colStride;
        for (let k = 0; k < kc; k++) {
          store<f32>(dst + (<usize>k << 5) + (<usize>c << 2), c < cols ? load<f32>(src + <usize>k * kStride) : 0);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function kernel4x8(kc: i32, Ap: usize, Bp: usize, C: usize, ldcBytes: usize, alpha: f32,
                           mr: i32, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let pa = Ap, pb = Bp;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  const va = f32x4.splat(alpha);
  if (mr == 4 && nr == 8) {
    let pc = C;
    v128.store(pc, madd(va, c00, v128.load(pc))); v128.store(pc, madd(va, c01, v128.load(pc, 16)), 16);
    pc += ldcBytes;
    v128.store(pc, madd(va, c10, v128.load(pc))); v128.store(pc, madd(va, c11, v128.load(pc, 16)), 16);
    pc += ldcBytes;
    v128.store(pc, madd(va, c20, v128.load(pc))); v128.store(pc, madd(va, c21, v128.load(pc, 16)), 16);
    pc += ldcBytes;
    v128.store(pc, madd(va, c30, v128.load(pc))); v128.store(pc, madd(va, c31, v128.load(pc, 16)), 16);
  } else {
    // edge tile: spill to the scratch tile, add the valid mr x nr part
    v128.store(tile, c00); v128.store(tile, c01, 16);
    v128.store(tile, c10, 32); v128.store(tile, c11, 48);
    v128.store(tile, c20, 64); v128.store(tile, c21, 80);
    v128.store(tile, c30, 96); v128.store(tile, c31, 112);
    for (let r = 0; r < mr; r++) {
      for (let c = 0; c < nr; c++) {
        const pc = C + <usize>r * ldcBytes + (<usize>c << 2);
        store<f32>(pc, load<f32>(pc) + alpha * load<f32>(tile + (<usize>(r * 8 + c) << 2)));
      }
    }
  }
}

/** C = alpha * op(A) op(B) + beta * C with packing; transA / transB as in sgemm_nn / _tn / _nt. */
export function sgemm_packed(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32,
                             B: usize, ldb: i32, beta: f32, C: usize, ldc: i32, scratch: usize): void {
  scaleC(M, N, beta, C, ldc);
  if (K <= 0 || alpha == 0.0) return;
  // element (i, k) of op(A) and (k, j) of op(B) as byte strides
  const aRow: usize = transA ? 4 : <usize>lda << 2;
  const aK: usize = transA ? <usize>lda << 2 : 4;
  const bK: usize = transB ? 4 : <usize>ldb << 2;
  const bCol: usize = transB ? <usize>ldb << 2 : 4;
  const ldcBytes = <usize>ldc << 2;
  const Ap = scratch;
  const Bp = Ap + (<usize>(PMC * PKC) << 2);
  const tile = Bp + (<usize>(PKC * PNC) << 2);
  for (let jc = 0; jc < N; jc += PNC) {
    const nc = min(PNC, N - jc);
    // equal k-blocks (K = 1027 -> 5 x ~206, not 4 x 256 + 3): a tiny last block would pay for
    // a full pass over C and a repack for almost no work
    const kBlocks = (K + PKC - 1) / PKC;
    const kcStep = (K + kBlocks - 1) / kBlocks;
    for (let pc = 0; pc < K; pc += kcStep) {
      const kc = min(kcStep, K - pc);
      packB(kc, nc, B + <usize>pc * bK + <usize>jc * bCol, bK, bCol, Bp);
      for (let ic = 0; ic < M; ic += PMC) {
        const mc = min(PMC, M - ic);
        packA(mc, kc, A + <usize>ic * aRow + <usize>pc * aK, aRow, aK, Ap);
        for (let jr = 0; jr < nc; jr += 8) {
          const Bpanel = Bp + (<usize>jr * <usize>kc << 2);
          const nr = min(8, nc - jr);
          for (let ir = 0; ir < mc; ir += 4) {
            kernel4x8(kc, Ap + (<usize>ir * <usize>kc << 2), Bpanel,
              C + <usize>(ic + ir) * ldcBytes + (<usize>(jc + jr) << 2), ldcBytes, alpha, min(4, mc - ir), nr, tile);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Panel SGEMM for the recurrence. Each step multiplies its B x K rows by the same block of W_h, T
// times per pass: pack_panels copies op(W) once per pass into the 8-column micro-panels above (K x 8
// floats each, zero-padded), and sgemm_panels packs only the step's rows into 4-row micro-panels and
// runs the 4 x 8 micro-kernel over whole K. Every read is then unit stride with constant offsets,
// which the per-step unpacked kernels are not: W_h's rows are (4H + 16) floats apart (gemmAN) or read
// four at a time (sgemm_nt). Measured on the 2-core EPYC VM, LSTM H = 512, 16 rows: 50-52 GFLOP/s
// against 41-46 unpacked (bench/kernels.ts has the recurrence's shapes).

/** op(B) (K x N; B is K x N, or N x K when transB) into ceil(N/8) panels of K x 8 at P. */
export function pack_panels(transB: i32, K: i32, N: i32, B: usize, ldb: i32, P: usize): void {
  if (!transB) {
    packB(K, N, B, <usize>ldb << 2, 4, P);
    return;
  }
  // op(B)(k, j) = B[j, k]: 8 rows of B become one panel. Four rows at a time along k, transposed
  // 4 x 4 in registers, so both the reads (rows of B) and the writes (the panel) stay contiguous.
  const ldbBytes = <usize>ldb << 2;
  const K4 = K & ~3;
  for (let q = 0; q < N; q += 8) {
    const dst = P + (<usize>q * <usize>K << 2);
    for (let half = 0; half < 8; half += 4) {
      const c0 = q + half;
      if (c0 + 4 <= N) {
        const r0 = B + <usize>c0 * ldbBytes, r1 = r0 + ldbBytes, r2 = r1 + ldbBytes, r3 = r2 + ldbBytes;
        for (let k = 0; k < K4; k += 4) {
          const off = <usize>k << 2;
          const a = v128.load(r0 + off), b = v128.load(r1 + off), c = v128.load(r2 + off), d = v128.load(r3 + off);
          // [a0 b0 a1 b1], [c0 d0 c1 d1], [a2 b2 a3 b3], [c2 d2 c3 d3]
          const ab01 = v128.shuffle<f32>(a, b, 0, 4, 1, 5), cd01 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
          const ab23 = v128.shuffle<f32>(a, b, 2, 6, 3, 7), cd23 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
          const d0 = dst + (<usize>k << 5) + (<usize>half << 2);
          v128.store(d0, v128.shuffle<f32>(ab01, cd01, 0, 1, 4, 5));
          v128.store(d0, v128.shuffle<f32>(ab01, cd01, 2, 3, 6, 7), 32);
          v128.store(d0, v128.shuffle<f32>(ab23, cd23, 0, 1, 4, 5), 64);
          v128.store(d0, v128.shuffle<f32>(ab23, cd23, 2, 3, 6, 7), 96);
        }
        for (let k = K4; k < K; k++) {
          const d0 = dst + (<usize>k << 5) + (<usize>half << 2);
          const off = <usize>k << 2;
          store<f32>(d0, load<f32>(r0 + off)); store<f32>(d0, load<f32>(r1 + off), 4);
          store<f32>(d0, load<f32>(r2 + off), 8); store<f32>(d0, load<f32>(r3 + off), 12);
        }
      } else {
        // the last panel's missing columns are zeros
        for (let c = 0; c < 4; c++) {
          const j = c0 + c;
          for (let k = 0; k < K; k++) {
            store<f32>(dst + (<usize>k << 5) + (<usize>(half + c) << 2), j < N ? load<f32>(B + <usize>j * ldbBytes + (<usize>k << 2)) : 0);
          }
        }
      }
    }
  }
}

/** Rows of A that sgemm_panels packs at once: the whole scratch but the edge tile. */
// @ts-ignore: decorator
@inline function panelRows(K: i32): i32 {
  return ((PMC * PKC + PKC * PNC) / K) & ~3;
}

/** Whether sgemm_panels can take this K (at least one 4-row micro-panel fits the scratch). */
export function panels_fit(K: i32): i32 {
  return K > 0 && panelRows(K) >= 4 ? 1 : 0;
}

/** C = alpha * A op(B) + beta * C with op(B) prepacked by pack_panels; A is M x K (lda). Needs the sgemm scratch. */
export function sgemm_panels(M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32, P: usize, beta: f32,
                             C: usize, ldc: i32, scratch: usize): void {
  scaleC(M, N, beta, C, ldc);
  if (K <= 0 || alpha == 0.0) return;
  const ldcBytes = <usize>ldc << 2;
  const ldaBytes = <usize>lda << 2;
  const Ap = scratch;
  const tile = scratch + (<usize>(PMC * PKC + PKC * PNC) << 2);
  const rowsMax = panelRows(K);
  for (let i0 = 0; i0 < M; i0 += rowsMax) {
    const mc = min(rowsMax, M - i0);
    packA(mc, K, A + <usize>i0 * ldaBytes, ldaBytes, 4, Ap);
    // panel by panel: a panel (K x 8) is read from memory once and reused by every row block
    for (let jr = 0; jr < N; jr += 8) {
      const panel = P + (<usize>jr * <usize>K << 2);
      const nr = min(8, N - jr);
      for (let ir = 0; ir < mc; ir += 4) {
        kernel4x8(K, Ap + (<usize>ir * <usize>K << 2), panel, C + <usize>(i0 + ir) * ldcBytes + (<usize>jr << 2),
          ldcBytes, alpha, min(4, mc - ir), nr, tile);
      }
    }
  }
}

/** C = alpha * A B + beta * C; A is M x K (lda), B is K x N (ldb). */
export function sgemm_nn(M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32, B: usize, ldb: i32,
                         beta: f32, C: usize, ldc: i32): void {
  gemmAN(M, N, K, alpha, A, <usize>lda << 2, 4, B, ldb, beta, C, ldc);
}

/** C = alpha * A^T B + beta * C; A is K x M (lda), B is K x N (ldb). */
export function sgemm_tn(M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32, B: usize, ldb: i32,
                         beta: f32, C: usize, ldc: i32): void {
  gemmAN(M, N, K, alpha, A, 4, <usize>lda << 2, B, ldb, beta, C, ldc);
}

/** C = alpha * A B^T + beta * C; A is M x K (lda), B is N x K (ldb). */
export function sgemm_nt(M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32, B: usize, ldb: i32,
                         beta: f32, C: usize, ldc: i32): void {
  scaleC(M, N, beta, C, ldc);
  if (K <= 0 || alpha == 0.0) return;
  const ldaBytes = <usize>lda << 2;
  const ldbBytes = <usize>ldb << 2;
  const ldcBytes = <usize>ldc << 2;
  const K4 = K & ~3;
  const M2 = M & ~1;
  const N4 = N & ~3;
  let i = 0;
  for (; i < M2; i += 2) {
    const a0 = A + <usize>i * ldaBytes;
    const a1 = a0 + ldaBytes;
    let j = 0;
    for (; j < N4; j += 4) {
      const b0 = B + <usize>j * ldbBytes;
      const b1 = b0 + ldbBytes;
      const b2 = b1 + ldbBytes;
      const b3 = b2 + ldbBytes;
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0);
      let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const off = <usize>k << 2;
        const x0 = v128.load(a0 + off);
        const x1 = v128.load(a1 + off);
        let y = v128.load(b0 + off);
        s00 = madd(x0, y, s00); s10 = madd(x1, y, s10);
        y = v128.load(b1 + off);
        s01 = madd(x0, y, s01); s11 = madd(x1, y, s11);
        y = v128.load(b2 + off);
        s02 = madd(x0, y, s02); s12 = madd(x1, y, s12);
        y = v128.load(b3 + off);
        s03 = madd(x0, y, s03); s13 = madd(x1, y, s13);
      }
      let r00 = hsum(s00), r01 = hsum(s01), r02 = hsum(s02), r03 = hsum(s03);
      let r10 = hsum(s10), r11 = hsum(s11), r12 = hsum(s12), r13 = hsum(s13);
      for (let k = K4; k < K; k++) {
        const off = <usize>k << 2;
        const x0 = load<f32>(a0 + off), x1 = load<f32>(a1 + off);
        const y0 = load<f32>(b0 + off), y1 = load<f32>(b1 + off), y2 = load<f32>(b2 + off), y3 = load<f32>(b3 + off);
        r00 += x0 * y0; r01 += x0 * y1; r02 += x0 * y2; r03 += x0 * y3;
        r10 += x1 * y0; r11 += x1 * y1; r12 += x1 * y2; r13 += x1 * y3;
      }
      const c0 = C + <usize>i * ldcBytes + (<usize>j << 2);
      const c1 = c0 + ldcBytes;
      const r0 = f32x4(r00, r01, r02, r03);
      const r1 = f32x4(r10, r11, r12, r13);
      v128.store(c0, madd(f32x4.splat(alpha), r0, v128.load(c0)));
      v128.store(c1, madd(f32x4.splat(alpha), r1, v128.load(c1)));
    }
    for (; j < N; j++) {
      const b0 = B + <usize>j * ldbBytes;
      store<f32>(C + <usize>i * ldcBytes + (<usize>j << 2),
        load<f32>(C + <usize>i * ldcBytes + (<usize>j << 2)) + alpha * dot(K, a0, b0));
      store<f32>(C + <usize>(i + 1) * ldcBytes + (<usize>j << 2),
        load<f32>(C + <usize>(i + 1) * ldcBytes + (<usize>j << 2)) + alpha * dot(K, a1, b0));
    }
  }
  for (; i < M; i++) {
    const a0 = A + <usize>i * ldaBytes;
    for (let j = 0; j < N; j++) {
      const pc = C + <usize>i * ldcBytes + (<usize>j << 2);
      store<f32>(pc, load<f32>(pc) + alpha * dot(K, a0, B + <usize>j * ldbBytes));
    }
  }
}

/** sum_k x[k] y[k] over K contiguous floats. */
export function dot(K: i32, x: usize, y: usize): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const off = <usize>k << 2;
    s0 = madd(v128.load(x + off), v128.load(y + off), s0);
    s1 = madd(v128.load(x + off, 16), v128.load(y + off, 16), s1);
  }
  let s = hsum(f32x4.add(s0, s1));
  for (; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * load<f32>(y + (<usize>k << 2));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Vector ops over n contiguous floats.

/** y += a * x */
export function axpy(n: i32, a: f32, x: usize, y: usize): void {
  const va = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(y + off, madd(va, v128.load(x + off), v128.load(y + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + a * load<f32>(x + off));
  }
}

/** x *= a */
export function scal(n: i32, a: f32, x: usize): void {
  const va = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(x + off, f32x4.mul(va, v128.load(x + off)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, a * load<f32>(x + off));
  }
}

/** sum of x[i]^2, squared and accumulated in float64 so the global gradient norm is exact to ~1e-16. */
// ---------------------------------------------------------------------------------------------
// LSTM gate math for one step of B rows (model/cells/lstm.ts), f32x4 with the Cephes exp/tanh above; the
// scalar tail calls the same 4-lane functions, so every element gets the same arithmetic.
// A (B, 4H): pre-activations in, activations (i, f, o, c~) out; cPrev, c, tc, h, dh, dc: (B, H).

/** sigmoid(x) = 1 / (1 + exp(-x)) for 4 lanes */
// @ts-ignore: decorator
@inline function sigm4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), exp4(f32x4.neg(x))));
}

// @ts-ignore: decorator
@inline function lstmFwd4(a: usize, H4: usize, cp: usize, c: usize, tc: usize, h: usize): void {
  const i = sigm4(v128.load(a));
  const f = sigm4(v128.load(a + H4));
  const o = sigm4(v128.load(a + 2 * H4));
  const g = tanh4(v128.load(a + 3 * H4));
  v128.store(a, i);
  v128.store(a + H4, f);
  v128.store(a + 2 * H4, o);
  v128.store(a + 3 * H4, g);
  const cn = f32x4.add(f32x4.mul(f, v128.load(cp)), f32x4.mul(i, g));
  v128.store(c, cn);
  const th = tanh4(cn);
  v128.store(tc, th);
  v128.store(h, f32x4.mul(o, th));
}

export function lstm_fwd(B: i32, H: i32, A: usize, cPrev: usize, c: usize, tc: usize, h: usize): void {
  const H4 = <usize>H << 2;
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 4 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      lstmFwd4(a + jb, H4, cPrev + off + jb, c + off + jb, tc + off + jb, h + off + jb);
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      // one element through the same 4-lane functions (splat, lane 0): no memory, no sharing
      const i = f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + jb))), 0);
      const f = f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + H4 + jb))), 0);
      const o = f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + 2 * H4 + jb))), 0);
      const g = f32x4.extract_lane(tanh4(f32x4.splat(load<f32>(a + 3 * H4 + jb))), 0);
      store<f32>(a + jb, i); store<f32>(a + H4 + jb, f); store<f32>(a + 2 * H4 + jb, o); store<f32>(a + 3 * H4 + jb, g);
      const cn: f32 = f * load<f32>(cPrev + off + jb) + i * g;
      store<f32>(c + off + jb, cn);
      const th = tanhf(cn);
      store<f32>(tc + off + jb, th);
      store<f32>(h + off + jb, o * th);
    }
  }
}

/**
 * Backward through one step's gates: dc (running dL/dc_t in, dL/dc_{t-1} out), A (activations in,
 * dL/da out, gate by gate); dcTrace (byte pointer, 0 = none) receives dL/dc_t.
 */
export function lstm_bwd(B: i32, H: i32, A: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, dcTrace: usize): void {
  const H4 = <usize>H << 2;
  const one = f32x4.splat(1.0);
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 4 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      const i = v128.load(a + jb), f = v128.load(a + H4 + jb), o = v128.load(a + 2 * H4 + jb), g = v128.load(a + 3 * H4 + jb);
      const th = v128.load(tc + off + jb);
      const dhv = v128.load(dh + off + jb);
      const dcv = f32x4.add(v128.load(dc + off + jb), f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(one, f32x4.mul(th, th))));
      if (dcTrace != 0) v128.store(dcTrace + off + jb, dcv);
      v128.store(dc + off + jb, f32x4.mul(dcv, f));
      v128.store(a + jb, f32x4.mul(f32x4.mul(f32x4.mul(dcv, g), i), f32x4.sub(one, i)));
      v128.store(a + H4 + jb, f32x4.mul(f32x4.mul(f32x4.mul(dcv, v128.load(cPrev + off + jb)), f), f32x4.sub(one, f)));
      v128.store(a + 2 * H4 + jb, f32x4.mul(f32x4.mul(f32x4.mul(dhv, th), o), f32x4.sub(one, o)));
      v128.store(a + 3 * H4 + jb, f32x4.mul(f32x4.mul(dcv, i), f32x4.sub(one, f32x4.mul(g, g))));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      const i = load<f32>(a + jb), f = load<f32>(a + H4 + jb), o = load<f32>(a + 2 * H4 + jb), g = load<f32>(a + 3 * H4 + jb);
      const th = load<f32>(tc + off + jb);
      const dhv = load<f32>(dh + off + jb);
      const dcv: f32 = load<f32>(dc + off + jb) + (dhv * o) * (1 - th * th);
      if (dcTrace != 0) store<f32>(dcTrace + off + jb, dcv);
      store<f32>(dc + off + jb, dcv * f);
      store<f32>(a + jb, ((dcv * g) * i) * (1 - i));
      store<f32>(a + H4 + jb, ((dcv * load<f32>(cPrev + off + jb)) * f) * (1 - f));
      store<f32>(a + 2 * H4 + jb, ((dhv * th) * o) * (1 - o));
      store<f32>(a + 3 * H4 + jb, (dcv * i) * (1 - g * g));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GRU gate math, forward (model/cells/gru.ts), same conventions as the LSTM kernels above. A (B, 3H):
// the input contributions (z, r, h~) in, the activations out; rows of H elements elsewhere.

/** reset after (PyTorch): z, r from A + Hg; hn = Hg_n + b_hn (kept in aux); n = tanh(A_n + r hn); h = z hp + (1 - z) n */
export function gru_after_fwd(B: i32, H: i32, A: usize, Hg: usize, bhn: usize, hPrev: usize, aux: usize, h: usize): void {
  const H4 = <usize>H << 2;
  const one = f32x4.splat(1.0);
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 3 * H4, g = Hg + <usize>r * 3 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      const z = sigm4(f32x4.add(v128.load(a + jb), v128.load(g + jb)));
      const rr = sigm4(f32x4.add(v128.load(a + H4 + jb), v128.load(g + H4 + jb)));
      const hn = f32x4.add(v128.load(g + 2 * H4 + jb), v128.load(bhn + jb));
      const n = tanh4(f32x4.add(v128.load(a + 2 * H4 + jb), f32x4.mul(rr, hn)));
      v128.store(a + jb, z);
      v128.store(a + H4 + jb, rr);
      v128.store(a + 2 * H4 + jb, n);
      v128.store(aux + off + jb, hn);
      v128.store(h + off + jb, f32x4.add(f32x4.mul(z, v128.load(hPrev + off + jb)), f32x4.mul(f32x4.sub(one, z), n)));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      const z = f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + jb) + load<f32>(g + jb))), 0);
      const rr = f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + H4 + jb) + load<f32>(g + H4 + jb))), 0);
      const hn: f32 = load<f32>(g + 2 * H4 + jb) + load<f32>(bhn + jb);
      const n = tanhf(load<f32>(a + 2 * H4 + jb) + rr * hn);
      store<f32>(a + jb, z); store<f32>(a + H4 + jb, rr); store<f32>(a + 2 * H4 + jb, n);
      store<f32>(aux + off + jb, hn);
      store<f32>(h + off + jb, z * load<f32>(hPrev + off + jb) + (1 - z) * n);
    }
  }
}

/** reset before (D2L), first half: z, r = sigmoid(A_z, A_r) in place; aux = r * hp (the candidate GEMM's input) */
export function gru_before_fwd1(B: i32, H: i32, A: usize, hPrev: usize, aux: usize): void {
  const H4 = <usize>H << 2;
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 3 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      v128.store(a + jb, sigm4(v128.load(a + jb)));
      const rr = sigm4(v128.load(a + H4 + jb));
      v128.store(a + H4 + jb, rr);
      v128.store(aux + off + jb, f32x4.mul(rr, v128.load(hPrev + off + jb)));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      store<f32>(a + jb, f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + jb))), 0));
      const rr = f32x4.extract_lane(sigm4(f32x4.splat(load<f32>(a + H4 + jb))), 0);
      store<f32>(a + H4 + jb, rr);
      store<f32>(aux + off + jb, rr * load<f32>(hPrev + off + jb));
    }
  }
}

/** reset before, second half (after the candidate GEMM): n = tanh(A_n) in place; h = z hp + (1 - z) n */
export function gru_before_fwd2(B: i32, H: i32, A: usize, hPrev: usize, h: usize): void {
  const H4 = <usize>H << 2;
  const one = f32x4.splat(1.0);
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 3 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      const n = tanh4(v128.load(a + 2 * H4 + jb));
      v128.store(a + 2 * H4 + jb, n);
      const z = v128.load(a + jb);
      v128.store(h + off + jb, f32x4.add(f32x4.mul(z, v128.load(hPrev + off + jb)), f32x4.mul(f32x4.sub(one, z), n)));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      const n = tanhf(load<f32>(a + 2 * H4 + jb));
      store<f32>(a + 2 * H4 + jb, n);
      const z = load<f32>(a + jb);
      store<f32>(h + off + jb, z * load<f32>(hPrev + off + jb) + (1 - z) * n);
    }
  }
}

// GRU gate math, backward: the same rows, activations (z, r, n) in A, replaced by dL/da gate by
// gate; dhPrev (B, H) gets the direct path h_{t-1} -> h_t, dhv * z, added to what it holds when
// accum is 1 (the output layer's dL/dh_{t-1}) or written when 0 (t = 0: dL/dh_0). The GEMMs
// through W_h then add the paths through the gates.

/** reset after: dA (z, r, n) into A; dL/d(h W_h) = (da_z, da_r, da_n * r) into Hg; aux holds hn = h W_hh + b_hn */
export function gru_after_bwd(B: i32, H: i32, A: usize, Hg: usize, hPrev: usize, aux: usize, dh: usize, dhPrev: usize, accum: i32): void {
  const H4 = <usize>H << 2;
  const one = f32x4.splat(1.0);
  const zero = f32x4.splat(0.0);
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 3 * H4, g = Hg + <usize>r * 3 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      const z = v128.load(a + jb), rr = v128.load(a + H4 + jb), n = v128.load(a + 2 * H4 + jb);
      const dhv = v128.load(dh + off + jb), hp = v128.load(hPrev + off + jb);
      const dan = f32x4.mul(f32x4.mul(dhv, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
      const daz = f32x4.mul(f32x4.mul(f32x4.mul(dhv, f32x4.sub(hp, n)), z), f32x4.sub(one, z));
      const dar = f32x4.mul(f32x4.mul(f32x4.mul(dan, v128.load(aux + off + jb)), rr), f32x4.sub(one, rr));
      v128.store(a + jb, daz); v128.store(a + H4 + jb, dar); v128.store(a + 2 * H4 + jb, dan);
      v128.store(g + jb, daz); v128.store(g + H4 + jb, dar); v128.store(g + 2 * H4 + jb, f32x4.mul(dan, rr));
      // not 0 * dhPrev: what a t = 0 target held before is never read (it may be anything, NaN included)
      v128.store(dhPrev + off + jb, f32x4.add(accum != 0 ? v128.load(dhPrev + off + jb) : zero, f32x4.mul(dhv, z)));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      const z = load<f32>(a + jb), rr = load<f32>(a + H4 + jb), n = load<f32>(a + 2 * H4 + jb);
      const dhv = load<f32>(dh + off + jb), hp = load<f32>(hPrev + off + jb);
      const dan: f32 = (dhv * (1 - z)) * (1 - n * n);
      const daz: f32 = ((dhv * (hp - n)) * z) * (1 - z);
      const dar: f32 = ((dan * load<f32>(aux + off + jb)) * rr) * (1 - rr);
      store<f32>(a + jb, daz); store<f32>(a + H4 + jb, dar); store<f32>(a + 2 * H4 + jb, dan);
      store<f32>(g + jb, daz); store<f32>(g + H4 + jb, dar); store<f32>(g + 2 * H4 + jb, dan * rr);
      const prev: f32 = accum != 0 ? load<f32>(dhPrev + off + jb) : 0;
      store<f32>(dhPrev + off + jb, prev + dhv * z);
    }
  }
}

/** reset before, first half: da_n, da_z into A (they need only this step's activations); the direct path into dhPrev */
export function gru_before_bwd1(B: i32, H: i32, A: usize, hPrev: usize, dh: usize, dhPrev: usize, accum: i32): void {
  const H4 = <usize>H << 2;
  const one = f32x4.splat(1.0);
  const zero = f32x4.splat(0.0);
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 3 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      const z = v128.load(a + jb), n = v128.load(a + 2 * H4 + jb);
      const dhv = v128.load(dh + off + jb), hp = v128.load(hPrev + off + jb);
      v128.store(a + 2 * H4 + jb, f32x4.mul(f32x4.mul(dhv, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n))));
      v128.store(a + jb, f32x4.mul(f32x4.mul(f32x4.mul(dhv, f32x4.sub(hp, n)), z), f32x4.sub(one, z)));
      // not 0 * dhPrev: what a t = 0 target held before is never read (it may be anything, NaN included)
      v128.store(dhPrev + off + jb, f32x4.add(accum != 0 ? v128.load(dhPrev + off + jb) : zero, f32x4.mul(dhv, z)));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      const z = load<f32>(a + jb), n = load<f32>(a + 2 * H4 + jb);
      const dhv = load<f32>(dh + off + jb), hp = load<f32>(hPrev + off + jb);
      store<f32>(a + 2 * H4 + jb, (dhv * (1 - z)) * (1 - n * n));
      store<f32>(a + jb, ((dhv * (hp - n)) * z) * (1 - z));
      const prev: f32 = accum != 0 ? load<f32>(dhPrev + off + jb) : 0;
      store<f32>(dhPrev + off + jb, prev + dhv * z);
    }
  }
}

/** reset before, second half (after tmp = da_n W_hh^T = dL/d(R ⊙ h)): da_r into A; dhPrev += tmp * r */
export function gru_before_bwd2(B: i32, H: i32, A: usize, hPrev: usize, tmp: usize, dhPrev: usize): void {
  const H4 = <usize>H << 2;
  const one = f32x4.splat(1.0);
  for (let r = 0; r < B; r++) {
    const a = A + <usize>r * 3 * H4, off = <usize>r * H4;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const jb = <usize>j << 2;
      const rr = v128.load(a + H4 + jb), tv = v128.load(tmp + off + jb);
      v128.store(a + H4 + jb, f32x4.mul(f32x4.mul(f32x4.mul(tv, v128.load(hPrev + off + jb)), rr), f32x4.sub(one, rr)));
      v128.store(dhPrev + off + jb, f32x4.add(v128.load(dhPrev + off + jb), f32x4.mul(tv, rr)));
    }
    for (; j < H; j++) {
      const jb = <usize>j << 2;
      const rr = load<f32>(a + H4 + jb), tv = load<f32>(tmp + off + jb);
      store<f32>(a + H4 + jb, ((tv * load<f32>(hPrev + off + jb)) * rr) * (1 - rr));
      store<f32>(dhPrev + off + jb, load<f32>(dhPrev + off + jb) + tv * rr);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dropout between stacked layers (model/dropout.ts): the mask as a counter hash, 4 units at a time.
// Integer arithmetic only, so the mask is bitwise the TypeScript reference's.

/** Wellons' lowbias32 */
// @ts-ignore: decorator
@inline function mix32(x: u32): u32 {
  x ^= x >>> 16;
  x *= 0x7feb352d;
  x ^= x >>> 15;
  x *= 0x846ca68b;
  x ^= x >>> 16;
  return x;
}

// @ts-ignore: decorator
@inline function mix4(x: v128): v128 {
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, i32x4.splat(0x7feb352d));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, i32x4.splat(<i32>0x846ca68b));
  return v128.xor(x, i32x4.shr_u(x, 16));
}

/**
 * dst[t, r, j] = keep ? src[t, r, j] * scale : 0 over (T, B, H) time-major rows (src may be dst),
 * keep = mix32(kt ^ j * 0x27d4eb2f) >= threshold with kt = mix32(kr + t * 0xc2b2ae35), kr = mix32(k0 ^ (row0 + r)).
 */
export function dropout_apply(T: i32, B: i32, H: i32, src: usize, dst: usize, k0: u32, row0: u32, threshold: u32, scale: f32): void {
  const vscale = f32x4.splat(scale), vthr = i32x4.splat(<i32>threshold);
  const lanes = i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(0x27d4eb2f));
  const step4 = i32x4.splat(4 * 0x27d4eb2f);
  for (let r = 0; r < B; r++) {
    const kr = mix32(k0 ^ (row0 + <u32>r));
    for (let t = 0; t < T; t++) {
      const kt = mix32(kr + <u32>t * 0xc2b2ae35);
      const at = <usize>(t * B + r) * <usize>H << 2;
      const vkt = i32x4.splat(<i32>kt);
      let jmul = lanes;
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const jb = <usize>j << 2;
        const keep = i32x4.ge_u(mix4(v128.xor(vkt, jmul)), vthr);
        v128.store(dst + at + jb, v128.and(f32x4.mul(v128.load(src + at + jb), vscale), keep));
        jmul = i32x4.add(jmul, step4);
      }
      for (; j < H; j++) {
        const jb = <usize>j << 2;
        const keep = mix32(kt ^ (<u32>j * 0x27d4eb2f)) >= threshold;
        store<f32>(dst + at + jb, keep ? load<f32>(src + at + jb) * scale : 0);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizer updates over a parameter range, on the clipped gradient (scale = the clip factor).
// Plain mul/add (no FMA) in a fixed order, the same in the SIMD body and the scalar tail, so both
// builds and any split of the range give bitwise the same parameters.

/** Heavy-ball momentum (PyTorch's SGD momentum, dampening 0): v = mu*v + scale*g; p = p - lr*v. */
export function momentum_update(n: i32, p: usize, g: usize, v: usize, lr: f32, mu: f32, scale: f32): void {
  const vlr = f32x4.splat(lr), vmu = f32x4.splat(mu), vs = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const nv = f32x4.add(f32x4.mul(vmu, v128.load(v + off)), f32x4.mul(vs, v128.load(g + off)));
    v128.store(v + off, nv);
    v128.store(p + off, f32x4.sub(v128.load(p + off), f32x4.mul(vlr, nv)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const nv: f32 = mu * load<f32>(v + off) + scale * load<f32>(g + off);
    store<f32>(v + off, nv);
    store<f32>(p + off, load<f32>(p + off) - lr * nv);
  }
}

/**
 * Adam with bias corrections bc1 = 1 - b1^t, bc2 = 1 - b2^t. decoupled = 0: weight decay wd*p is
 * added to the gradient (torch.optim.Adam); 1: AdamW, p = p - lr*wd*p before the Adam step.
 */
export function adam_update(n: i32, p: usize, g: usize, m: usize, v: usize, lr: f32, b1: f32, b2: f32, eps: f32,
  bc1: f32, bc2: f32, scale: f32, wd: f32, decoupled: i32): void {
  const c1: f32 = 1 - b1, c2: f32 = 1 - b2;
  const vlr = f32x4.splat(lr), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  const veps = f32x4.splat(eps), vbc1 = f32x4.splat(bc1), vbc2 = f32x4.splat(bc2), vs = f32x4.splat(scale), vwd = f32x4.splat(wd);
  const l2 = decoupled == 0 && wd != 0, dec = decoupled != 0 && wd != 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const pv = v128.load(p + off);
    let gs = f32x4.mul(vs, v128.load(g + off));
    if (l2) gs = f32x4.add(gs, f32x4.mul(vwd, pv));
    const nm = f32x4.add(f32x4.mul(vb1, v128.load(m + off)), f32x4.mul(vc1, gs));
    const nv = f32x4.add(f32x4.mul(vb2, v128.load(v + off)), f32x4.mul(vc2, f32x4.mul(gs, gs)));
    v128.store(m + off, nm);
    v128.store(v + off, nv);
    const base = dec ? f32x4.sub(pv, f32x4.mul(vlr, f32x4.mul(vwd, pv))) : pv;
    const stepv = f32x4.div(f32x4.div(nm, vbc1), f32x4.add(f32x4.sqrt(f32x4.div(nv, vbc2)), veps));
    v128.store(p + off, f32x4.sub(base, f32x4.mul(vlr, stepv)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const pv = load<f32>(p + off);
    let gs: f32 = scale * load<f32>(g + off);
    if (l2) gs = gs + wd * pv;
    const nm: f32 = b1 * load<f32>(m + off) + c1 * gs;
    const nv: f32 = b2 * load<f32>(v + off) + c2 * (gs * gs);
    store<f32>(m + off, nm);
    store<f32>(v + off, nv);
    const base: f32 = dec ? pv - lr * (wd * pv) : pv;
    const stepv: f32 = (nm / bc1) / (Mathf.sqrt(nv / bc2) + eps);
    store<f32>(p + off, base - lr * stepv);
  }
}

export function sumsq(n: i32, x: usize): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<u32>(v, v, 2, 3, 0, 1));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  const t = f64x2.add(s0, s1);
  let s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

export function fill(n: i32, value: f32, x: usize): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), value);
}

export function copy(n: i32, x: usize, y: usize): void {
  memory.copy(y, x, <usize>n << 2);
}

// ---------------------------------------------------------------------------------------------
// Row ops: embedding gather / scatter (one-hot inputs), biases.

/** C[i, :] += T[idx[i], :] for i < M, N columns. */
export function gather_add_rows(M: i32, N: i32, idx: usize, T: usize, ldt: i32, C: usize, ldc: i32): void {
  for (let i = 0; i < M; i++) {
    const src = T + (<usize>load<i32>(idx + (<usize>i << 2)) * <usize>ldt << 2);
    axpy(N, 1.0, src, C + (<usize>i * <usize>ldc << 2));
  }
}

/** T[idx[i], :] += S[i, :] for i < M, N columns (rows applied in order i = 0..M-1). */
export function scatter_add_rows(M: i32, N: i32, idx: usize, S: usize, lds: i32, T: usize, ldt: i32): void {
  for (let i = 0; i < M; i++) {
    const dst = T + (<usize>load<i32>(idx + (<usize>i << 2)) * <usize>ldt << 2);
    axpy(N, 1.0, S + (<usize>i * <usize>lds << 2), dst);
  }
}

/** C[i, :] = bias for i < M. */
export function set_rows(M: i32, N: i32, bias: usize, C: usize, ldc: i32): void {
  for (let i = 0; i < M; i++) copy(N, bias, C + (<usize>i * <usize>ldc << 2));
}

/** y[j] += sum_i X[i, j]: bias gradients. */
export function colsum_add(M: i32, N: i32, X: usize, ldx: i32, y: usize): void {
  for (let i = 0; i < M; i++) axpy(N, 1.0, X + (<usize>i * <usize>ldx << 2), y);
}

// ---------------------------------------------------------------------------------------------
// Activations. Backward functions take the forward OUTPUT y (enough for tanh, relu, identity).

export function tanh_fwd(n: i32, x: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, tanh4(v128.load(p)));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, tanhf(load<f32>(p)));
  }
}

/** dy *= 1 - y^2 */
export function tanh_bwd(n: i32, y: usize, dy: usize): void {
  const one = f32x4.splat(1.0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    const v = v128.load(y + off);
    v128.store(dy + off, f32x4.mul(v128.load(dy + off), f32x4.sub(one, f32x4.mul(v, v))));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(y + off);
    store<f32>(dy + off, load<f32>(dy + off) * (1.0 - v * v));
  }
}

export function relu_fwd(n: i32, x: usize): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.max(v128.load(p), zero));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, max<f32>(load<f32>(p), 0));
  }
}

/** dy = y > 0 ? dy : 0 */
export function relu_bwd(n: i32, y: usize, dy: usize): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = <usize>i << 2;
    v128.store(dy + off, v128.and(v128.load(dy + off), f32x4.gt(v128.load(y + off), zero)));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    if (!(load<f32>(y + off) > 0)) store<f32>(dy + off, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy, in place: row i of X (M x N, ldx) holds logits and becomes
// gradScale * (softmax(x) - onehot(target[i])). Returns the summed loss -log p[target] over the rows.

export function softmax_xent(M: i32, N: i32, X: usize, ldx: i32, targets: usize, gradScale: f32): f64 {
  let loss: f64 = 0;
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const row = X + (<usize>i * <usize>ldx << 2);
    let vmax = f32x4.splat(-Infinity);
    let j = 0;
    for (; j < N4; j += 4) vmax = f32x4.max(vmax, v128.load(row + (<usize>j << 2)));
    let m = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)),
                max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
    for (; j < N; j++) m = max(m, load<f32>(row + (<usize>j << 2)));
    const target = load<i32>(targets + (<usize>i << 2));
    const xt = load<f32>(row + (<usize>target << 2));
    const vm = f32x4.splat(m);
    let vsum = f32x4.splat(0);
    for (j = 0; j < N4; j += 4) {
      const p = row + (<usize>j << 2);
      const e = exp4(f32x4.sub(v128.load(p), vm));
      v128.store(p, e);
      vsum = f32x4.add(vsum, e);
    }
    let sum: f64 = <f64>hsum(vsum);
    for (; j < N; j++) {
      const p = row + (<usize>j << 2);
      const e = expf(load<f32>(p) - m);
      store<f32>(p, e);
      sum += <f64>e;
    }
    loss += Math.log(sum) - <f64>(xt - m);
    const scale = <f32>(<f64>gradScale / sum);
    scal(N, scale, row);
    const pt = row + (<usize>target << 2);
    store<f32>(pt, load<f32>(pt) - gradScale);
  }
  return loss;
}

/** Forward-only: the summed loss over M rows, X left unchanged (validation). */
export function xent_loss(M: i32, N: i32, X: usize, ldx: i32, targets: usize): f64 {
  let loss: f64 = 0;
  for (let i = 0; i < M; i++) {
    const row = X + (<usize>i * <usize>ldx << 2);
    let m: f32 = -Infinity;
    for (let j = 0; j < N; j++) m = max(m, load<f32>(row + (<usize>j << 2)));
    const N4 = N & ~3;
    const vm = f32x4.splat(m);
    let vsum = f32x4.splat(0);
    let j = 0;
    for (; j < N4; j += 4) vsum = f32x4.add(vsum, exp4(f32x4.sub(v128.load(row + (<usize>j << 2)), vm)));
    let sum: f64 = <f64>hsum(vsum);
    for (; j < N; j++) sum += <f64>expf(load<f32>(row + (<usize>j << 2)) - m);
    const target = load<i32>(targets + (<usize>i << 2));
    loss += Math.log(sum) - <f64>(load<f32>(row + (<usize>target << 2)) - m);
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------
// Peak probe for the benchmark's "machine peak": independent chains, no memory traffic, so only the
// floating-point ports limit it. Relaxed build: 12 FMA chains (96 flops per unrolled step); plain build:
// 6 multiply chains + 6 add chains (48 flops per unrolled step), 4 steps per iteration, since mul and add issue on separate ports.
// Returns a value so the work cannot be optimized away; peak_flops_per_iter() says how to count it.

export function peak_flops_per_iter(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 4 * 96 : 4 * 48;
}

export function peak_madd(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.999999);
  const a = f32x4.splat(1e-7);
  let c0 = f32x4.splat(seed), c1 = f32x4.splat(seed + 1), c2 = f32x4.splat(seed + 2), c3 = f32x4.splat(seed + 3);
  let c4 = f32x4.splat(seed + 4), c5 = f32x4.splat(seed + 5), c6 = f32x4.splat(seed + 6), c7 = f32x4.splat(seed + 7);
  let c8 = f32x4.splat(seed + 8), c9 = f32x4.splat(seed + 9), c10 = f32x4.splat(seed + 10), c11 = f32x4.splat(seed + 11);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let i = 0; i < iters; i++) {
      // unrolled x4 so the loop's interrupt check and branch are noise
      for (let u = 0; u < 4; u++) {
        // accumulator form c += m * a, as in the GEMM micro-kernel (x64 FMA writes its addend)
        c0 = madd(m, a, c0); c1 = madd(m, a, c1); c2 = madd(m, a, c2); c3 = madd(m, a, c3);
        c4 = madd(m, a, c4); c5 = madd(m, a, c5); c6 = madd(m, a, c6); c7 = madd(m, a, c7);
        c8 = madd(m, a, c8); c9 = madd(m, a, c9); c10 = madd(m, a, c10); c11 = madd(m, a, c11);
      }
    }
  } else {
    for (let i = 0; i < iters; i++) for (let u = 0; u < 4; u++) {
      c0 = f32x4.mul(c0, m); c1 = f32x4.mul(c1, m); c2 = f32x4.mul(c2, m);
      c3 = f32x4.mul(c3, m); c4 = f32x4.mul(c4, m); c5 = f32x4.mul(c5, m);
      c6 = f32x4.add(c6, a); c7 = f32x4.add(c7, a); c8 = f32x4.add(c8, a);
      c9 = f32x4.add(c9, a); c10 = f32x4.add(c10, a); c11 = f32x4.add(c11, a);
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)));
  return hsum(f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11))));
}
