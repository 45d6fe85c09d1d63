import { PathIndex } from '../../steps/common/path-index';
import { FileTable } from '../../steps/common/file-table';
import { indexedFiles } from '../../steps/common/manifest';

describe('PathIndex', () => {
  it('finds every row of 50,000 paths by key and nothing else', () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `shard-${i % 97}/sub dir/file-${i}.json`);
    const index = new PathIndex(keys.length, (r) => keys[r]);
    expect(index.size).toBe(keys.length);
    for (let r = 0; r < keys.length; r++) expect(index.find(keys[r])).toBe(r);
    expect(index.find('shard-0/sub dir/file-50000.json')).toBe(-1);
    expect(index.find('')).toBe(-1);
    expect(index.find('shard-1/sub dir/file-1.json ')).toBe(-1);
  });

  it('indexes a key listed twice once, at its first row', () => {
    const keys = ['a.txt', 'b.txt', 'a.txt', 'c.txt'];
    const index = new PathIndex(keys.length, (r) => keys[r]);
    expect(index.size).toBe(3);
    expect(index.find('a.txt')).toBe(0);
    expect(index.find('c.txt')).toBe(3);
  });

  it('tells keys apart that differ only outside ASCII or by case', () => {
    const keys = ['modèle/poids.bin', 'modele/poids.bin', 'Model/Weights.bin', 'model/weights.bin', '模型/权重.bin'];
    const index = new PathIndex(keys.length, (r) => keys[r]);
    keys.forEach((k, r) => expect(index.find(k)).toBe(r));
    expect(index.find('MODEL/WEIGHTS.BIN')).toBe(-1);
  });

  it('works on an empty list', () => {
    const index = new PathIndex(0, () => {
      throw new Error('no rows');
    });
    expect(index.size).toBe(0);
    expect(index.find('x')).toBe(-1);
  });

  it('indexes a FileTable by its decoded paths (indexedFiles gives the table itself)', () => {
    const table = FileTable.of(['config.json', 'nested/model.safetensors', 'ünï.txt'].map((p, i) => ({ path: p, size: i * 10, lfs: false })));
    const rows = indexedFiles(table);
    expect(rows).toBe(table);
    const index = new PathIndex(rows.length, (r) => rows.path(r));
    expect(index.find('nested/model.safetensors')).toBe(1);
    expect(rows.size(index.find('ünï.txt'))).toBe(20);
  });

  it('indexedFiles copies any other list of files', () => {
    const rows = indexedFiles([{ path: 'a', size: 1, sha256: '0'.repeat(64), lfs: false }, { path: 'b', size: 2, sha256: '1'.repeat(64), lfs: true }]);
    expect(rows.length).toBe(2);
    expect([rows.path(1), rows.size(1)]).toEqual(['b', 2]);
  });
});
