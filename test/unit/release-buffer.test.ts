import { releaseBuffers } from '../../steps/common/release-buffer';

// Node >= 21 has ArrayBuffer.prototype.transfer; the shipped runtime is Node 24.
const canDetach = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

test('frees a Buffer that owns its whole ArrayBuffer and reports its size', () => {
  expect(canDetach).toBe(true);
  const owned = Buffer.allocUnsafeSlow(65536).fill(7);
  expect(releaseBuffers([owned])).toBe(65536);
  expect(owned.byteLength).toBe(0);
  expect(owned.buffer.byteLength).toBe(0);
});

test('leaves alone what shares memory with other Buffers: pool slices and sub-ranges', () => {
  const pooled = Buffer.from('abc'); // a slice of Node's shared 8 KiB pool
  const neighbour = Buffer.from('xyz');
  const whole = Buffer.alloc(1024, 1);
  const head = whole.subarray(0, 512);
  const tail = whole.subarray(512);
  expect(releaseBuffers([pooled, head, tail])).toBe(0);
  expect(pooled.toString()).toBe('abc');
  expect(neighbour.toString()).toBe('xyz');
  expect(whole.length).toBe(1024);
  expect(tail[0]).toBe(1);
});

test('counts only what it freed in a mixed list, and an empty Buffer is no work', () => {
  const a = Buffer.allocUnsafeSlow(100);
  const b = Buffer.from('pool');
  const empty = Buffer.alloc(0);
  expect(releaseBuffers([a, b, empty])).toBe(100);
  expect(a.length).toBe(0);
  expect(b.toString()).toBe('pool');
});

test('a non-detachable ArrayBuffer is left to the GC without an error', () => {
  // WebAssembly memory cannot be detached by user code.
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
  const view = Buffer.from(new wasm.Memory({ initial: 1 }).buffer);
  expect(releaseBuffers([view])).toBe(0);
  expect(view.length).toBe(65536);
});
