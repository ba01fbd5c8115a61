// Sampling: the draws follow softmax(logits / temperature), restricted to the top k. A test of
// "same seed, same text" alone would pass with temperature and top-k ignored; these measure the
// distribution they produce.
import { describe, expect, it } from 'vitest';
import { pick } from '../src/model/generate.js';
import { Rng } from '../src/util/rng.js';

const logits = new Float32Array([2, 1, 0, -1, 0.5]);
const V = logits.length;

function frequencies(temperature: number, topK: number, n = 40_000): number[] {
  const rng = new Rng(7);
  const counts = new Array(V).fill(0);
  const probs = new Float64Array(V);
  for (let k = 0; k < n; k++) counts[pick(logits, 0, V, { length: 0, temperature, topK, rng }, probs)]++;
  return counts.map((c) => c / n);
}

function softmax(xs: number[], temperature: number): number[] {
  const e = xs.map((x) => Math.exp(x / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe('pick', () => {
  it('temperature 0 is the argmax', () => {
    expect(pick(logits, 0, V, { length: 0, temperature: 0, topK: 0, rng: new Rng(1) }, new Float64Array(V))).toBe(0);
  });

  it.each([1, 0.5, 2])('temperature %f: frequencies match softmax(logits / t) within 0.01', (t) => {
    const want = softmax([...logits], t);
    frequencies(t, 0).forEach((f, j) => expect(Math.abs(f - want[j]), `id ${j}`).toBeLessThan(0.01));
  });

  it('a lower temperature concentrates the draws (t=0.5 gives the top id more often than t=2)', () => {
    expect(frequencies(0.5, 0)[0]).toBeGreaterThan(frequencies(2, 0)[0] + 0.3);
  });

  it('top-k 2: only the two most likely ids, renormalized', () => {
    const f = frequencies(1, 2);
    expect(f[2] + f[3] + f[4]).toBe(0);
    const want = softmax([2, 1], 1);
    expect(Math.abs(f[0] - want[0])).toBeLessThan(0.01);
    expect(Math.abs(f[1] - want[1])).toBeLessThan(0.01);
  });
});
