// The recurrence's prepacked products (model/cells/types.ts stepProduct): in a pass of at least
// PANEL_MIN_STEPS steps, on a workspace with panels, each layer packs its W_h blocks once and every
// step runs sgemmPanels. Proven like every backward pass: float64 finite differences through the
// panel path for every cell and both GRU conventions at 2 layers (dimensions that divide neither 4
// nor 8), the float64 panel path against the float64 unpacked one, and float32 WASM panels against
// float64. Each test counts the panel products, so none can pass by falling back to sgemm.
import { describe, expect, it } from 'vitest';
import { RefBlas } from '../src/blas/ref.js';
import { panelsElems, type Blas } from '../src/blas/types.js';
import { cellOf } from '../src/model/cells/index.js';
import { PANEL_MIN_STEPS, panelBufferElems } from '../src/model/cells/types.js';
import { modelLoss } from '../src/model/model.js';
import { buildModel, expectWasmMatchesFloat64, gradcheckBuffer, gradcheckTensors, modelGrads, type CellSpec } from './helpers.js';

const shape = { V: 6, H: 5, T: PANEL_MIN_STEPS + 1, B: 3 };
const N = shape.T * shape.B;

const CELLS: Array<[string, CellSpec]> = [
  ['rnn tanh', { cell: 'rnn', act: 'tanh', layers: 2 }],
  ['gru reset before', { cell: 'gru', act: 'tanh', gruReset: 'before', layers: 2 }],
  ['gru reset after', { cell: 'gru', act: 'tanh', gruReset: 'after', layers: 2 }],
  ['lstm', { cell: 'lstm', act: 'tanh', layers: 2 }],
];

/** `blas` with its panel products counted */
function counted(blas: Blas): { blas: Blas; packs: () => number; products: () => number } {
  let packs = 0, products = 0;
  const wrapped = new Proxy(blas, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === 'packPanels') return (...a: Parameters<Blas['packPanels']>) => { packs++; return target.packPanels(...a); };
      if (prop === 'sgemmPanels') return (...a: Parameters<Blas['sgemmPanels']>) => { products++; return target.sgemmPanels(...a); };
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { blas: wrapped, packs: () => packs, products: () => products };
}

describe.each(CELLS)('%s, W_h packed once per pass', (_name, spec) => {
  it('float64 finite differences through the panel path: every element of every named tensor, every layer\'s initial state', () => {
    const raw = new RefBlas(1 << 21, 'f64');
    const { blas, packs, products } = counted(raw);
    const m = buildModel(blas, 0, spec, 5, shape, true);
    const loss = () => modelLoss(m.model, blas, m.P, m.ws, shape.B) / N;
    modelGrads(blas, m, {}, N);
    // one pack per W_h block per layer and direction, one product per block per step
    const blocks = spec.cell === 'gru' && spec.gruReset === 'before' ? 2 : 1;
    expect(packs()).toBe(2 * 2 * blocks);
    expect(products()).toBe(2 * 2 * blocks * shape.T);
    expect(gradcheckTensors(raw.f, m.layout, m.pBase, m.gBase, loss)).toBe(m.layout.numParams - paddingOf(m.layout));
    const cell = cellOf(m.model.cell);
    m.ws.layers.forEach((lw, l) => cell.stateBuffers(lw).forEach((buf, s) => {
      modelGrads(blas, m, {}, N);
      // dL/dh_0 is dh0; the LSTM's dL/dc_0 is what dc holds after backward
      const grad = s === 0 ? lw.dh0 : lw.dc!;
      const n = shape.B * shape.H;
      gradcheckBuffer(raw.f, buf, Array.from(raw.f.subarray(grad, grad + n)), loss, `layer ${l} ${cell.state[s]}_0`);
    }));
  });

  it('float64: the panel path gives the unpacked path\'s loss and gradients (to 1e-12)', () => {
    const a = new RefBlas(1 << 21, 'f64'), b = new RefBlas(1 << 21, 'f64');
    const packed = buildModel(a, 0, spec, 8, shape, true);
    const plain = buildModel(b, 0, spec, 8, shape, false);
    modelGrads(a, packed, {}, N);
    modelGrads(b, plain, {}, N);
    for (let k = 0; k < packed.layout.numParams; k++) {
      expect(Math.abs(a.f[packed.gBase + k] - b.f[plain.gBase + k])).toBeLessThanOrEqual(1e-12);
    }
  });

  it('float32 WASM panels against float64: the loss and every gradient', () => {
    const { wasm, b } = expectWasmMatchesFloat64(spec, shape, { packed: true });
    // the WASM side did take the panel path: its panel buffers hold W_h^T's last packing, not zeros
    const lw = b.ws.layers[0];
    expect(lw.panels).toBeDefined();
    expect(Array.from(wasm.f.subarray(lw.panels!, lw.panels! + shape.H)).some((v) => v !== 0)).toBe(true);
  });
});

/** elements of the layout that no named tensor covers (recurrentRowStride's padding: none at H = 5) */
function paddingOf(layout: { numParams: number; names: string[]; tensors: Record<string, { size: number }> }): number {
  return layout.numParams - layout.names.reduce((a, n) => a + layout.tensors[n].size, 0);
}

describe('the panel buffer', () => {
  // what each cell packs per pass (the stepProduct calls of cells/*.ts): [transB, K, N] per block
  type Pack = [transB: boolean, K: number, N: number];
  const packs = (cell: string, H: number): Pack[] => ({
    rnn: [[false, H, H], [true, H, H]] as Pack[],
    lstm: [[false, H, 4 * H], [true, 4 * H, H]] as Pack[],
    'gru after': [[false, H, 3 * H], [true, 3 * H, H]] as Pack[],
    'gru before': [[false, H, 2 * H], [false, H, H], [true, 2 * H, H], [true, H, H]] as Pack[],
  } as Record<string, Pack[]>)[cell];
  const gates = { rnn: 1, lstm: 4, 'gru after': 3, 'gru before': 3 } as Record<string, number>;
  it.each(['rnn', 'lstm', 'gru after', 'gru before'])('%s: panelBufferElems holds each direction\'s blocks at every H from 1 to 600', (cell) => {
    for (let H = 1; H <= 600; H++) {
      for (const transB of [false, true]) {
        const need = packs(cell, H).filter(([t]) => t === transB).reduce((a, [, K, N]) => a + panelsElems(K, N), 0);
        expect(need, `H = ${H}, ${transB ? 'backward' : 'forward'}`).toBeLessThanOrEqual(panelBufferElems(gates[cell], H));
      }
    }
  });
});
