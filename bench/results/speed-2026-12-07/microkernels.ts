// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 { return f32x4.relaxed_madd(a, b, c); }

// current NN kernel (copied): 4x8, B read with row stride
export function nn_cur(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32): void {
  const KC = 256;
  const aRowStrideBytes = <usize>lda << 2; const aKStrideBytes: usize = 4;
  const ldbBytes = <usize>ldb << 2, ldcBytes = <usize>ldc << 2;
  const N8 = N & ~7, M4 = M & ~3;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const Bk = B + <usize>k0 * ldbBytes;
    const Ak = A + <usize>k0 * aKStrideBytes;
    for (let j = 0; j < N8; j += 8) {
      const Bj = Bk + (<usize>j << 2);
      for (let i = 0; i < M4; i += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pa = Ak + <usize>i * aRowStrideBytes; let pb = Bj;
        for (let k = 0; k < kc; k++) {
          const b0 = v128.load(pb); const b1 = v128.load(pb, 16);
          let a = v128.load32_splat(pa); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pa + aRowStrideBytes); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pa + 2 * aRowStrideBytes); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pa + 3 * aRowStrideBytes); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          pa += aKStrideBytes; pb += ldbBytes;
        }
        let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16);
      }
    }
  }
}

// pack B (K x N, ldb) into panels: panel q holds columns 8q..8q+7, K rows of 8 contiguous floats
export function packB8(K: i32, N: i32, B: usize, ldb: i32, Bp: usize): void {
  const ldbBytes = <usize>ldb << 2;
  for (let q = 0; q < N; q += 8) {
    const dst = Bp + (<usize>q * <usize>K << 2);
    for (let k = 0; k < K; k++) {
      const src = B + <usize>k * ldbBytes + (<usize>q << 2);
      v128.store(dst + (<usize>k << 5), v128.load(src)); v128.store(dst + (<usize>k << 5), v128.load(src, 16), 16);
    }
  }
}

// A (M x K rows) times prepacked B panels; A read with splat from rows; KC-blocked
export function nn_pk(M: i32, N: i32, K: i32, A: usize, lda: i32, Bp: usize, C: usize, ldc: i32, KC: i32): void {
  const aRow = <usize>lda << 2, ldcBytes = <usize>ldc << 2;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let j = 0; j < N; j += 8) {
      const panel = Bp + (<usize>j * <usize>K << 2) + (<usize>k0 << 5);
      for (let i = 0; i < M; i += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pa0 = A + <usize>i * aRow + (<usize>k0 << 2);
        const pa1 = pa0 + aRow, pa2 = pa1 + aRow, pa3 = pa2 + aRow;
        let pb = panel;
        const end = pb + (<usize>kc << 5);
        let off: usize = 0;
        while (pb < end) {
          const b0 = v128.load(pb); const b1 = v128.load(pb, 16);
          let a = v128.load32_splat(pa0 + off); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pa1 + off); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pa2 + off); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pa3 + off); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          off += 4; pb += 32;
        }
        let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16);
      }
    }
  }
}

// A packed too (4-row interleaved, whole K) + B packed: pure streaming micro-kernel
export function packA4(M: i32, K: i32, A: usize, lda: i32, Ap: usize): void {
  const aRow = <usize>lda << 2;
  for (let p = 0; p < M; p += 4) {
    const dst = Ap + (<usize>p * <usize>K << 2);
    const r0 = A + <usize>p * aRow;
    for (let k = 0; k < K; k++) {
      const off = <usize>k << 2; const d = dst + (off << 2);
      store<f32>(d, load<f32>(r0 + off)); store<f32>(d, load<f32>(r0 + aRow + off), 4);
      store<f32>(d, load<f32>(r0 + 2 * aRow + off), 8); store<f32>(d, load<f32>(r0 + 3 * aRow + off), 12);
    }
  }
}
export function nn_pk2(M: i32, N: i32, K: i32, Ap: usize, Bp: usize, C: usize, ldc: i32, KC: i32): void {
  const ldcBytes = <usize>ldc << 2;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let j = 0; j < N; j += 8) {
      const panel = Bp + (<usize>j * <usize>K << 2) + (<usize>k0 << 5);
      for (let i = 0; i < M; i += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pa = Ap + (<usize>i * <usize>K << 2) + (<usize>k0 << 4);
        let pb = panel;
        const end = pb + (<usize>kc << 5);
        while (pb < end) {
          const b0 = v128.load(pb); const b1 = v128.load(pb, 16);
          let a = v128.load32_splat(pa); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pa, 4); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pa, 8); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pa, 12); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          pa += 16; pb += 32;
        }
        let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16);
      }
    }
  }
}


export function nn_pk3(M: i32, N: i32, K: i32, Ap: usize, Bp: usize, C: usize, ldc: i32): void {
  // pk2 with the k loop unrolled by 2 (K even), whole K
  const ldcBytes = <usize>ldc << 2;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  for (let j = 0; j < N; j += 8) {
    const panel = Bp + (<usize>j * <usize>K << 2);
    for (let i = 0; i < M; i += 4) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let pa = Ap + (<usize>i * <usize>K << 2);
      let pb = panel;
      const end = pb + (<usize>K << 5);
      while (pb < end) {
        let b0 = v128.load(pb); let b1 = v128.load(pb, 16);
        let a = v128.load32_splat(pa); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
        a = v128.load32_splat(pa, 4); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
        a = v128.load32_splat(pa, 8); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
        a = v128.load32_splat(pa, 12); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
        b0 = v128.load(pb, 32); b1 = v128.load(pb, 48);
        a = v128.load32_splat(pa, 16); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
        a = v128.load32_splat(pa, 20); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
        a = v128.load32_splat(pa, 24); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
        a = v128.load32_splat(pa, 28); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
        pa += 32; pb += 64;
      }
      let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
      v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16);
    }
  }
}

// B unpacked (padded ldb), A packed 4-row interleaved
export function nn_pa(M: i32, N: i32, K: i32, Ap: usize, B: usize, ldb: i32, C: usize, ldc: i32): void {
  const ldcBytes = <usize>ldc << 2, ldbBytes = <usize>ldb << 2;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  for (let k0 = 0; k0 < K; k0 += 256) {
    const kc = min(256, K - k0);
    for (let j = 0; j < N; j += 8) {
      for (let i = 0; i < M; i += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pa = Ap + (<usize>i * <usize>K << 2) + (<usize>k0 << 4);
        let pb = B + <usize>k0 * ldbBytes + (<usize>j << 2);
        const end = pa + (<usize>kc << 4);
        while (pa < end) {
          const b0 = v128.load(pb); const b1 = v128.load(pb, 16);
          let a = v128.load32_splat(pa); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pa, 4); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pa, 8); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pa, 12); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          pa += 16; pb += ldbBytes;
        }
        let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
        v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
        v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16);
      }
    }
  }
}

export function packA6(M: i32, K: i32, A: usize, lda: i32, Ap: usize): void {
  const aRow = <usize>lda << 2;
  for (let p = 0; p < M; p += 6) {
    const dst = Ap + (<usize>p * <usize>K << 2);
    for (let k = 0; k < K; k++) {
      const off = <usize>k << 2; const d = dst + <usize>k * 24;
      for (let r = 0; r < 6; r++) store<f32>(d + (<usize>r << 2), p + r < M ? load<f32>(A + <usize>(p + r) * aRow + off) : 0);
    }
  }
}
export function nn_6x8(M: i32, N: i32, K: i32, Ap: usize, Bp: usize, C: usize, ldc: i32): void {
  const ldcBytes = <usize>ldc << 2;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  const Mfull = (M / 6) * 6;
  for (let j = 0; j < N; j += 8) {
    const panel = Bp + (<usize>j * <usize>K << 2);
    for (let i = 0; i < Mfull; i += 6) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let c40 = f32x4.splat(0), c41 = f32x4.splat(0), c50 = f32x4.splat(0), c51 = f32x4.splat(0);
      let pa = Ap + (<usize>i * <usize>K << 2);
      let pb = panel;
      const end = pb + (<usize>K << 5);
      while (pb < end) {
        const b0 = v128.load(pb); const b1 = v128.load(pb, 16);
        let a = v128.load32_splat(pa); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
        a = v128.load32_splat(pa, 4); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
        a = v128.load32_splat(pa, 8); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
        a = v128.load32_splat(pa, 12); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
        a = v128.load32_splat(pa, 16); c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
        a = v128.load32_splat(pa, 20); c50 = madd(a, b0, c50); c51 = madd(a, b1, c51);
        pa += 24; pb += 32;
      }
      let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
      v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c40, v128.load(pc))); v128.store(pc, f32x4.add(c41, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c50, v128.load(pc))); v128.store(pc, f32x4.add(c51, v128.load(pc, 16)), 16);
    }
  }
}
// 4x8 with a counted loop
export function nn_4x8c(M: i32, N: i32, K: i32, Ap: usize, Bp: usize, C: usize, ldc: i32): void {
  const ldcBytes = <usize>ldc << 2;
  for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcBytes, 0, <usize>N << 2);
  for (let j = 0; j < N; j += 8) {
    const panel = Bp + (<usize>j * <usize>K << 2);
    for (let i = 0; i < M; i += 4) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let pa = Ap + (<usize>i * <usize>K << 2);
      let pb = panel;
      for (let k = K; k > 0; k--) {
        const b0 = v128.load(pb); const b1 = v128.load(pb, 16);
        let a = v128.load32_splat(pa); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
        a = v128.load32_splat(pa, 4); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
        a = v128.load32_splat(pa, 8); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
        a = v128.load32_splat(pa, 12); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
        pa += 16; pb += 32;
      }
      let pc = C + <usize>i * ldcBytes + (<usize>j << 2);
      v128.store(pc, f32x4.add(c00, v128.load(pc))); v128.store(pc, f32x4.add(c01, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c10, v128.load(pc))); v128.store(pc, f32x4.add(c11, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c20, v128.load(pc))); v128.store(pc, f32x4.add(c21, v128.load(pc, 16)), 16); pc += ldcBytes;
      v128.store(pc, f32x4.add(c30, v128.load(pc))); v128.store(pc, f32x4.add(c31, v128.load(pc, 16)), 16);
    }
  }
}
