import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { formatArgoProgress, formatBytes, formatEta, formatPercent, formatProgressLine, formatRate, Progress, renderBar } from '../../steps/common/progress';

describe('formatting', () => {
  it('bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.50 kB');
    expect(formatBytes(25_300_000)).toBe('25.3 MB');
    expect(formatBytes(512_000_000_000)).toBe('512 GB');
  });
  it('rate, eta, percent, bar', () => {
    expect(formatRate(123_456_789)).toBe('123.5 MB/s');
    expect(formatEta(undefined)).toBe('--');
    expect(formatEta(Infinity)).toBe('--');
    expect(formatEta(42)).toBe('42s');
    expect(formatEta(185)).toBe('3m05s');
    expect(formatEta(3725)).toBe('1h02m');
    expect(formatPercent(1, 3)).toBe('33%');
    expect(formatPercent(5, 0)).toBe('100%');
    expect(renderBar(0.5, 10)).toBe('[#####.....]');
    expect(renderBar(2, 4)).toBe('[####]');
  });
  it("Argo's N/M", () => {
    expect(formatArgoProgress(50, 100)).toBe('50/100');
    expect(formatArgoProgress(150, 100)).toBe('100/100');
    expect(formatArgoProgress(-5, 100)).toBe('0/100');
    expect(formatArgoProgress(0, 0)).toBe('0/1');
  });
  it('a log line has bytes, %, MB/s, ETA and files', () => {
    const line = formatProgressLine({
      label: 'download', doneBytes: 250e6, totalBytes: 1e9, doneFiles: 1, totalFiles: 4,
      transferredBytes: 250e6, bytesPerSecond: 50e6, etaSeconds: 15, elapsedSeconds: 5,
    });
    expect(line).toBe('download: 25% 250 MB/1.00 GB 50.0 MB/s ETA 15s (1/4 files)');
  });
});

class Sink extends Writable {
  text = '';
  isTTY = false;
  _write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

describe('Progress', () => {
  it('computes rate from transferred bytes only and writes the Argo file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-progress-'));
    const file = path.join(dir, 'progress');
    let t = 0;
    const p = new Progress({ label: 'x', totalBytes: 1000, totalFiles: 2, mode: 'none', argoProgressFile: file, now: () => t });
    expect(await fs.readFile(file, 'utf8')).toBe('0/1000');
    p.advance(400, { transferred: false }); // verified locally, not moved
    t = 2000;
    p.advance(200);
    const s = p.snapshot();
    expect(s.doneBytes).toBe(600);
    expect(s.transferredBytes).toBe(200);
    expect(s.bytesPerSecond).toBe(100);
    expect(s.etaSeconds).toBe(4);
    p.advance(400);
    p.fileDone();
    p.fileDone();
    p.finish();
    expect(await fs.readFile(file, 'utf8')).toBe('1000/1000');
    await fs.rm(dir, { recursive: true });
  });
  it('draws a bar on a TTY', () => {
    const sink = new Sink();
    sink.isTTY = true;
    const p = new Progress({ label: 'upload', totalBytes: 100, totalFiles: 1, stream: sink as never, mode: 'bar', argoProgressFile: null });
    p.advance(50);
    p.finish();
    expect(sink.text).toContain('\r[');
    expect(sink.text).toContain('upload: ');
    expect(sink.text.endsWith('\n')).toBe(true);
  });
});
