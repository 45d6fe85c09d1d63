// Weight formats by file name. Pickle-based weights run code when loaded; safetensors, GGUF and
// ONNX do not (../shared/notes/hub-and-serving.md, "Supply-chain practice").

export type WeightFormat = 'safetensors' | 'gguf' | 'onnx' | 'keras' | 'pickle';

/** `*.bin`, `*.pt`, `*.pth`, `*.ckpt`, `*.pkl` (and `*.pickle`, `*.joblib`): unpickled on load. */
const PICKLE = /\.(bin|pt|pth|ckpt|pkl|pickle|joblib)$/i;
const FORMATS: ReadonlyArray<[WeightFormat, RegExp]> = [
  ['safetensors', /\.safetensors$/i],
  ['gguf', /\.gguf$/i],
  ['onnx', /\.onnx$/i],
  ['keras', /\.(h5|keras)$/i],
  ['pickle', PICKLE],
];

export function weightFormatOf(path: string): WeightFormat | undefined {
  return FORMATS.find(([, re]) => re.test(path))?.[0];
}

export function isPickle(path: string): boolean {
  return PICKLE.test(path);
}

/** The weight formats among `paths`, sorted (`["pickle", "safetensors"]`). */
export function weightFormats(paths: readonly string[]): WeightFormat[] {
  return [...new Set(paths.map(weightFormatOf).filter((f): f is WeightFormat => !!f))].sort();
}
