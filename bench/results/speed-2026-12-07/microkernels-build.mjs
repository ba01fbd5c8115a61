import { main } from 'assemblyscript/asc';
const r = await main(['microkernels.ts','-O3','--noAssert','--runtime','stub','--converge','--importMemory','--sharedMemory','--initialMemory','1','--maximumMemory','65536','--enable','simd','--enable','threads','--enable','relaxed-simd','--outFile','microkernels.wasm']);
if (r.error) { console.log(r.stderr.toString()); process.exit(1); }
