// Where each file of a mirrored Hub repo goes inside the MLflow model directory. This is the
// contract between `upload` (which writes the bytes), `register` (which adds the MLflow files and
// the tokenizer component) and `verify` (which checks them):
//
//   <run artifact_uri>/model/                      <- the MLflow model (artifact_path "model")
//     MLmodel, requirements.txt, python_env.yaml,  <- written by `register`
//     conda.yaml
//     mirror-manifest.json                         <- written by `upload`, last
//     model/<path>                                 <- the complete Hub snapshot, every selected file
//                                                     (flavor `model_binary: model`): config, weights,
//                                                     tokenizer, generation config, chat template.
//                                                     Serving runtimes (KServe huggingface, vLLM,
//                                                     from_pretrained) read this one directory.
//     components/tokenizer/<path>                  <- a server-side copy (CopyObject) of the tokenizer
//                                                     files, made by `register`, for mlflow.transformers
//                                                     (flavor `components: [tokenizer]`)
//
// mlflow.transformers loads the model with `<pipeline_model_type>.from_pretrained(<model dir>/model)`
// and the tokenizer with `<tokenizer_type>.from_pretrained(<model dir>/components/tokenizer)`.
// Only the tokenizer files are stored twice (a few MB at most; see tokenizerBytes).
import type { Manifest } from '../common/manifest';

/** The MLflow model's directory under the run's artifact root. */
export const MODEL_ARTIFACT_PATH = 'model';
/** flavors.transformers.model_binary */
export const MODEL_BINARY_DIR = 'model';
/** mlflow.transformers' components directory + component name. */
export const TOKENIZER_DIR = 'components/tokenizer';
export const MLMODEL_FILE = 'MLmodel';
/** Files `register` writes next to the MLmodel (relative to the model directory). */
export const REGISTER_FILES = ['MLmodel', 'requirements.txt', 'python_env.yaml', 'conda.yaml'] as const;
/** Written by `upload` at `<dest>/mirror-manifest.json` after every file it lists. */
export const UPLOADED_MANIFEST = 'mirror-manifest.json';
/** Everything besides the manifest's files that `verify` expects in the model directory. */
export const METADATA_FILES = [...REGISTER_FILES, UPLOADED_MANIFEST] as const;

const TOKENIZER_TOP_LEVEL = new Set([
  'special_tokens_map.json',
  'added_tokens.json',
  'merges.txt',
  'chat_template.jinja',
  'chat_template.json',
  'spiece.model',
  'sentencepiece.bpe.model',
  'spm.model',
]);

/**
 * True for the files a transformers tokenizer loads: tokenizer.json, tokenizer_config.json,
 * tokenizer.model*, special_tokens_map.json, added_tokens.json, vocab.*, merges.txt, top-level
 * sentencepiece `*.model`, chat templates (incl. additional_chat_templates/), and remote-code
 * `tokenization_*.py`. Only at the repo root (tokenizers in subfolders are not the model's).
 */
export function isTokenizerFile(manifestPath: string): boolean {
  const p = keyRelativePath(manifestPath);
  if (p.startsWith('additional_chat_templates/')) return true;
  if (p.includes('/')) return false;
  if (TOKENIZER_TOP_LEVEL.has(p)) return true;
  if (/^tokenizer([._-].*)?$/.test(p) && p !== 'tokenizer') return true; // tokenizer.json, tokenizer_config.json, tokenizer.model, tokenizer.model.v3
  if (/^vocab\.[\w.]+$/.test(p)) return true; // vocab.json, vocab.txt
  if (/^tokenization_[\w]+\.py$/.test(p)) return true;
  if (/\.model$/.test(p) && !/\.(safetensors|bin|pt|pth|onnx|gguf|h5|msgpack)/.test(p)) return true; // sentencepiece
  return false;
}

/** A manifest path without a leading `./` or `/`: the part every key of that file ends with. */
export function keyRelativePath(manifestPath: string): string {
  return manifestPath.replace(/^\.?\/+/, '');
}

/**
 * Key of a downloaded file relative to the MLflow model directory (`<artifact_uri>/model/`):
 * always `model/<path>`. `upload` writes manifest file `p` to `<dest>/<artifactKeyFor(p)>` where
 * dest = prepare's `s3_destination`.
 */
export function artifactKeyFor(manifestPath: string): string {
  return `${MODEL_BINARY_DIR}/${keyRelativePath(manifestPath)}`;
}

/** Key of a tokenizer file's copy in mlflow.transformers' tokenizer component. */
export function componentKeyFor(manifestPath: string): string {
  return `${TOKENIZER_DIR}/${keyRelativePath(manifestPath)}`;
}

export interface LayoutEntry {
  /** Path in the manifest / download dir. */
  readonly path: string;
  /** Key relative to the MLflow model directory. */
  readonly key: string;
  readonly size: number;
  /** For the component copies: the key (relative to the model directory) they are copied from. */
  readonly copyOf?: string;
}

export interface TransformersLayout {
  /** Every object of the model's files: the snapshot under model/, then the tokenizer copies. */
  readonly entries: readonly LayoutEntry[];
  /** The tokenizer component's entries (server-side copies of model/<path>). */
  readonly componentCopies: readonly LayoutEntry[];
  readonly hasTokenizer: boolean;
  /** Bytes of the Hub snapshot (each file once). */
  readonly modelBytes: number;
  /** Bytes stored twice: the tokenizer files, in model/ and in components/tokenizer/. */
  readonly tokenizerBytes: number;
}

/**
 * A sentencepiece model among the tokenizer files and no tokenizer.json: the slow tokenizer is
 * what loads, and it needs the `sentencepiece` package (requirements.txt).
 */
export function needsSentencepiece(manifest: Pick<Manifest, 'files'>): boolean {
  let sentencepiece = false;
  for (const f of manifest.files) {
    if (f.path === 'tokenizer.json') return false;
    sentencepiece ||= /\.model$/.test(f.path) && isTokenizerFile(f.path);
  }
  return sentencepiece;
}

/** Bytes of the snapshot's files (the manifest's sizes). */
export function snapshotBytes(manifest: Pick<Manifest, 'files'>): number {
  let n = 0;
  for (const f of manifest.files) n += f.size;
  return n;
}

/** The manifest lists `manifestPath`. */
export function hasFile(manifest: Pick<Manifest, 'files'>, manifestPath: string): boolean {
  for (const f of manifest.files) if (f.path === manifestPath) return true;
  return false;
}

/** The tokenizer component's entries only (a few files), without an entry per snapshot file. */
export function tokenizerCopies(manifest: Pick<Manifest, 'files'>): LayoutEntry[] {
  const copies: LayoutEntry[] = [];
  for (const f of manifest.files) {
    if (isTokenizerFile(f.path)) copies.push({ path: f.path, key: componentKeyFor(f.path), size: f.size, copyOf: artifactKeyFor(f.path) });
  }
  return copies;
}

export function layoutForTransformers(manifest: Pick<Manifest, 'files'>): TransformersLayout {
  const snapshot: LayoutEntry[] = Array.from(manifest.files, (f) => ({ path: f.path, key: artifactKeyFor(f.path), size: f.size }));
  const componentCopies = tokenizerCopies(manifest);
  return {
    entries: [...snapshot, ...componentCopies],
    componentCopies,
    hasTokenizer: componentCopies.length > 0,
    modelBytes: snapshot.reduce((s, e) => s + e.size, 0),
    tokenizerBytes: componentCopies.reduce((s, e) => s + e.size, 0),
  };
}
