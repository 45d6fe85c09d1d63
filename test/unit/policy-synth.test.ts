// The config's policy reaches the WorkflowTemplate as a fixed argument of prepare and download,
// and the only thing a submission controls (`policy_narrowing`) is a separate narrowing layer.
import { Testing } from 'cdk8s';
import { validateConfig } from '../../lib/config';
import { buildModelMirror } from '../../lib/model-mirror';
import { readSecretValues } from '../../lib/secret-values';
import { decide, PolicyRefusal } from '../../steps/policy/decide';
import { policyFromArgs } from '../../steps/policy/cli-options';
import { buildPolicy } from '../../steps/policy/policy';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const POLICY = { name: 'corp', publishers: ['Qwen', 'test'], licenses: ['apache-2.0'], allowGated: true };

function template(raw: unknown): Obj {
  const app = Testing.app();
  const result = buildModelMirror(app, { config: validateConfig(raw), secretValues: readSecretValues({}) });
  return result.charts.flatMap((c) => Testing.synth(c)).find((o: Obj) => o.kind === 'WorkflowTemplate');
}

/** A step's args after Argo substitutes `{{inputs.parameters.X}}` with the submitted values. */
function substitute(args: string[], params: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\{\{inputs\.parameters\.([a-z_]+)\}\}/g, (_m, n: string) => params[n] ?? ''));
}

/** The PolicyArgs the CLI reads from a step's argument list. */
function policyArgsOf(args: string[]) {
  const values = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
  return { policy: values('--policy')[0], narrowPolicy: values('--narrow-policy') };
}

describe('policy in the WorkflowTemplate', () => {
  const wt = template({ policy: POLICY });
  const tmpl = (name: string): Obj => wt.spec.templates.find((t: Obj) => t.name === name);

  test.each(['prepare', 'transfer'])('%s gets the config\'s policy as a fixed --policy argument and the parameter as --narrow-policy', (step) => {
    const args: string[] = tmpl(step).container.args;
    const policyArg = args[args.indexOf('--policy') + 1];
    expect(policyArg).not.toMatch(/\{\{/); // no parameter is substituted into the base
    expect(JSON.parse(policyArg)).toEqual(validateConfig({ policy: POLICY }).policy);
    expect(args[args.indexOf('--narrow-policy') + 1]).toBe('{{inputs.parameters.policy_narrowing}}');
    expect(tmpl(step).inputs.parameters.map((p: Obj) => p.name)).toContain('policy_narrowing');
    const mirrorStep = tmpl('mirror').steps.flat().find((s: Obj) => s.name === step);
    expect(mirrorStep.arguments.parameters).toContainEqual({ name: 'policy_narrowing', value: '{{workflow.parameters.policy_narrowing}}' });
  });

  test('the CLI reads the template\'s args as the config\'s policy, with the same hash', () => {
    const args = substitute(tmpl('prepare').container.args, { policy_narrowing: '' });
    const p = policyFromArgs(policyArgsOf(args))!;
    expect(p.hash).toBe(buildPolicy(validateConfig({ policy: POLICY }).policy)!.hash);
    expect(p.name).toBe('corp');
  });

  test('a submission can narrow but not widen', () => {
    const files = [{ path: 'config.json', size: 1, lfs: false, gitBlobSha1: 'a'.repeat(40) }, { path: 'pytorch_model.bin', size: 1, lfs: true, sha256: 'b'.repeat(64) }];
    const run = (narrowing: string, facts: Partial<Parameters<typeof decide>[1]>) => {
      const p = policyFromArgs(policyArgsOf(substitute(tmpl('prepare').container.args, { policy_narrowing: narrowing })))!;
      return () => decide(p, { repo: 'test/m', gated: false, licenses: ['apache-2.0'], files, ...facts });
    };
    // Widening attempts: still refused by the baked-in policy.
    expect(run('{allowPickle: true, publishers: ["*"], licenses: ["*"]}', {})).toThrow(PolicyRefusal);
    expect(run('{publishers: ["*"]}', { repo: 'evil/m', files: files.slice(0, 1) })).toThrow(/rule publishers/);
    // Narrowing: the base allows gated repos, the submission refuses them.
    expect(run('', { gated: 'manual', files: files.slice(0, 1) })).not.toThrow();
    expect(run('{allowGated: false}', { gated: 'manual', files: files.slice(0, 1) })).toThrow(/narrowing layer 1 of policy "corp\+narrowed" refuses test\/m: rule gated/);
  });

  test('without a policy in the config there is no --policy, and the narrowing parameter still works', () => {
    const plain = template({});
    const args: string[] = plain.spec.templates.find((t: Obj) => t.name === 'prepare').container.args;
    expect(args).not.toContain('--policy');
    expect(args).toContain('--narrow-policy');
    expect(policyFromArgs(policyArgsOf(substitute(args, { policy_narrowing: '' })))).toBeUndefined();
  });
});
