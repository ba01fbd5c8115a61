// A bump allocator of element offsets inside one heap (the shared wasm memory, or a reference
// heap in tests). Every block starts on a 16-element (64-byte) boundary: SIMD loads stay aligned
// and blocks written by different threads never share a cache line. Nothing is ever freed: a run
// sizes its memory once, up front.

export const ALIGN_ELEMS = 16;

export function alignUp(n: number, to = ALIGN_ELEMS): number {
  return Math.ceil(n / to) * to;
}

export class Arena {
  private next: number;

  constructor(readonly base: number, readonly capacity: number) {
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
}
