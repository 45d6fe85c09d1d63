// The contract between steps: `download` writes it, `upload`, `register` and `verify` read it.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ExitCode, UserError } from './errors';
import { ManifestShapeError, parseManifest } from './manifest-parse';
import type { FileTable } from './file-table';

export { indexedFiles, type IndexedFiles } from './file-table';

export const MANIFEST_FILE = 'mirror-manifest.json';
export const MANIFEST_SCHEMA_VERSION = 1;

export interface ManifestFile {
  /** Path relative to the download dir, always with forward slashes. */
  readonly path: string;
  readonly size: number;
  /** sha256 of the content (hex). Computed for every file, published by the Hub for LFS files. */
  readonly sha256: string;
  /** Git blob sha1 (hex): the Hub `oid` of non-LFS files. */
  readonly gitBlobSha1?: string;
  readonly lfs: boolean;
}

/**
 * A manifest's files, in order: an array when read from mirror-manifest.json, the download's
 * FileTable (file-table.ts) when it was just made, so a fresh manifest holds no object per file.
 */
export interface ManifestFiles extends Iterable<ManifestFile> {
  readonly length: number;
}

export interface Manifest {
  readonly schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  /** Hub repo id, `org/name`. */
  readonly repo: string;
  /** What the user asked for: branch, tag or sha. */
  readonly requestedRevision: string;
  /** The 40-hex commit the revision resolved to; every file was fetched at this commit. */
  readonly commitSha: string;
  readonly hubUrl: string;
  readonly files: ManifestFiles;
  readonly totalBytes: number;
  readonly fileCount: number;
  readonly createdAt: string;
  /** Hub metadata useful to `register` (pipeline_tag, library_name), when the Hub gave it. */
  readonly pipelineTag?: string;
  readonly libraryName?: string;
}

/** Files serialized per write: the JSON of 20,000 files is never one string (memory flat in the file count). */
const FILES_PER_WRITE = 500;

/**
 * The text of `JSON.stringify(manifest, null, 2) + '\n'`, a slice of the file list at a time, so
 * that writing or hashing it never holds one string of the whole list.
 */
export function* manifestText(manifest: Manifest): Generator<string> {
  if (!manifest.files.length) {
    yield JSON.stringify({ ...manifest, files: [] }, null, 2) + '\n';
    return;
  }
  const [head, tail] = JSON.stringify({ ...manifest, files: [0] }, null, 2).split('\n    0\n');
  yield `${head}\n`;
  const slice: string[] = [];
  let written = 0;
  for (const f of manifest.files) {
    slice.push(`    ${JSON.stringify(f, null, 2).replace(/\n/g, '\n    ')}`);
    written++;
    const last = written === manifest.files.length;
    if (slice.length === FILES_PER_WRITE || last) {
      yield `${slice.join(',\n')}${last ? '' : ','}\n`;
      slice.length = 0;
    }
  }
  yield `${tail}\n`;
}

/**
 * The sha256 of the text writeManifest wrote for a manifest (a manifest is not changed once
 * written). The overlapped upload compares the file on disk with it; making the whole text again
 * just to hash it was the highest point of a 20,000-file transfer's memory (+40 MB in 80 ms).
 */
const writtenSha256 = new WeakMap<Manifest, string>();

/** sha256 (hex) of the file `writeManifest` writes for `manifest` (computed without writing it, unless it was written). */
export function manifestSha256(manifest: Manifest): string {
  const written = writtenSha256.get(manifest);
  if (written) return written;
  const h = createHash('sha256');
  for (const chunk of manifestText(manifest)) h.update(chunk);
  return h.digest('hex');
}

/** Writes `manifestText` to `mirror-manifest.json` in `dir`, atomically. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<string> {
  const file = path.join(dir, MANIFEST_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  const out = await fs.open(tmp, 'w');
  const h = createHash('sha256');
  try {
    for (const chunk of manifestText(manifest)) {
      h.update(chunk);
      await out.write(chunk);
    }
  } finally {
    await out.close();
  }
  await fs.rename(tmp, file); // atomic: a reader never sees half a manifest
  writtenSha256.set(manifest, h.digest('hex'));
  return file;
}

/** A manifest read from its file: the files are a table, each entry made when it is asked for. */
export interface StoredManifest extends Manifest {
  readonly files: FileTable;
}

/** Reads `mirror-manifest.json` from `dirOrFile` (a directory or the file itself). */
export async function readManifest(dirOrFile: string): Promise<StoredManifest> {
  let file = dirOrFile;
  try {
    if ((await fs.stat(dirOrFile)).isDirectory()) file = path.join(dirOrFile, MANIFEST_FILE);
  } catch {
    // fall through: the read below reports the missing path
  }
  let text: Buffer;
  try {
    text = await fs.readFile(file);
  } catch {
    throw new UserError(`No mirror manifest at ${file}`, {
      exitCode: ExitCode.NotFound,
      hint: 'Run `model-mirror download` first; it writes the manifest next to the files.',
    });
  }
  let parsed: StoredManifest;
  try {
    const { head, files } = parseManifest(text);
    parsed = { ...(head as unknown as Manifest), files };
  } catch (e) {
    if (e instanceof ManifestShapeError) {
      throw new UserError(`Mirror manifest ${file} is not a model-mirror manifest (schemaVersion ${MANIFEST_SCHEMA_VERSION}): ${e.message}`, { exitCode: ExitCode.Usage });
    }
    throw new UserError(`Mirror manifest ${file} is not valid JSON: ${(e as Error).message}`, { exitCode: ExitCode.Usage });
  }
  if (parsed.schemaVersion !== MANIFEST_SCHEMA_VERSION || !/^[0-9a-f]{40}$/.test(parsed.commitSha)) {
    throw new UserError(`Mirror manifest ${file} is not a model-mirror manifest (schemaVersion ${MANIFEST_SCHEMA_VERSION})`, { exitCode: ExitCode.Usage });
  }
  return parsed;
}
