// The smallest and largest of a list, by a loop: Math.min(...xs) passes every element as an
// argument and overflows the stack past ~100k elements (inspect on a long text did).

/** [min, max] of `xs`; [Infinity, -Infinity] when empty (as Math.min() and Math.max() are). */
export function extent(xs: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let k = 0; k < xs.length; k++) {
    if (xs[k] < lo) lo = xs[k];
    if (xs[k] > hi) hi = xs[k];
  }
  return [lo, hi];
}
