// Which row holds a path, without a string per row: an open-addressing table of row numbers keyed
// by a 32-bit hash of the key, the key itself asked of the rows (a FileTable decodes it from its
// bytes) only to confirm a match. For 100,000 files that is 2 MB of typed arrays where a Map of
// the paths held 100,000 strings and entries (about 12 MB) for as long as it lived.

/** FNV-1a over the UTF-16 code units: cheap, and good enough spread for file paths. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class PathIndex {
  /** Row + 1 per slot; 0 is an empty slot. */
  private readonly slots: Uint32Array;
  private readonly hashes: Uint32Array;
  private readonly mask: number;
  /** Distinct keys (a key listed twice is indexed once, at its first row). */
  readonly size: number;

  /** Indexes rows 0..count-1 by `keyAt(row)`. */
  constructor(count: number, private readonly keyAt: (row: number) => string) {
    let capacity = 8;
    while (capacity < count * 2) capacity *= 2;
    this.slots = new Uint32Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.mask = capacity - 1;
    let distinct = 0;
    for (let row = 0; row < count; row++) {
      const key = keyAt(row);
      const h = hashOf(key);
      const slot = this.probe(key, h);
      if (this.slots[slot]) continue;
      this.slots[slot] = row + 1;
      this.hashes[slot] = h;
      distinct++;
    }
    this.size = distinct;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  private probe(key: string, h: number): number {
    let slot = h & this.mask;
    while (this.slots[slot]) {
      if (this.hashes[slot] === h && this.keyAt(this.slots[slot] - 1) === key) return slot;
      slot = (slot + 1) & this.mask;
    }
    return slot;
  }

  /** The (first) row whose key is `key`, or -1. */
  find(key: string): number {
    return this.slots[this.probe(key, hashOf(key))] - 1;
  }
}
