// A bump allocator of element offsets inside one heap (the shared wasm memory, or a reference
// heap in tests). Every block starts on a 16-element (64-byte) boundary: SIMD loads stay aligned
// and blocks written by different threads never share a cache line. Nothing is ever freed: a run
// sizes its memory once, up front. A plan allocates with an unbounded arena and reads `end`, so the
// code that places the buffers is the code that sizes the memory: nothing restates a size.

export const ALIGN_ELEMS = 16;

export function alignUp(n: number, to = ALIGN_ELEMS): number {
  return Math.ceil(n / to) * to;
}

export class Arena {
  private next: number;

  constructor(readonly base: number, readonly capacity = Infinity) {
    this.next = alignUp(base);
  }

  alloc(nElems: number): number {
    const off = this.next;
    this.next = alignUp(off + nElems);
    if (this.next > this.base + this.capacity) {
      throw new Error(`arena overflow: need ${this.next - this.base} elements, have ${this.capacity}`);
    }
    return off;
  }

  /** first element past the last allocation */
  get end(): number {
    return this.next;
  }
}
