// Scalar TypeScript reference for every kernel in assembly/kernels.ts. Written for clarity, not
// speed: the tests compare the WASM kernels against it, and the float64 gradient checks run the
// model code on it (new RefBlas(n, 'f64')). Arithmetic is float64; a float32 heap rounds on store.

import { mix32 } from '../util/hash.js';
import { panelsElems, type Activation, type Blas } from './types.js';


/** kernels.ts dropout_apply in TypeScript: the same integer hash, so the same mask bit for bit. */
export function dropoutReference(f: Float32Array | Float64Array, T: number, B: number, H: number, src: number, dst: number,
  k0: number, row0: number, threshold: number, scale: number): void {
  for (let r = 0; r < B; r++) {
    const kr = mix32((k0 ^ (row0 + r)) >>> 0);
    for (let t = 0; t < T; t++) {
      const kt = mix32((kr + Math.imul(t, 0xc2b2ae35)) >>> 0);
      const at = (t * B + r) * H;
      for (let j = 0; j < H; j++) {
        const keep = mix32((kt ^ Math.imul(j, 0x27d4eb2f)) >>> 0) >= threshold;
        f[dst + at + j] = keep ? f[src + at + j] * scale : 0;
      }
    }
  }
}

export class RefBlas implements Blas {
  readonly name: string;
  readonly f: Float32Array | Float64Array;
  readonly i: Int32Array;

  constructor(sizeElems: number, precision: 'f64' | 'f32' = 'f64') {
    this.name = `ref-${precision}`;
    this.f = precision === 'f64' ? new Float64Array(sizeElems) : new Float32Array(sizeElems);
    this.i = new Int32Array(sizeElems);
  }

  setScratch(): void {}

  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): void {
    const f = this.f;
    for (let r = 0; r < M; r++) {
      for (let col = 0; col < N; col++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? f[a + k * lda + r] : f[a + r * lda + k];
          const bv = transB ? f[b + col * ldb + k] : f[b + k * ldb + col];
          s += av * bv;
        }
        const ci = c + r * ldc + col;
        f[ci] = alpha * s + (beta === 0 ? 0 : beta * f[ci]);
      }
    }
  }

  canUsePanels(): boolean {
    return true;
  }

  packPanels(transB: boolean, K: number, N: number, b: number, ldb: number, dst: number): void {
    const f = this.f;
    f.fill(0, dst, dst + panelsElems(K, N));
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < N; j++) f[dst + (j & ~7) * K + 8 * k + (j & 7)] = transB ? f[b + j * ldb + k] : f[b + k * ldb + j];
    }
  }

  sgemmPanels(M: number, N: number, K: number, alpha: number, a: number, lda: number, panels: number,
    beta: number, c: number, ldc: number): void {
    const f = this.f;
    for (let r = 0; r < M; r++) {
      for (let col = 0; col < N; col++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += f[a + r * lda + k] * f[panels + (col & ~7) * K + 8 * k + (col & 7)];
        const ci = c + r * ldc + col;
        f[ci] = alpha * s + (beta === 0 ? 0 : beta * f[ci]);
      }
    }
  }

  dot(n: number, x: number, y: number): number {
    let s = 0;
    for (let k = 0; k < n; k++) s += this.f[x + k] * this.f[y + k];
    return s;
  }

  axpy(n: number, alpha: number, x: number, y: number): void {
    for (let k = 0; k < n; k++) this.f[y + k] += alpha * this.f[x + k];
  }

  scal(n: number, alpha: number, x: number): void {
    for (let k = 0; k < n; k++) this.f[x + k] *= alpha;
  }

  sumsq(n: number, x: number): number {
    let s = 0;
    for (let k = 0; k < n; k++) s += this.f[x + k] * this.f[x + k];
    return s;
  }

  fill(n: number, value: number, x: number): void {
    this.f.fill(value, x, x + n);
  }

  copy(n: number, x: number, y: number): void {
    this.f.copyWithin(y, x, x + n);
  }

  gatherAddRows(M: number, N: number, idx: number, t: number, ldt: number, c: number, ldc: number): void {
    for (let r = 0; r < M; r++) this.axpy(N, 1, t + this.i[idx + r] * ldt, c + r * ldc);
  }

  scatterAddRows(M: number, N: number, idx: number, s: number, lds: number, t: number, ldt: number): void {
    for (let r = 0; r < M; r++) this.axpy(N, 1, s + r * lds, t + this.i[idx + r] * ldt);
  }

  setRows(M: number, N: number, v: number, c: number, ldc: number): void {
    for (let r = 0; r < M; r++) this.copy(N, v, c + r * ldc);
  }

  colsumAdd(M: number, N: number, x: number, ldx: number, y: number): void {
    for (let r = 0; r < M; r++) this.axpy(N, 1, x + r * ldx, y);
  }

  actForward(act: Activation, n: number, x: number): void {
    const f = this.f;
    if (act === 'tanh') for (let k = x; k < x + n; k++) f[k] = Math.tanh(f[k]);
    else if (act === 'relu') for (let k = x; k < x + n; k++) f[k] = Math.max(f[k], 0);
  }

  actBackward(act: Activation, n: number, y: number, dy: number): void {
    const f = this.f;
    if (act === 'tanh') for (let k = 0; k < n; k++) f[dy + k] *= 1 - f[y + k] * f[y + k];
    else if (act === 'relu') for (let k = 0; k < n; k++) if (!(f[y + k] > 0)) f[dy + k] = 0;
  }

  softmaxXent(M: number, N: number, x: number, ldx: number, targets: number, gradScale: number): number {
    const f = this.f;
    let loss = 0;
    for (let r = 0; r < M; r++) {
      const row = x + r * ldx;
      const target = this.i[targets + r];
      let m = -Infinity;
      for (let j = 0; j < N; j++) m = Math.max(m, f[row + j]);
      let sum = 0;
      for (let j = 0; j < N; j++) sum += Math.exp(f[row + j] - m);
      loss += Math.log(sum) - (f[row + target] - m);
      for (let j = 0; j < N; j++) f[row + j] = (gradScale * Math.exp(f[row + j] - m)) / sum;
      f[row + target] -= gradScale;
    }
    return loss;
  }

  xentLoss(M: number, N: number, x: number, ldx: number, targets: number): number {
    const f = this.f;
    let loss = 0;
    for (let r = 0; r < M; r++) {
      const row = x + r * ldx;
      let m = -Infinity;
      for (let j = 0; j < N; j++) m = Math.max(m, f[row + j]);
      let sum = 0;
      for (let j = 0; j < N; j++) sum += Math.exp(f[row + j] - m);
      loss += Math.log(sum) - (f[row + this.i[targets + r]] - m);
    }
    return loss;
  }

  momentumUpdate(n: number, p: number, g: number, v: number, lr: number, mu: number, scale: number): void {
    const f = this.f;
    for (let k = 0; k < n; k++) {
      f[v + k] = mu * f[v + k] + scale * f[g + k];
      f[p + k] = f[p + k] - lr * f[v + k];
    }
  }

  adamUpdate(n: number, p: number, g: number, m: number, v: number, lr: number, b1: number, b2: number, eps: number,
    bc1: number, bc2: number, scale: number, wd: number, decoupled: boolean): void {
    const f = this.f;
    for (let k = 0; k < n; k++) {
      const pv = f[p + k];
      let gs = scale * f[g + k];
      if (!decoupled) gs += wd * pv;
      f[m + k] = b1 * f[m + k] + (1 - b1) * gs;
      f[v + k] = b2 * f[v + k] + (1 - b2) * gs * gs;
      const base = decoupled ? pv - lr * wd * pv : pv;
      f[p + k] = base - (lr * (f[m + k] / bc1)) / (Math.sqrt(f[v + k] / bc2) + eps);
    }
  }

  lstmGatesForward(B: number, H: number, A: number, cPrev: number, c: number, tc: number, h: number): void {
    const f = this.f;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    for (let r = 0; r < B; r++) {
      const a = A + r * 4 * H;
      for (let j = 0; j < H; j++) {
        const i = sig(f[a + j]), fg = sig(f[a + H + j]), o = sig(f[a + 2 * H + j]), g = Math.tanh(f[a + 3 * H + j]);
        f[a + j] = i; f[a + H + j] = fg; f[a + 2 * H + j] = o; f[a + 3 * H + j] = g;
        const k = r * H + j;
        const cn = fg * f[cPrev + k] + i * g;
        f[c + k] = cn;
        const th = Math.tanh(cn);
        f[tc + k] = th;
        f[h + k] = o * th;
      }
    }
  }

  lstmGatesBackward(B: number, H: number, A: number, cPrev: number, tc: number, dh: number, dc: number, dcTrace: number): void {
    const f = this.f;
    for (let r = 0; r < B; r++) {
      const a = A + r * 4 * H;
      for (let j = 0; j < H; j++) {
        const k = r * H + j;
        const i = f[a + j], fg = f[a + H + j], o = f[a + 2 * H + j], g = f[a + 3 * H + j];
        const th = f[tc + k], dhv = f[dh + k];
        const dcv = f[dc + k] + dhv * o * (1 - th * th);
        if (dcTrace >= 0) f[dcTrace + k] = dcv;
        f[dc + k] = dcv * fg;
        f[a + j] = dcv * g * i * (1 - i);
        f[a + H + j] = dcv * f[cPrev + k] * fg * (1 - fg);
        f[a + 2 * H + j] = dhv * th * o * (1 - o);
        f[a + 3 * H + j] = dcv * i * (1 - g * g);
      }
    }
  }

  gruAfterForward(B: number, H: number, A: number, Hg: number, bhn: number, hPrev: number, aux: number, h: number): void {
    const f = this.f;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    for (let r = 0; r < B; r++) {
      const a = A + r * 3 * H, hg = Hg + r * 3 * H;
      for (let j = 0; j < H; j++) {
        const k = r * H + j;
        const z = sig(f[a + j] + f[hg + j]);
        const rr = sig(f[a + H + j] + f[hg + H + j]);
        const hn = f[hg + 2 * H + j] + f[bhn + j];
        const n = Math.tanh(f[a + 2 * H + j] + rr * hn);
        f[a + j] = z; f[a + H + j] = rr; f[a + 2 * H + j] = n;
        f[aux + k] = hn;
        f[h + k] = z * f[hPrev + k] + (1 - z) * n;
      }
    }
  }

  gruBeforeForward1(B: number, H: number, A: number, hPrev: number, aux: number): void {
    const f = this.f;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    for (let r = 0; r < B; r++) {
      const a = A + r * 3 * H;
      for (let j = 0; j < H; j++) {
        f[a + j] = sig(f[a + j]);
        const rr = sig(f[a + H + j]);
        f[a + H + j] = rr;
        f[aux + r * H + j] = rr * f[hPrev + r * H + j];
      }
    }
  }

  gruBeforeForward2(B: number, H: number, A: number, hPrev: number, h: number): void {
    const f = this.f;
    for (let r = 0; r < B; r++) {
      const a = A + r * 3 * H;
      for (let j = 0; j < H; j++) {
        const k = r * H + j;
        const n = Math.tanh(f[a + 2 * H + j]);
        f[a + 2 * H + j] = n;
        const z = f[a + j];
        f[h + k] = z * f[hPrev + k] + (1 - z) * n;
      }
    }
  }

  gruAfterBackward(B: number, H: number, A: number, Hg: number, hPrev: number, aux: number, dh: number, dhPrev: number, accum: number): void {
    const f = this.f;
    for (let r = 0; r < B; r++) {
      const a = A + r * 3 * H, hg = Hg + r * 3 * H;
      for (let j = 0; j < H; j++) {
        const k = r * H + j;
        const z = f[a + j], rr = f[a + H + j], n = f[a + 2 * H + j];
        const dhv = f[dh + k];
        const dan = dhv * (1 - z) * (1 - n * n);
        const daz = dhv * (f[hPrev + k] - n) * z * (1 - z);
        const dar = dan * f[aux + k] * rr * (1 - rr);
        f[a + j] = daz; f[a + H + j] = dar; f[a + 2 * H + j] = dan;
        f[hg + j] = daz; f[hg + H + j] = dar; f[hg + 2 * H + j] = dan * rr;
        f[dhPrev + k] = (accum ? f[dhPrev + k] : 0) + dhv * z;
      }
    }
  }

  gruBeforeBackward1(B: number, H: number, A: number, hPrev: number, dh: number, dhPrev: number, accum: number): void {
    const f = this.f;
    for (let r = 0; r < B; r++) {
      const a = A + r * 3 * H;
      for (let j = 0; j < H; j++) {
        const k = r * H + j;
        const z = f[a + j], n = f[a + 2 * H + j];
        const dhv = f[dh + k];
        f[a + 2 * H + j] = dhv * (1 - z) * (1 - n * n);
        f[a + j] = dhv * (f[hPrev + k] - n) * z * (1 - z);
        f[dhPrev + k] = (accum ? f[dhPrev + k] : 0) + dhv * z;
      }
    }
  }

  gruBeforeBackward2(B: number, H: number, A: number, hPrev: number, tmp: number, dhPrev: number): void {
    const f = this.f;
    for (let r = 0; r < B; r++) {
      const a = A + r * 3 * H;
      for (let j = 0; j < H; j++) {
        const k = r * H + j;
        const rr = f[a + H + j];
        f[a + H + j] = f[tmp + k] * f[hPrev + k] * rr * (1 - rr);
        f[dhPrev + k] += f[tmp + k] * rr;
      }
    }
  }

  dropout(T: number, B: number, H: number, src: number, dst: number, k0: number, row0: number, threshold: number, scale: number): void {
    dropoutReference(this.f, T, B, H, src, dst, k0, row0, threshold, scale);
  }
}
