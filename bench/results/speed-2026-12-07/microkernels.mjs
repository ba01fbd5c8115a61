import { readFileSync } from 'node:fs';
const mem = new WebAssembly.Memory({ initial: 2048, maximum: 65536, shared: true });
const { instance } = await WebAssembly.instantiate(readFileSync(new URL('microkernels.wasm', import.meta.url)), { env: { memory: mem, abort() {} } });
const x = instance.exports;
const f = new Float32Array(mem.buffer);
const [M, N, K] = process.argv.slice(2).map(Number); const LDB = N % 1024 === 0 ? N + 16 : N;
// layout (floats): A at 1M, B at 4M, Bp at 12M, C at 20M, Ap at 22M
const A = 1 << 20, B = 4 << 20, Bp = 12 << 20, C = 20 << 20, Ap = 22 << 20;
for (let i = 0; i < M * K; i++) f[A + i] = Math.sin(i) * 0.1;
for (let i = 0; i < K * LDB; i++) f[B + i] = Math.cos(i) * 0.1;
x.packB8(K, N, B * 4, LDB, Bp * 4);
const ref = new Float32Array(M * N);
x.nn_cur(M, N, K, A * 4, K, B * 4, LDB, C * 4, N); ref.set(f.subarray(C, C + M * N));
const check = (name) => { let e = 0; for (let i = 0; i < M * N; i++) e = Math.max(e, Math.abs(f[C + i] - ref[i])); if (e > 1e-4) console.log(name, 'ERR', e); };
const variants = {
  cur: () => x.nn_cur(M, N, K, A * 4, K, B * 4, LDB, C * 4, N),
  pk2All: () => { x.packA4(M, K, A * 4, K, Ap * 4); x.nn_pk2(M, N, K, Ap * 4, Bp * 4, C * 4, N, K); },
  c4x8: () => { x.packA4(M, K, A * 4, K, Ap * 4); x.nn_4x8c(M, N, K, Ap * 4, Bp * 4, C * 4, N); },
  k6x8: () => { x.packA6(M, K, A * 4, K, Ap * 4); x.nn_6x8(M, N, K, Ap * 4, Bp * 4, C * 4, N); },
};
for (const [n, v] of Object.entries(variants)) { v(); check(n); }
const res = Object.fromEntries(Object.keys(variants).map((n) => [n, []]));
const reps = Math.max(3, Math.round(2e8 / (2 * M * N * K)));
for (let round = 0; round < 7; round++) for (const [n, v] of Object.entries(variants)) {
  const t0 = performance.now(); for (let r = 0; r < reps; r++) v(); const dt = performance.now() - t0;
  res[n].push(2 * M * N * K * reps / dt / 1e6);
}
console.log(`${M}x${N}x${K}`, Object.entries(res).map(([n, g]) => { g.sort((a, b) => a - b); return `${n} ${g[3].toFixed(1)} (max ${g[6].toFixed(1)})`; }).join(' | '));
