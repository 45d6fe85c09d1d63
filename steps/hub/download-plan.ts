// What a download will fetch, once every path is checked: the files (a FileTable) and, for the
// files in flight only, the GrowingFile a consumer follows (mirror's overlapped upload). A
// GrowingFile is made when either side first asks for a file and forgotten once the file is
// complete, when the table holds its digests; asked for after that, a completed one is made from
// the table. So a 100,000-file plan holds tens of GrowingFiles, not 100,000.
import { FileTable, type FileTableEntry } from '../common/file-table';
import { safeJoin } from '../common/fs-safety';
import { GrowingFile } from '../common/growing-file';
import type { Digests } from '../common/hash';

export class DownloadPlan {
  private readonly inFlight = new Map<number, GrowingFile>();
  private failure?: { readonly error: unknown };

  constructor(
    readonly table: FileTable,
    /** The absolute download directory. */
    readonly dest: string,
    readonly repo: string,
    readonly commitSha: string,
  ) {}

  static of(entries: ReadonlyArray<FileTableEntry>, dest: string, repo: string, commitSha: string): DownloadPlan {
    return new DownloadPlan(FileTable.of(entries), dest, repo, commitSha);
  }

  get length(): number {
    return this.table.length;
  }

  /** Path in the repo (the manifest path). */
  path(i: number): string {
    return this.table.path(i);
  }

  size(i: number): number {
    return this.table.size(i);
  }

  /** The Hub's sha256, known before the download for LFS files only. */
  sha256(i: number): string | undefined {
    return this.table.listedSha256(i);
  }

  /** Where the verified file goes. */
  destPath(i: number): string {
    return safeJoin(this.dest, this.table.path(i), 'repo file');
  }

  /**
   * File i's GrowingFile: the one in flight, or a new one (complete if the file is, failed if the
   * download failed).
   */
  growing(i: number): GrowingFile {
    const live = this.inFlight.get(i);
    if (live) return live;
    const g = new GrowingFile(this.destPath(i), this.table.size(i));
    if (this.table.isComplete(i)) g.completed(this.table.digests(i));
    else if (this.failure) g.failed(this.failure.error);
    else this.inFlight.set(i, g);
    return g;
  }

  /** File i is verified (or found stored): the table keeps its digests, its GrowingFile is told and forgotten. */
  completed(i: number, digests: Digests): void {
    this.table.complete(i, digests.sha256);
    const g = this.inFlight.get(i);
    this.inFlight.delete(i);
    // downloadFile tells the GrowingFile itself; a file found stored is told here.
    if (g && !g.isComplete) g.completed(digests);
  }

  /** The download failed: every file not complete fails, and so does any asked for later. */
  failAll(error: unknown): void {
    this.failure ??= { error };
    for (const g of this.inFlight.values()) g.failed(error);
    this.inFlight.clear();
  }

  get hasFailed(): boolean {
    return this.failure !== undefined;
  }

  /** GrowingFiles held now (for tests: the files in flight). */
  get growingHeld(): number {
    return this.inFlight.size;
  }
}
