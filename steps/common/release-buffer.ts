// Frees the memory of Buffers nothing will read again, now rather than at the GC that finds them
// dead. A WAN download moves ~100 MB/s through socket chunks that outlive a scavenge or two while
// they wait for their batch's write, so they were promoted and only a full GC freed them: on the
// 4 x 2.5 GiB WAN `mirror` 39% of the tool's busy CPU time was GC (issue #15,
// bench/reference/2026-12-05-wan-gc.md).
// Detaching a chunk's ArrayBuffer (`transfer(0)`) hands its memory back at once, and V8's count
// of external memory drops with it, so buffer-reclaim.ts's GCs come less often too.
//
// Only a Buffer that is the whole of its ArrayBuffer is freed: a slice of Node's 8 KiB pool, or of
// a socket read that also held the response head, shares memory with Buffers someone else owns.
// The caller must be done with the bytes, and so must every I/O it started on them (a write in
// flight reads the memory until it completes). Where `transfer` is missing (Node < 21) or refused
// (a non-detachable buffer), nothing happens and the GC frees the Buffer as before.
type Transferable = ArrayBuffer & { transfer?: (newLength?: number) => ArrayBuffer };

/** Frees each Buffer that owns its whole ArrayBuffer; returns the bytes freed. The Buffers read as empty afterwards. */
export function releaseBuffers(buffers: readonly Buffer[]): number {
  let freed = 0;
  for (const b of buffers) {
    const ab = b.buffer as Transferable;
    if (b.byteOffset !== 0 || b.byteLength !== ab.byteLength || b.byteLength === 0 || typeof ab.transfer !== 'function') continue;
    const n = b.byteLength;
    try {
      ab.transfer(0);
      freed += n;
    } catch {
      // not detachable (or a SharedArrayBuffer): the GC frees it
    }
  }
  return freed;
}
