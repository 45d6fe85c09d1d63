// The local Argo runner (test/argo-runner) against a hand-written WorkflowTemplate whose
// containers run a fake CLI (test/argo-runner/fixtures/fake-cli.js, copied to a temp dir).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  UnresolvedVariableError,
  UnsupportedArgoConstructError,
  evaluateExpression,
  evaluateWhen,
  podNameFor,
  runWorkflowTemplate,
  type RunOptions,
  type RunResult,
  type StepInfo,
} from '../argo-runner';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

let tmp: string;
let bundle: string;
let journal: string;
let stateDir: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'argo-runner-test-'));
  bundle = path.join(tmp, 'bin', 'fake-cli.js');
  fs.mkdirSync(path.dirname(bundle));
  fs.copyFileSync(path.join(__dirname, '..', 'argo-runner', 'fixtures', 'fake-cli.js'), bundle);
  journal = path.join(tmp, 'journal.jsonl');
  stateDir = path.join(tmp, 'state');
  fs.mkdirSync(stateDir);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], extra: Obj = {}): Obj => ({
  image: 'model-mirror:test', imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '100m' } },
  securityContext: { runAsNonRoot: true }, command: ['model-mirror'], args, ...extra,
});

/** A template shaped like model-mirror's: prepare -> download (retried) -> [upload, maybe-skip], onExit notify. */
function template(): Obj {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: { name: 'mirror', labels: { app: 'model-mirror' } },
    spec: {
      entrypoint: 'main',
      onExit: 'notify',
      serviceAccountName: 'model-mirror',
      podGC: { strategy: 'OnPodSuccess' },
      ttlStrategy: { secondsAfterCompletion: 3600 },
      volumeClaimGC: { strategy: 'OnWorkflowCompletion' },
      securityContext: { runAsUser: 65532, fsGroup: 65532 },
      arguments: {
        parameters: [
          { name: 'model_id' },
          { name: 'revision', value: 'main' },
          { name: 'mode', value: 'fast', enum: ['fast', 'full'] },
          { name: 'download_failures', value: '0' },
        ],
      },
      volumeClaimTemplates: [{ metadata: { name: 'work' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      volumes: [
        { name: 'hf-token', secret: { secretName: 'hf', items: [{ key: 'token', path: 'token' }] } },
        { name: 'scratch', emptyDir: {} },
      ],
      templates: [
        {
          name: 'main',
          steps: [
            [{ name: 'prepare', template: 'prepare', arguments: { parameters: [{ name: 'model_id', value: '{{workflow.parameters.model_id}}' }] } }],
            [{
              name: 'download', template: 'download',
              arguments: { parameters: [
                { name: 'revision', value: '{{steps.prepare.outputs.parameters.revision}}' },
                { name: 'failures', value: '{{workflow.parameters.download_failures}}' },
              ] },
            }],
            [
              { name: 'upload', template: 'upload' },
              { name: 'full-only', template: 'upload', when: "'{{workflow.parameters.mode}}' == 'full'" },
            ],
          ],
        },
        {
          name: 'prepare',
          inputs: { parameters: [{ name: 'model_id' }, { name: 'note', default: 'wf={{workflow.name}}' }] },
          outputs: { parameters: [
            { name: 'revision', valueFrom: { path: '/tmp/outputs/revision' } },
            { name: 'skip', valueFrom: { path: '/tmp/outputs/skip', default: 'false' } },
          ] },
          container: cli([
            'prepare', '--model={{inputs.parameters.model_id}}', '--note={{inputs.parameters.note}}',
            '--write=/tmp/outputs/revision={{workflow.parameters.revision}}-resolved\n',
            '--write=/data/prepared.txt=prepared {{inputs.parameters.model_id}} by {{pod.name}}',
          ], { volumeMounts: [{ name: 'work', mountPath: '/data' }] }),
        },
        {
          name: 'download',
          inputs: { parameters: [{ name: 'revision' }, { name: 'failures' }] },
          retryStrategy: { limit: '2', retryPolicy: 'OnFailure', backoff: { duration: '10s', factor: 2, cap: '15s' } },
          container: cli([
            'download', '--revision={{inputs.parameters.revision}}', '--attempt={{retries}}',
            '--fail-times={{inputs.parameters.failures}}', '--exit-code=5',
            '--read=/data/prepared.txt', '--read=/secrets/hf/token', '--print-env=HF_TOKEN', '--print-env=MODE',
            '--write=/data/downloaded/file.bin=bytes', '--write=/scratch/tmp.txt=scratch',
          ], {
            env: [
              { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
              { name: 'OPTIONAL', valueFrom: { secretKeyRef: { name: 'absent', key: 'x', optional: true } } },
              { name: 'MODE', value: '{{workflow.parameters.mode}}' },
              { name: 'DATA_DIR', value: '/data/downloaded' },
            ],
            volumeMounts: [
              { name: 'work', mountPath: '/data' },
              { name: 'hf-token', mountPath: '/secrets/hf', readOnly: true },
              { name: 'scratch', mountPath: '/scratch' },
            ],
          }),
        },
        {
          name: 'upload',
          container: cli(['upload', '--read=/data/downloaded/file.bin'], { volumeMounts: [{ name: 'work', mountPath: '/data' }] }),
        },
        {
          name: 'notify',
          container: cli(['finalize', '--status={{workflow.status}}', '--failures={{workflow.failures}}', '--wf={{workflow.name}}']),
        },
      ],
    },
  };
}

const run = (wft: Obj, opts: Partial<RunOptions> = {}): Promise<RunResult> =>
  runWorkflowTemplate(wft, {
    bundle,
    parameters: { model_id: 'org/model' },
    secrets: { hf: { token: 'hf_secret_token' } },
    env: { FAKE_JOURNAL: journal, FAKE_STATE_DIR: stateDir },
    workDir: path.join(tmp, 'work'),
    reportFailures: false,
    timeoutMs: 60_000,
    ...opts,
  });

const journalLines = (): { cmd: string; args: string[]; cwd: string }[] =>
  fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
const argOf = (args: readonly string[], flag: string) => args.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);
const node = (r: RunResult, name: string) => {
  const n = r.nodes.find((x) => x.displayName === name);
  if (!n) throw new Error(`no node ${name} in ${r.nodes.map((x) => x.displayName).join(', ')}`);
  return n;
};

describe('runWorkflowTemplate: a successful run', () => {
  it('runs steps in group order, passes outputs on, rewrites mount paths and runs the exit handler', async () => {
    const r = await run(template(), { workflowName: 'mirror-abcde' });
    expect(r.status).toBe('Succeeded');

    // order: groups sequential; notify last
    expect(journalLines().map((l) => l.cmd)).toEqual(['prepare', 'download', 'upload', 'finalize']);
    expect(r.nodes.map((n) => [n.displayName, n.phase])).toEqual([
      ['prepare', 'Succeeded'], ['download', 'Succeeded'], ['upload', 'Succeeded'], ['full-only', 'Skipped'],
    ]);

    // parameters: default `revision`, input default with a workflow variable
    const prep = node(r, 'prepare');
    expect(prep.outputs).toEqual({ revision: 'main-resolved', skip: 'false' }); // one trailing \n trimmed; default used
    expect(argOf(prep.attempts[0].args, 'note')).toBe('wf=mirror-abcde');
    expect(argOf(prep.attempts[0].args, 'model')).toBe('org/model');

    // outputs -> next step's arguments
    const dl = node(r, 'download');
    expect(dl.inputs).toEqual({ revision: 'main-resolved', failures: '0' });
    expect(argOf(dl.attempts[0].args, 'revision')).toBe('main-resolved');

    // volumes: the claim is shared and materialized on the host; mount paths rewritten
    const pvc = r.volumes.work;
    expect(fs.readFileSync(path.join(pvc, 'prepared.txt'), 'utf8')).toBe(`prepared org/model by ${podNameFor('mirror-abcde', 'mirror-abcde[0].prepare', 'prepare')}`);
    expect(fs.readFileSync(path.join(pvc, 'downloaded', 'file.bin'), 'utf8')).toBe('bytes');
    expect(dl.attempts[0].args.some((a) => a.includes('/data/') && !a.includes(pvc))).toBe(false);
    expect(dl.stdout).toContain(`read ${path.join(pvc, 'prepared.txt')}=prepared org/model`);
    expect(node(r, 'upload').stdout).toContain('=bytes');
    // secret volume files and secretKeyRef env; optional missing secret skipped
    expect(dl.stdout).toMatch(/read \S+\/volumes\/hf-token\/token=hf_secret_token/);
    expect(dl.stdout).toContain('env HF_TOKEN=hf_secret_token');
    expect(dl.stdout).toContain('env MODE=fast');
    // emptyDir is per pod: the scratch write lands under the download pod's dir, not the claim
    expect(fs.existsSync(path.join(pvc, 'tmp.txt'))).toBe(false);

    // exit handler: status and Argo's double-encoded failures ("null" when nothing failed)
    const ex = r.exitHandler!;
    expect(ex.phase).toBe('Succeeded');
    expect(ex.workflowStatus).toBe('Succeeded');
    expect(ex.workflowFailures).toBe('"null"');
    const fin = ex.nodes[0];
    expect(argOf(fin.attempts[0].args, 'status')).toBe('Succeeded');
    expect(JSON.parse(JSON.parse(argOf(fin.attempts[0].args, 'failures')!))).toBeNull();
    expect(argOf(fin.attempts[0].args, 'wf')).toBe('mirror-abcde');
    // the image WORKDIR (/work) is a per-pod directory, not the host's /work
    expect(fin.attempts[0].cwd).toContain(path.join(tmp, 'work', 'pods'));
  });

  it('runs a `when` step whose condition holds, and evaluates bare words like Argo', async () => {
    const r = await run(template(), { parameters: { model_id: 'org/model', mode: 'full' } });
    expect(node(r, 'full-only').phase).toBe('Succeeded');
    expect(journalLines().filter((l) => l.cmd === 'upload')).toHaveLength(2);
  });
});

describe('runWorkflowTemplate: workflow parameters', () => {
  it('rejects a missing required parameter', async () => {
    await expect(run(template(), { parameters: {} })).rejects.toThrow(/spec\.arguments\.parameters\.model_id\.value is required/);
    expect(journalLines()).toEqual([]);
  });
  it('rejects a value outside the enum', async () => {
    await expect(run(template(), { parameters: { model_id: 'a/b', mode: 'turbo' } })).rejects.toThrow(/"turbo" for parameter mode is not in enum/);
  });
  it('rejects an undeclared parameter', async () => {
    await expect(run(template(), { parameters: { model_id: 'a/b', modle: 'x' } })).rejects.toThrow(/parameter modle is not declared/);
  });
});

describe('runWorkflowTemplate: retries', () => {
  it('retries a failing step and succeeds within the limit; {{retries}} counts attempts', async () => {
    const r = await run(template(), { parameters: { model_id: 'org/model', download_failures: '2' } });
    expect(r.status).toBe('Succeeded');
    const dl = node(r, 'download');
    expect(dl.attempts.map((a) => [a.attempt, a.phase, a.exitCode])).toEqual([[0, 'Failed', 5], [1, 'Failed', 5], [2, 'Succeeded', 0]]);
    expect(dl.attempts.map((a) => argOf(a.args, 'attempt'))).toEqual(['0', '1', '2']);
    expect(dl.attempts[0].message).toBe('Error (exit code 5)');
    // backoff computed like Argo (duration * factor^n, capped) but not slept
    expect(dl.attempts.map((a) => a.backoffMs)).toEqual([10_000, 15_000, undefined]);
    expect(new Set(dl.attempts.map((a) => a.podName)).size).toBe(3);
  });

  it('gives up after limit+1 attempts; later steps do not run; onExit sees Failed and the failures', async () => {
    const r = await run(template(), { parameters: { model_id: 'org/model', download_failures: '9' }, workflowName: 'mirror-fails' });
    expect(r.status).toBe('Failed');
    const dl = node(r, 'download');
    expect(dl.phase).toBe('Failed');
    expect(dl.message).toBe('No more retries left');
    expect(dl.attempts).toHaveLength(3);
    expect(r.nodes.map((n) => n.displayName)).toEqual(['prepare', 'download']);
    expect(journalLines().map((l) => l.cmd)).toEqual(['prepare', 'download', 'download', 'download', 'finalize']);

    const ex = r.exitHandler!;
    expect(ex.workflowStatus).toBe('Failed');
    const failures = JSON.parse(JSON.parse(argOf(ex.nodes[0].attempts[0].args, 'failures')!));
    expect(failures).toEqual(r.failures);
    const byName = Object.fromEntries(failures.map((f: Obj) => [f.displayName, f]));
    expect(Object.keys(byName).sort()).toEqual(['[1]', 'download', 'download(0)', 'download(1)', 'download(2)', 'mirror-fails'].sort());
    expect(byName['download(2)']).toMatchObject({ templateName: 'download', phase: 'Failed', message: 'Error (exit code 5)', podName: podNameFor('mirror-fails', 'mirror-fails[1].download(2)', 'download') });
    expect(byName.download.message).toBe('No more retries left');
    expect(byName['mirror-fails'].message).toMatch(/^child 'mirror-fails-\d+' failed$/);
    expect(Object.keys(failures[0])).toEqual(['displayName', 'message', 'templateName', 'phase', 'podName', 'finishedAt']);
  });

  it('honours retryPolicy: OnError does not retry a non-zero exit but retries an infrastructure error', async () => {
    const wft = template();
    wft.spec.templates[2].retryStrategy = { limit: 3, retryPolicy: 'OnError' };
    const failed = await run(wft, { parameters: { model_id: 'o/m', download_failures: '1' } });
    expect(node(failed, 'download').attempts).toHaveLength(1);
    expect(failed.status).toBe('Failed');

    fs.rmSync(journal, { force: true });
    const seen: StepInfo[] = [];
    const errored = await run(wft, {
      onStep: (s) => {
        seen.push(s);
        return s.step === 'download' && s.attempt < 2 ? { kind: 'error', message: 'pod deleted' } : undefined;
      },
    });
    expect(errored.status).toBe('Succeeded');
    expect(node(errored, 'download').attempts.map((a) => a.phase)).toEqual(['Error', 'Error', 'Succeeded']);
    expect(seen.filter((s) => s.step === 'download').map((s) => s.attempt)).toEqual([0, 1, 2]);
  });

  it('evaluates retryStrategy.expression after the policy and limit, with lastRetry.exitCode as a string', async () => {
    const wft = template();
    wft.spec.templates[2].retryStrategy = { limit: 3, retryPolicy: 'Always', expression: '!(lastRetry.exitCode in ["2", "5"])', backoff: { duration: '10s' } };
    const stopped = await run(wft, { parameters: { model_id: 'o/m', download_failures: '1' } });
    expect(stopped.status).toBe('Failed');
    expect(node(stopped, 'download').attempts.map((a) => a.exitCode)).toEqual([5]);
    expect(node(stopped, 'download').message).toBe('retryStrategy.expression evaluated to false');
    // As the real controller (seen on v4.0.5 and v3.7.18): the backoff is waited out before the
    // expression ends the retries.
    expect(node(stopped, 'download').attempts[0].backoffMs).toBe(10_000);
    delete wft.spec.templates[2].retryStrategy.backoff;

    fs.rmSync(journal, { force: true });
    wft.spec.templates[2].retryStrategy.expression = 'lastRetry.exitCode not in ["2", "3"] && lastRetry.status == "Failed"';
    // The fake CLI's failure counter lives on across runs: this run's download is its 2nd.
    const retried = await run(wft, { parameters: { model_id: 'o/m', download_failures: '2' } });
    expect(retried.status).toBe('Succeeded');
    expect(node(retried, 'download').attempts.map((a) => a.exitCode)).toEqual([5, 0]);

    // A pod that errored without an exit code (deleted, evicted) reports "-1".
    fs.rmSync(journal, { force: true });
    wft.spec.templates[2].retryStrategy.expression = 'lastRetry.exitCode == "-1"';
    const errored = await run(wft, {
      onStep: (s) => (s.step === 'download' && s.attempt === 0 ? { kind: 'error', message: 'pod deleted' } : undefined),
    });
    expect(node(errored, 'download').attempts.map((a) => a.phase)).toEqual(['Error', 'Succeeded']);
  });

  it('kills a running step on request (exit 137) and retries it', async () => {
    const wft = template();
    wft.spec.templates[2].container.args.push('--sleep-first-ms=30000');
    const t0 = Date.now();
    const r = await run(wft, {
      // A retry never sleeps: on a slow box the kill can land before attempt 0 reached its sleep.
      onStep: (s) => (s.step === 'download' && s.attempt === 0 ? { kind: 'kill', afterMs: 300 } : { kind: 'env', env: { EXTRA: `attempt-${s.attempt}`, FAKE_SKIP_SLEEP_FIRST: '1' } }),
    });
    // Well under the 30 s sleep: the kill cut attempt 0 short.
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.status).toBe('Succeeded');
    const dl = node(r, 'download');
    expect(dl.attempts.map((a) => [a.phase, a.exitCode, a.signal, a.message])).toEqual([
      ['Failed', 137, 'SIGKILL', 'Error (exit code 137)'],
      ['Succeeded', 0, undefined, undefined],
    ]);
  });
  it('kills a running step when the `until` promise of a kill fault settles (event-driven, before afterMs)', async () => {
    const wft = template();
    wft.spec.templates[2].container.args.push('--sleep-first-ms=30000');
    // The event: the fake CLI has written its "slept once" marker, i.e. it is inside its long sleep.
    const marker = path.join(stateDir, 'slept-download');
    const tripped = new Promise<void>((res) => {
      const poll = setInterval(() => { if (fs.existsSync(marker)) { clearInterval(poll); res(); } }, 20);
    });
    const t0 = Date.now();
    const r = await run(wft, {
      onStep: (s) => (s.step === 'download' && s.attempt === 0 ? { kind: 'kill', afterMs: 600_000, until: tripped } : undefined),
    });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.status).toBe('Succeeded');
    expect(node(r, 'download').attempts.map((a) => [a.phase, a.exitCode, a.signal])).toEqual([
      ['Failed', 137, 'SIGKILL'],
      ['Succeeded', 0, undefined],
    ]);
  });
});

describe('runWorkflowTemplate: global outputs and expression tags', () => {
  const withGlobal = () => {
    const wft = template();
    wft.spec.templates[1].outputs.parameters.push({ name: 'run_id', globalName: 'run_id', valueFrom: { path: '/tmp/outputs/run_id' } });
    wft.spec.templates[1].container.args.push('--write=/tmp/outputs/run_id=run-123');
    wft.spec.templates[4].container.args.push('--run={{workflow.outputs.parameters.run_id}}');
    return wft;
  };
  it('publishes a globalName output to workflow.outputs.parameters', async () => {
    const r = await run(withGlobal());
    expect(argOf(r.exitHandler!.nodes[0].attempts[0].args, 'run')).toBe('run-123');
  });
  it('leaves workflow.outputs.parameters.<globalName> literal when nothing set it (as Argo does)', async () => {
    const r = await run(withGlobal(), { onStep: (s) => (s.step === 'prepare' ? { kind: 'fail', exitCode: 4 } : undefined) });
    expect(r.status).toBe('Failed');
    expect(argOf(r.exitHandler!.nodes[0].attempts[0].args, 'run')).toBe('{{workflow.outputs.parameters.run_id}}');
  });
  it('still rejects workflow.outputs.parameters.<x> when no output declares globalName x', async () => {
    const wft = withGlobal();
    wft.spec.templates[4].container.args.push('--other={{workflow.outputs.parameters.run_idd}}');
    await expect(run(wft)).rejects.toThrow(UnresolvedVariableError);
  });
  it('evaluates expression tags in step arguments', async () => {
    const wft = template();
    wft.spec.arguments.parameters.push({ name: 'model_name', value: '' });
    wft.spec.templates[0].steps[0][0].arguments.parameters[0].value =
      "{{=workflow.parameters.model_name != '' ? workflow.parameters.model_name : sprig.replace('/', '--', workflow.parameters.model_id)}}";
    const r1 = await run(wft);
    expect(node(r1, 'prepare').inputs.model_id).toBe('org--model');
    const r2 = await run(wft, { parameters: { model_id: 'org/model', model_name: 'mine' }, workDir: path.join(tmp, 'work2') });
    expect(node(r2, 'prepare').inputs.model_id).toBe('mine');
  });
});

describe('runWorkflowTemplate: failures and deadlines', () => {
  it('marks a step Error when a declared output file is missing and has no default', async () => {
    const wft = template();
    wft.spec.templates[1].container.args = wft.spec.templates[1].container.args.filter((a: string) => !a.includes('/tmp/outputs/revision'));
    const r = await run(wft);
    expect(node(r, 'prepare')).toMatchObject({ phase: 'Error', message: 'open /tmp/outputs/revision: no such file or directory' });
    // steps.go marks the step group and the steps node Failed whatever the child's phase
    expect(r.status).toBe('Failed');
    expect(r.failures.find((f) => f.displayName === 'prepare')).toMatchObject({ phase: 'Error' });
    expect(r.exitHandler!.workflowStatus).toBe('Failed');
  });

  it('enforces spec.activeDeadlineSeconds but still runs the exit handler', async () => {
    const wft = template();
    wft.spec.activeDeadlineSeconds = 1;
    wft.spec.templates[1].container.args.push('--sleep-ms=20000');
    const t0 = Date.now();
    const r = await run(wft);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.status).toBe('Failed');
    expect(node(r, 'prepare')).toMatchObject({ phase: 'Failed', message: 'Pod was active on the node longer than the specified deadline' });
    expect(r.exitHandler).toMatchObject({ phase: 'Succeeded', workflowStatus: 'Failed' });
  });

  it('a failing exit handler fails an otherwise successful workflow', async () => {
    const wft = template();
    wft.spec.templates[4].container.args.push('--exit=3');
    const r = await run(wft);
    expect(r.entrypointPhase).toBe('Succeeded');
    expect(r.status).toBe('Failed');
  });
});

describe('runWorkflowTemplate: loud rejection of what it does not emulate', () => {
  const cases: [string, (w: Obj) => void, RegExp][] = [
    ['a dag template', (w) => w.spec.templates.push({ name: 'd', dag: { tasks: [] } }), /Unsupported Argo construct: \$\.spec\.templates\[5\]\.dag/],
    ['a script template', (w) => w.spec.templates.push({ name: 's', script: { image: 'x', source: 'echo' } }), /Unsupported Argo construct: \$\.spec\.templates\[5\]\.script/],
    ['withItems', (w) => { w.spec.templates[0].steps[2][0].withItems = [1, 2]; }, /Unsupported Argo construct: \$\.spec\.templates\[0\]\.steps\[2\]\[0\]\.withItems/],
    ['output artifacts', (w) => { w.spec.templates[1].outputs.artifacts = [{ name: 'a', path: '/a' }]; }, /Unsupported Argo construct: \$\.spec\.templates\[1\]\.outputs\.artifacts/],
    ['templateDefaults', (w) => { w.spec.templateDefaults = { timeout: '1m' }; }, /Unsupported Argo construct: \$\.spec\.templateDefaults/],
    ['a retry expression that is not a boolean', (w) => { w.spec.templates[2].retryStrategy.expression = 'lastRetry.exitCode'; }, /retryStrategy\.expression/],
    ['retryPolicy OnTransientError', (w) => { w.spec.templates[2].retryStrategy.retryPolicy = 'OnTransientError'; }, /retryPolicy "OnTransientError"/],
    ['a retryStrategy without limit', (w) => { delete w.spec.templates[2].retryStrategy.limit; }, /retryStrategy requires limit/],
    ['a fieldRef env', (w) => { w.spec.templates[2].container.env.push({ name: 'P', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }); }, /env\[4\]\.valueFrom\.fieldRef/],
    ['a hostPath volume', (w) => { w.spec.volumes.push({ name: 'h', hostPath: { path: '/' } }); }, /volumes\[2\]\.hostPath/],
  ];
  it.each(cases)('rejects %s before running anything', async (_name, mutate, re) => {
    const wft = template();
    mutate(wft);
    const p = run(wft);
    await expect(p).rejects.toThrow(UnsupportedArgoConstructError);
    await expect(p).rejects.toThrow(re);
    expect(journalLines()).toEqual([]);
  });

  it('rejects a shell command (the image has no shell)', async () => {
    const wft = template();
    wft.spec.templates[1].container.command = ['sh', '-c'];
    await expect(run(wft)).rejects.toThrow(/container\.command.*no shell/);
  });

  it('rejects an unresolved variable', async () => {
    const wft = template();
    wft.spec.templates[3].container.args.push('--x={{inputs.parameters.nope}}');
    const p = run(wft);
    await expect(p).rejects.toThrow(UnresolvedVariableError);
    await expect(p).rejects.toThrow(/Unresolved Argo variable \{\{inputs\.parameters\.nope\}\} at templates\[upload\]\.container\.args\[2\]/);
  });

  it('rejects a step output reference to a step that does not produce it', async () => {
    const wft = template();
    wft.spec.templates[0].steps[1][0].arguments.parameters[0].value = '{{steps.prepare.outputs.parameters.revison}}';
    await expect(run(wft)).rejects.toThrow(/Unresolved Argo variable \{\{steps\.prepare\.outputs\.parameters\.revison\}\}/);
  });

  it('rejects a step argument the template does not declare', async () => {
    const wft = template();
    wft.spec.templates[0].steps[2][0].arguments = { parameters: [{ name: 'extra', value: 'x' }] };
    await expect(run(wft)).rejects.toThrow(/argument extra is not an input of template upload/);
  });

  it('rejects a missing secret (the pod would never start)', async () => {
    await expect(run(template(), { secrets: {} })).rejects.toThrow(/secret hf not provided/);
  });
});

describe('helpers', () => {
  it('evaluateWhen follows govaluate with bare words as strings', () => {
    expect(evaluateWhen('Succeeded == Succeeded', 'w')).toBe(true);
    expect(evaluateWhen("'a' != 'b' && (true || false)", 'w')).toBe(true);
    expect(evaluateWhen('Failed == Succeeded', 'w')).toBe(false);
    expect(evaluateWhen('1 == 1', 'w')).toBe(true);
    expect(() => evaluateWhen('org/model == x', 'w')).toThrow(/quote values/);
    expect(() => evaluateWhen("'a' =~ 'b'", 'w')).toThrow(/=~ is not supported/);
    expect(() => evaluateWhen("'a'", 'w')).toThrow(/not a boolean/);
  });
  it('evaluateExpression covers the expr-lang subset and rejects the rest', () => {
    const scope = { 'workflow.parameters.a': 'x/y', 'inputs.parameters.n': '41' };
    expect(evaluateExpression("sprig.replace('/', '--', workflow.parameters.a)", scope, 'e')).toBe('x--y');
    expect(evaluateExpression('asInt(inputs.parameters.n) + 1', scope, 'e')).toBe(42);
    expect(evaluateExpression("workflow.parameters.a == 'x/y' && !false ? 'yes' : 'no'", scope, 'e')).toBe('yes');
    expect(() => evaluateExpression("sprig.sha256sum('a')", scope, 'e')).toThrow(/function sprig.sha256sum is not supported/);
    expect(() => evaluateExpression('workflow.parameters.b', scope, 'e')).toThrow(UnresolvedVariableError);
    expect(() => evaluateExpression("1 < 2", scope, 'e')).toThrow(UnsupportedArgoConstructError);
  });
  it('podNameFor is Argo v2 pod naming (fnv-1a 32 of the node name)', () => {
    expect(podNameFor('wf', 'a', 't')).toBe('wf-t-3826002220'); // fnv1a32("a") = 0xe40c292c
    expect(podNameFor('wf', 'wf', 'main')).toBe('wf');
  });
});
