// Compiles src/blas/assembly/kernels.ts twice: plain SIMD and relaxed SIMD (FMA).
// Both import ONE shared memory (env.memory) so every worker thread can run them over the same
// parameters. Their only static data are the constant tables of AssemblyScript's math (Math.log
// etc.), placed in the low RESERVED_LOW_BYTES of the memory; loader.ts checks it fits there.
import { main } from 'assemblyscript/asc';
import { existsSync, mkdirSync, statSync } from 'node:fs';

const outDir = 'dist/wasm';
mkdirSync(outDir, { recursive: true });
const common = [
  'src/blas/assembly/kernels.ts',
  '-O3', '--noAssert', '--runtime', 'stub', '--converge',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--enable', 'simd', '--enable', 'threads',
];
const variants = [
  { name: 'kernels.simd.wasm', extra: [] },
  { name: 'kernels.relaxed.wasm', extra: ['--enable', 'relaxed-simd'] },
];
// up to date: both outputs newer than the kernels and this script (npm test builds before every run)
const newest = Math.max(...['src/blas/assembly/kernels.ts', 'scripts/build-wasm.mjs'].map((f) => statSync(f).mtimeMs));
if (variants.every((v) => existsSync(`${outDir}/${v.name}`) && statSync(`${outDir}/${v.name}`).mtimeMs > newest)) {
  console.log(`build-wasm: ${outDir} is up to date`);
  process.exit(0);
}
for (const v of variants) {
  const { error, stderr } = await main([...common, ...v.extra, '--outFile', `${outDir}/${v.name}`]);
  if (error) {
    process.stderr.write(stderr.toString());
    console.error(`build-wasm: ${v.name}: ${error.message}`);
    process.exit(1);
  }
  console.log(`build-wasm: ${outDir}/${v.name}`);
}
