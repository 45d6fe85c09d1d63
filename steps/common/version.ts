// Bundled into the image by esbuild, so the version travels with the CLI.
import pkg from '../../package.json';

export const TOOL_VERSION: string = pkg.version;
export const TOOL_NAME = 'model-mirror';
