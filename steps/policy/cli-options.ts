// The policy options of `prepare`, `download` and `mirror`, and the Policy they make.
//
// --policy-file / --policy give the BASE policy (the WorkflowTemplate passes the deployment
// config's policy as a fixed --policy argument that no workflow parameter reaches). Everything
// else (--narrow-policy, --only-*, --refuse-*) appends narrowing layers, which a repo must pass
// on top of the base: they can add restrictions, never remove one (see policy.ts).
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import YAML from 'yaml';
import { ExitCode, UserError } from '../common/errors';
import { parsePatternList } from '../hub/patterns';
import { buildPolicy, type Policy, type PolicyLayer, parsePolicyLayer, PolicyValidationError } from './policy';

export interface PolicyArgs {
  policyFile?: string;
  policy?: string;
  narrowPolicy?: string[];
  onlyPublishers?: string[];
  onlyLicenses?: string[];
  refusePickle?: boolean;
  refuseRemoteCode?: boolean;
  refuseGated?: boolean;
}

export function withPolicyOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('policy-file', { type: 'string', describe: 'Mirroring policy (YAML/JSON: the `policy:` block of the config, or a file holding it). Repos it refuses exit 9 before any download' })
    .option('policy', { type: 'string', describe: 'The same policy given inline as YAML/JSON (what the WorkflowTemplate passes)' })
    .option('narrow-policy', { type: 'string', array: true, describe: 'An extra policy layer (YAML/JSON, e.g. \'{licenses: [apache-2.0]}\') the repo must pass too: it can only add restrictions (repeatable; empty = none)' })
    .option('only-publishers', { type: 'string', array: true, describe: 'Narrowing: only these orgs / org/name globs (comma-separated)' })
    .option('only-licenses', { type: 'string', array: true, describe: 'Narrowing: only these licence ids or globs ("unknown" = no licence stated)' })
    .option('refuse-pickle', { type: 'boolean', describe: 'Narrowing: refuse pickle-only weights and skip pickle duplicates of safetensors' })
    .option('refuse-remote-code', { type: 'boolean', describe: 'Narrowing: refuse repos that need trust_remote_code (*.py + auto_map)' })
    .option('refuse-gated', { type: 'boolean', describe: 'Narrowing: refuse gated repos' }) as Argv<T>;
}

function parseDocument(text: string, source: string): unknown {
  try {
    return YAML.parse(text, { uniqueKeys: true });
  } catch (e) {
    throw new UserError(`${source}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`, { exitCode: ExitCode.Usage });
  }
}

function layer(raw: unknown, source: string, kind: 'base' | 'narrowing'): PolicyLayer {
  // A whole deployment config (or any file with a top-level `policy:` only) holds the policy under that key.
  const doc = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 1 && 'policy' in raw
    ? (raw as { policy: unknown }).policy : raw;
  try {
    return parsePolicyLayer(doc, source, kind);
  } catch (e) {
    if (e instanceof PolicyValidationError) throw new UserError(e.message, { exitCode: ExitCode.Usage });
    throw e;
  }
}

/** The policy the options describe; undefined when none is given (then nothing is checked). */
export function policyFromArgs(args: PolicyArgs): Policy | undefined {
  if (args.policyFile && args.policy) {
    throw new UserError('Give the base policy once: --policy-file or --policy, not both', { exitCode: ExitCode.Usage });
  }
  let base: PolicyLayer | undefined;
  if (args.policyFile) {
    let text: string;
    try {
      text = readFileSync(args.policyFile, 'utf8');
    } catch (e) {
      throw new UserError(`--policy-file ${args.policyFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { exitCode: ExitCode.Usage });
    }
    base = layer(parseDocument(text, `--policy-file ${args.policyFile}`), `--policy-file ${args.policyFile}`, 'base');
  } else if (args.policy?.trim()) {
    base = layer(parseDocument(args.policy, '--policy'), '--policy', 'base');
  }
  const narrowing: PolicyLayer[] = [];
  for (const [i, text] of (args.narrowPolicy ?? []).entries()) {
    if (!text.trim()) continue; // an empty workflow parameter: no narrowing
    narrowing.push(layer(parseDocument(text, `--narrow-policy #${i + 1}`), `--narrow-policy #${i + 1}`, 'narrowing'));
  }
  const flags: Record<string, unknown> = {};
  const publishers = parsePatternList(args.onlyPublishers);
  const licenses = parsePatternList(args.onlyLicenses);
  if (publishers.length) flags.publishers = publishers;
  if (licenses.length) flags.licenses = licenses;
  if (args.refusePickle) Object.assign(flags, { allowPickle: false, keepPickleDuplicates: false });
  if (args.refuseRemoteCode) flags.allowRemoteCode = false;
  if (args.refuseGated) flags.allowGated = false;
  if (Object.keys(flags).length) narrowing.push(layer(flags, 'the --only-*/--refuse-* options', 'narrowing'));
  return buildPolicy(base, narrowing);
}
