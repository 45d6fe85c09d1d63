// For the synth unit tests: build the charts from a raw config + env secrets, as main.ts does,
// and read the objects back.
import { Testing } from 'cdk8s';
import YAML from 'yaml';
import { validateConfig } from '../../lib/config';
import { buildModelMirror, type ModelMirrorResult } from '../../lib/model-mirror';
import { readSecretValues } from '../../lib/secret-values';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = any;

export function synthObjects(rawConfig: unknown = {}, env: NodeJS.ProcessEnv = {}): { objects: Obj[]; yaml: string; result: ModelMirrorResult } {
  const app = Testing.app();
  const result = buildModelMirror(app, { config: validateConfig(rawConfig), secretValues: readSecretValues(env) });
  const objects = result.charts.flatMap((c) => Testing.synth(c));
  return { objects, yaml: objects.map((o) => YAML.stringify(o)).join('---\n'), result };
}

/** The first object of `kind` (and `name`, when given). */
export const find = (objects: Obj[], kind: string, name?: string): Obj | undefined =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
