// Executes a WorkflowTemplate on this machine the way Argo Workflows would, for the feature set
// of model-mirror's template. See README.md for the semantics, what is emulated and what is not.
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { constants as osConstants } from 'node:os';
import {
  Scope,
  UnsupportedArgoConstructError,
  evaluateExpression,
  evaluateWhen,
  goQuote,
  substitute,
  substituteString,
} from './substitute';
import type {
  AttemptResult,
  ExitHandlerResult,
  FailedNode,
  NodePhase,
  NodeResult,
  RunOptions,
  RunResult,
  StepFault,
  StepInfo,
  WorkflowPhase,
} from './types';
import { validateWorkflowTemplate } from './validate';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Commands a container may use: the image's CLI, by name or by its absolute path. */
export const CLI_COMMANDS = [['model-mirror'], ['/usr/local/bin/model-mirror']];
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const LOG_TAIL = 8 * 1024 * 1024;
const DEADLINE_MSG = 'Pod was active on the node longer than the specified deadline';

interface GraphNode {
  name: string;
  displayName: string;
  templateName: string;
  type: 'Steps' | 'StepGroup' | 'Retry' | 'Pod' | 'Skipped';
  phase: NodePhase;
  message: string;
  finishedAt: Date;
  exit: boolean;
}

interface Running {
  child: ChildProcess;
  exit: boolean;
  killedFor?: { phase: 'Failed' | 'Error'; message: string };
}

interface Ctx {
  opts: RunOptions;
  spec: Obj;
  templates: Map<string, Obj>;
  wfName: string;
  uid: string;
  global: Record<string, string>;
  workDir: string;
  podsDir: string;
  logsDir: string;
  pvcs: Record<string, string>;
  volumes: Map<string, Obj>;
  deadlineAt?: number;
  deadlineExceeded: boolean;
  aborted?: Error;
  running: Set<Running>;
  graph: GraphNode[];
  secrets: Record<string, Record<string, string>>;
  configMaps: Record<string, Record<string, string>>;
  /** `workflow.outputs.parameters.<g>` for a declared globalName g stays literal until set (Argo). */
  keepLiteral: (tag: string) => boolean;
}

interface NodeRef {
  name: string;
  displayName: string;
  /** Step name as written in the steps template, or the template name at the root. */
  stepName: string;
  exit: boolean;
}

interface TemplateOutcome {
  phase: NodePhase;
  message: string;
  outputs: Record<string, string>;
  exitCode?: number;
}

// ------------------------------------------------------------------------------------------------

export async function runWorkflowTemplate(wft: unknown, opts: RunOptions): Promise<RunResult> {
  validateWorkflowTemplate(wft);
  const w = wft as Obj;
  const spec = w.spec as Obj;
  const templates = new Map<string, Obj>();
  for (const t of spec.templates as Obj[]) {
    if (templates.has(t.name)) throw new Error(`argo-runner: duplicate template name ${t.name}`);
    templates.set(t.name, t);
  }
  checkReferences(spec, templates);
  if (!fs.existsSync(opts.bundle)) throw new Error(`argo-runner: bundle ${opts.bundle} does not exist (run \`npm run bundle\`)`);

  const baseName = (w.metadata?.name as string | undefined) ?? 'workflow';
  const wfName = opts.workflowName ?? `${baseName}-${randomSuffix()}`;
  const uid = randomUUID();
  const createdWorkDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'argo-runner-'));
  fs.mkdirSync(workDir, { recursive: true });
  const started = new Date();
  const global: Record<string, string> = {
    'workflow.name': wfName,
    'workflow.uid': uid,
    'workflow.namespace': opts.namespace ?? w.metadata?.namespace ?? 'argo',
    'workflow.creationTimestamp': rfc3339(started),
    'workflow.mainEntrypoint': spec.entrypoint,
    'workflow.serviceAccountName': spec.serviceAccountName ?? 'default',
  };
  const globalNames = new Set<string>();
  for (const t of templates.values()) for (const p of (t.outputs?.parameters ?? []) as Obj[]) if (p.globalName) globalNames.add(p.globalName);
  const params = resolveWorkflowParameters(spec, opts.parameters ?? {}, global);
  for (const [k, v] of Object.entries(params)) global[`workflow.parameters.${k}`] = v;
  global['workflow.parameters'] = JSON.stringify(Object.entries(params).map(([name, value]) => ({ name, value })));

  const ctx: Ctx = {
    opts,
    spec,
    templates,
    wfName,
    uid,
    global,
    workDir,
    podsDir: path.join(workDir, 'pods'),
    logsDir: path.join(workDir, 'logs'),
    pvcs: {},
    volumes: new Map((spec.volumes ?? []).map((v: Obj) => [v.name, v])),
    deadlineExceeded: false,
    running: new Set(),
    graph: [],
    secrets: (opts.secrets ?? {}) as Record<string, Record<string, string>>,
    configMaps: (opts.configMaps ?? {}) as Record<string, Record<string, string>>,
    keepLiteral: (tag) => tag.startsWith('workflow.outputs.parameters.') && globalNames.has(tag.slice('workflow.outputs.parameters.'.length)),
  };
  fs.mkdirSync(ctx.podsDir, { recursive: true });
  fs.mkdirSync(ctx.logsDir, { recursive: true });
  for (const pvc of spec.volumeClaimTemplates ?? []) {
    const dir = path.join(workDir, 'pvc', pvc.metadata.name);
    fs.mkdirSync(dir, { recursive: true });
    ctx.pvcs[pvc.metadata.name] = dir;
  }

  const timers: NodeJS.Timeout[] = [];
  if (spec.activeDeadlineSeconds !== undefined) {
    const secs = toInt(substituteString(String(spec.activeDeadlineSeconds), global, 'spec.activeDeadlineSeconds'), 'spec.activeDeadlineSeconds');
    ctx.deadlineAt = started.getTime() + secs * 1000;
    timers.push(setTimeout(() => {
      ctx.deadlineExceeded = true;
      // Kubernetes kills the pods (their activeDeadlineSeconds is clamped to the workflow's);
      // exit-handler pods are exempt (workflowpod.go: "ignore the workflow deadline for exit handler").
      for (const r of ctx.running) if (!r.exit) killRunning(r, { phase: 'Failed', message: DEADLINE_MSG }, 'SIGKILL');
    }, Math.max(0, ctx.deadlineAt - Date.now())));
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  timers.push(setTimeout(() => {
    ctx.aborted = new Error(`argo-runner: harness timeout: workflow ${wfName} still running after ${timeoutMs} ms (logs: ${ctx.logsDir})`);
    for (const r of ctx.running) killRunning(r, { phase: 'Error', message: 'harness timeout' }, 'SIGKILL');
  }, timeoutMs));

  try {
    // ---- entrypoint: the workflow's arguments are the entry template's arguments -------------
    const entryNodes: NodeResult[] = [];
    const entry = await execTemplate(ctx, spec.entrypoint, params, { name: wfName, displayName: wfName, stepName: spec.entrypoint, exit: false }, entryNodes, 'entrypoint');
    if (ctx.aborted) throw ctx.aborted;
    const entryStatus = nodeToWorkflowPhase(entry.phase);

    const failures: FailedNode[] = ctx.graph
      .filter((n) => !n.exit && (n.phase === 'Failed' || n.phase === 'Error'))
      .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime())
      .map((n) => ({
        displayName: n.displayName,
        message: n.message,
        templateName: n.templateName,
        phase: n.phase,
        podName: podNameFor(wfName, n.name, n.templateName),
        finishedAt: rfc3339(n.finishedAt),
      }));
    const failuresValue = goQuote(JSON.stringify(failures.length ? failures : null));

    let status: WorkflowPhase = entryStatus;
    let message = entry.phase === 'Succeeded' ? undefined : entry.message;
    let exitHandler: ExitHandlerResult | undefined;
    if (spec.onExit) {
      global['workflow.status'] = entryStatus;
      global['workflow.failures'] = failuresValue;
      global['workflow.duration'] = ((Date.now() - started.getTime()) / 1000).toFixed(6);
      const exitNodes: NodeResult[] = [];
      const onExitName = `${wfName}.onExit`;
      const ex = await execTemplate(ctx, spec.onExit, params, { name: onExitName, displayName: onExitName, stepName: spec.onExit, exit: true }, exitNodes, 'onExit');
      if (ctx.aborted) throw ctx.aborted;
      exitHandler = { phase: ex.phase, message: ex.message || undefined, workflowStatus: entryStatus, workflowFailures: failuresValue, nodes: exitNodes };
      // operator.go: a succeeded workflow whose exit handler failed/errored takes the handler's outcome.
      if (entryStatus === 'Succeeded' && (ex.phase === 'Failed' || ex.phase === 'Error')) {
        status = ex.phase;
        message = ex.message;
      }
    }

    const result: RunResult = {
      status,
      message,
      workflowName: wfName,
      workflowUid: uid,
      entrypointPhase: entry.phase,
      nodes: entryNodes,
      failures,
      exitHandler,
      workDir,
      volumes: { ...ctx.pvcs },
      cleanup: () => { if (createdWorkDir) fs.rmSync(workDir, { recursive: true, force: true }); },
    };
    if (status !== 'Succeeded' && opts.reportFailures !== false) process.stderr.write(formatFailureReport(result));
    return result;
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const r of ctx.running) killRunning(r, { phase: 'Error', message: 'runner stopped' }, 'SIGKILL');
  }
}

// ---- templates ---------------------------------------------------------------------------------

async function execTemplate(
  ctx: Ctx, templateName: string, args: Record<string, string>, node: NodeRef, collector: NodeResult[], where: string,
): Promise<TemplateOutcome> {
  const tmpl = ctx.templates.get(templateName);
  if (!tmpl) throw new Error(`argo-runner: ${where}: template ${templateName} not found`);
  const tw = `templates[${templateName}]`;

  // inputs (workflow/common/util.go ProcessArgs): argument > value > default, else "not supplied".
  const inputs: Record<string, string> = {};
  for (const p of (tmpl.inputs?.parameters ?? []) as Obj[]) {
    let v: string | undefined;
    if (Object.prototype.hasOwnProperty.call(args, p.name)) v = args[p.name];
    else if (p.value !== undefined || p.default !== undefined) {
      v = substituteString(String(p.value ?? p.default), ctx.global, `${tw}.inputs.parameters.${p.name}`, ctx.keepLiteral);
    }
    if (v === undefined) throw new Error(`argo-runner: ${where}: inputs.parameters.${p.name} was not supplied to template ${templateName}`);
    inputs[p.name] = v;
  }
  const local: Record<string, string> = { ...ctx.global };
  for (const [k, v] of Object.entries(inputs)) local[`inputs.parameters.${k}`] = v;
  local['inputs.parameters'] = JSON.stringify(Object.entries(inputs).map(([name, value]) => ({ name, value })));
  for (const p of (tmpl.outputs?.parameters ?? []) as Obj[]) {
    local[`outputs.parameters.${p.name}.path`] = substituteString(p.valueFrom.path, local, `${tw}.outputs.parameters.${p.name}.valueFrom.path`);
  }

  let result: NodeResult & Mutable<NodeResult> | undefined;
  if (tmpl.container) {
    result = {
      name: node.name, displayName: node.stepName, template: templateName, phase: 'Succeeded', partOfExitHandler: node.exit,
      inputs, attempts: [], outputs: {}, stdout: '', stderr: '',
    };
    collector.push(result);
  }

  const body = (attempt: number | undefined, name: string, displayName: string): Promise<TemplateOutcome> => {
    const scope = attempt === undefined ? local : { ...local, retries: String(attempt) };
    if (tmpl.container) return runPod(ctx, tmpl, scope, { ...node, name, displayName }, attempt ?? 0, result!, tw);
    return runSteps(ctx, tmpl, scope, { ...node, name, displayName }, collector, tw);
  };

  let outcome: TemplateOutcome;
  if (!tmpl.retryStrategy) {
    outcome = await body(undefined, node.name, node.displayName);
  } else {
    outcome = await withRetries(ctx, tmpl, local, node, body, result, tw);
  }
  if (result) {
    const last = result.attempts[result.attempts.length - 1];
    Object.assign(result, {
      phase: outcome.phase, message: outcome.message || undefined, outputs: outcome.outputs,
      exitCode: last?.exitCode, stdout: last?.stdout ?? '', stderr: last?.stderr ?? '',
    });
  }
  return outcome;
}

async function withRetries(
  ctx: Ctx, tmpl: Obj, local: Scope, node: NodeRef,
  body: (attempt: number, name: string, displayName: string) => Promise<TemplateOutcome>,
  result: Mutable<NodeResult> | undefined, tw: string,
): Promise<TemplateOutcome> {
  const rs = tmpl.retryStrategy as Obj;
  const limit = toInt(substituteString(String(rs.limit), local, `${tw}.retryStrategy.limit`), `${tw}.retryStrategy.limit`);
  const policy: string = rs.retryPolicy ?? 'OnFailure'; // RetryPolicyActual() with no expression
  const retryOnFailed = policy === 'Always' || policy === 'OnFailure';
  const retryOnError = policy === 'Always' || policy === 'OnError';
  const b = rs.backoff as Obj | undefined;
  const dur = (k: string) => (b?.[k] === undefined ? undefined : parseArgoDuration(substituteString(String(b[k]), local, `${tw}.retryStrategy.backoff.${k}`), `${tw}.retryStrategy.backoff.${k}`));
  const baseMs = dur('duration');
  const capMs = dur('cap');
  const maxMs = dur('maxDuration');
  const factor = b?.factor === undefined ? undefined : toInt(substituteString(String(b.factor), local, `${tw}.retryStrategy.backoff.factor`), `${tw}.retryStrategy.backoff.factor`);
  if (b && baseMs === undefined) throw new UnsupportedArgoConstructError(`${tw}.retryStrategy.backoff`, 'no base duration specified for retryStrategy');

  // Virtual clock: backoffs are computed in full but slept scaled (default not at all).
  let skewMs = 0;
  const now = () => Date.now() + skewMs;
  let firstStart = 0;
  let out: TemplateOutcome;
  let message: string | undefined;
  for (let i = 0; ; i++) {
    if (i === 0) firstStart = now();
    out = await body(i, `${node.name}(${i})`, `${node.displayName}(${i})`);
    const children = i + 1;
    const lastFinished = now();
    if (out.phase === 'Succeeded' || out.phase === 'Skipped') break;
    if (ctx.aborted) break;
    if (!node.exit && ctx.deadlineExceeded) { message = `retry exceeded workflow deadline`; break; }
    let waitMs = 0;
    if (b) {
      const maxDeadline = maxMs === undefined ? undefined : firstStart + maxMs;
      if (maxDeadline !== undefined && now() > maxDeadline) { message = 'Max duration limit exceeded'; break; }
      waitMs = baseMs!;
      if (factor !== undefined && factor > 0) waitMs = baseMs! * Math.pow(factor, children - 1);
      if (capMs !== undefined && waitMs > capMs) waitMs = capMs;
      if (maxDeadline !== undefined && lastFinished + waitMs > maxDeadline) { message = 'Backoff would exceed max duration limit'; break; }
    }
    // The controller waits out the backoff first (while retries are left), and only then checks
    // the policy, the limit and the expression: a permanent failure still costs one backoff.
    if (waitMs > 0 && children <= limit) {
      if (result) (result.attempts[result.attempts.length - 1] as Mutable<AttemptResult>).backoffMs = waitMs;
      const sleepMs = Math.round(waitMs * (ctx.opts.backoffScale ?? 0));
      if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
      skewMs += waitMs - sleepMs;
    }
    if ((out.phase === 'Failed' && !retryOnFailed) || (out.phase === 'Error' && !retryOnError)) break;
    if (children > limit) { message = 'No more retries left'; break; }
    if (rs.expression !== undefined && !retryExpressionAllows(String(rs.expression), out, result, `${tw}.retryStrategy.expression`)) {
      message = 'retryStrategy.expression evaluated to false';
      break;
    }
  }
  const final = { ...out!, message: message ?? out!.message };
  ctx.graph.push({ name: node.name, displayName: node.displayName, templateName: tmpl.name, type: 'Retry', phase: final.phase, message: final.message, finishedAt: new Date(), exit: node.exit });
  return final;
}

// Argo (operator.go processNodeRetries) evaluates `expression` after the policy and limit checks,
// with only the lastRetry.* variables in scope; exitCode is a string, "-1" when none was recorded.
function retryExpressionAllows(expression: string, out: TemplateOutcome, result: Mutable<NodeResult> | undefined, where: string): boolean {
  const last = result?.attempts[result.attempts.length - 1];
  const scope: Scope = {
    'lastRetry.exitCode': last?.exitCode === undefined ? '-1' : String(last.exitCode),
    'lastRetry.status': out.phase,
    'lastRetry.duration': String((last?.durationMs ?? 0) / 1000),
    'lastRetry.message': out.message ?? '',
  };
  const v = evaluateExpression(expression, scope, where);
  if (typeof v !== 'boolean') throw new UnsupportedArgoConstructError(where, `expression must evaluate to a boolean, got ${JSON.stringify(v)}`);
  return v;
}

async function runSteps(ctx: Ctx, tmpl: Obj, local: Scope, node: NodeRef, collector: NodeResult[], tw: string): Promise<TemplateOutcome> {
  const stepScope: Record<string, string> = {};
  let phase: NodePhase = 'Succeeded';
  let message = '';
  const groups = tmpl.steps as Obj[][];
  for (let gi = 0; gi < groups.length; gi++) {
    const sgName = `${node.name}[${gi}]`;
    // Steps of one group run concurrently, as in Argo; the group ends when all of them ended.
    const ran = await Promise.all(groups[gi].map(async (step) => {
      const childName = `${sgName}.${step.name}`;
      const sw = `${tw}.steps[${gi}][${step.name}]`;
      const scope = { ...local, ...stepScope };
      if (step.when !== undefined) {
        const when = substituteString(step.when, scope, `${sw}.when`, ctx.keepLiteral);
        if (!evaluateWhen(when, `${sw}.when`)) {
          const msg = `when '${when}' evaluated false`;
          ctx.graph.push({ name: childName, displayName: step.name, templateName: step.template, type: 'Skipped', phase: 'Skipped', message: msg, finishedAt: new Date(), exit: node.exit });
          collector.push({
            name: childName, displayName: step.name, template: step.template, phase: 'Skipped', message: msg, partOfExitHandler: node.exit,
            inputs: {}, attempts: [], outputs: {}, stdout: '', stderr: '',
          });
          return { step, out: { phase: 'Skipped', message: msg, outputs: {} } as TemplateOutcome, childName };
        }
      }
      const stepArgs: Record<string, string> = {};
      for (const p of (step.arguments?.parameters ?? []) as Obj[]) {
        stepArgs[p.name] = substituteString(String(p.value), scope, `${sw}.arguments.parameters.${p.name}`, ctx.keepLiteral);
      }
      const target = ctx.templates.get(step.template)!;
      const declared = new Set(((target.inputs?.parameters ?? []) as Obj[]).map((p) => p.name));
      for (const k of Object.keys(stepArgs)) {
        if (!declared.has(k)) throw new Error(`argo-runner: ${sw}: argument ${k} is not an input of template ${step.template} (Argo would silently ignore it)`);
      }
      if (!node.exit && ctx.deadlineExceeded) {
        const msg = 'Step exceeded its deadline';
        ctx.graph.push({ name: childName, displayName: step.name, templateName: step.template, type: 'Pod', phase: 'Failed', message: msg, finishedAt: new Date(), exit: node.exit });
        collector.push({ name: childName, displayName: step.name, template: step.template, phase: 'Failed', message: msg, partOfExitHandler: node.exit, inputs: stepArgs, attempts: [], outputs: {}, stdout: '', stderr: '' });
        return { step, out: { phase: 'Failed', message: msg, outputs: {} } as TemplateOutcome, childName };
      }
      const out = await execTemplate(ctx, step.template, stepArgs, { name: childName, displayName: step.name, stepName: step.name, exit: node.exit }, collector, sw);
      return { step, out, childName };
    }));
    let failedChild: string | undefined;
    for (const { step, out, childName } of ran) {
      stepScope[`steps.${step.name}.status`] = out.phase;
      if (out.exitCode !== undefined) stepScope[`steps.${step.name}.exitCode`] = String(out.exitCode);
      for (const [k, v] of Object.entries(out.outputs)) stepScope[`steps.${step.name}.outputs.parameters.${k}`] = v;
      if ((out.phase === 'Failed' || out.phase === 'Error') && !failedChild) failedChild = childName;
    }
    const sgPhase: NodePhase = failedChild ? 'Failed' : 'Succeeded';
    const sgMsg = failedChild ? `child '${nodeId(ctx.wfName, failedChild)}' failed` : '';
    ctx.graph.push({ name: sgName, displayName: `[${gi}]`, templateName: '', type: 'StepGroup', phase: sgPhase, message: sgMsg, finishedAt: new Date(), exit: node.exit });
    if (failedChild) { phase = 'Failed'; message = sgMsg; break; }
  }
  ctx.graph.push({ name: node.name, displayName: node.displayName, templateName: tmpl.name, type: 'Steps', phase, message, finishedAt: new Date(), exit: node.exit });
  return { phase, message, outputs: {} };
}

// ---- one container attempt ("pod") -------------------------------------------------------------

async function runPod(
  ctx: Ctx, tmpl: Obj, local: Scope, node: NodeRef, attempt: number, result: Mutable<NodeResult>, tw: string,
): Promise<TemplateOutcome> {
  if (ctx.aborted) throw ctx.aborted;
  const podName = podNameFor(ctx.wfName, node.name, tmpl.name);
  const scope: Scope = { ...local, 'pod.name': podName, 'node.name': node.name };
  const c = substitute(tmpl.container as Obj, scope, `${tw}.container`, ctx.keepLiteral);
  const outputsSpec = substitute((tmpl.outputs?.parameters ?? []) as Obj[], scope, `${tw}.outputs.parameters`);

  const command = c.command as string[] | undefined;
  if (command !== undefined && !CLI_COMMANDS.some((cmd) => cmd.length === command.length && cmd.every((x, i) => x === command[i]))) {
    throw new UnsupportedArgoConstructError(`${tw}.container.command`, `${JSON.stringify(command)}: the image has only ${JSON.stringify(CLI_COMMANDS[0])} (no shell)`);
  }

  // -- filesystem: volumes + the pod's own ephemeral root --------------------------------------
  const podDir = path.join(ctx.podsDir, podName);
  fs.rmSync(podDir, { recursive: true, force: true });
  const rootfs = path.join(podDir, 'rootfs');
  const mappings: { from: string; to: string }[] = [];
  const volumesForHook: Record<string, string> = {};
  for (const m of (c.volumeMounts ?? []) as Obj[]) {
    let dir = ctx.pvcs[m.name] ?? materializeVolume(ctx, m.name, podDir, `${tw}.container.volumeMounts[${m.name}]`);
    volumesForHook[m.name] = dir;
    if (m.subPath) { dir = path.join(dir, m.subPath); fs.mkdirSync(dir, { recursive: true }); }
    mappings.push({ from: trimSlash(m.mountPath), to: dir });
  }
  const underMount = (p: string) => mappings.some((m) => p === m.from || p.startsWith(m.from + '/'));
  const workingDir = trimSlash((c.workingDir as string | undefined) ?? ctx.opts.imageWorkingDir ?? '/work');
  // Directories that exist in the image (created here): /tmp, HOME, the working dir. Output file
  // parents that are in none of them nor a mount are mapped but not created (the CLI must mkdir).
  const ephemeral = ['/tmp', '/home/nonroot', workingDir];
  for (const p of outputsSpec) ephemeral.push(trimSlash(path.posix.dirname(p.valueFrom.path)));
  const created = new Set(['/tmp', '/home/nonroot', workingDir]);
  for (const e of ephemeral) {
    if (underMount(e) || mappings.some((m) => m.from === e)) continue;
    mappings.push({ from: e, to: path.join(rootfs, e) });
  }
  for (const e of created) fs.mkdirSync(rewritePath(e, mappings), { recursive: true });
  const rewrite = (s: string) => rewritePaths(s, mappings);

  const args = ((c.args ?? []) as unknown[]).map((a) => rewrite(String(a)));
  const cwd = rewritePath(workingDir, mappings);

  // -- environment --------------------------------------------------------------------------------
  const env: Record<string, string> = {};
  if (ctx.opts.inheritEnv) for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.PATH = process.env.PATH ?? '/usr/bin:/bin';
  env.HOME = rewritePath('/home/nonroot', mappings);
  env.TMPDIR = rewritePath('/tmp', mappings);
  env.NODE_ENV = 'production'; // Dockerfile ENV
  for (const ef of (c.envFrom ?? []) as Obj[]) {
    const ref = ef.secretRef ?? ef.configMapRef;
    const store = ef.secretRef ? ctx.secrets : ctx.configMaps;
    const data = store[ref.name];
    if (!data) {
      if (isTrue(ref.optional)) continue;
      throw new Error(`argo-runner: ${tw}: envFrom ${ef.secretRef ? 'secret' : 'configMap'} ${ref.name} not provided (the pod would never start: CreateContainerConfigError)`);
    }
    for (const [k, v] of Object.entries(data)) if (/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test((ef.prefix ?? '') + k)) env[(ef.prefix ?? '') + k] = v;
  }
  for (const e of (c.env ?? []) as Obj[]) {
    if (e.valueFrom) {
      const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
      const kind = e.valueFrom.secretKeyRef ? 'secret' : 'configMap';
      const v = (e.valueFrom.secretKeyRef ? ctx.secrets : ctx.configMaps)[ref.name]?.[ref.key];
      if (v === undefined) {
        if (isTrue(ref.optional)) continue;
        throw new Error(`argo-runner: ${tw}: env ${e.name}: ${kind} ${ref.name} key ${ref.key} not provided (the pod would never start: CreateContainerConfigError)`);
      }
      env[e.name] = v;
    } else {
      env[e.name] = rewrite(String(e.value ?? ''));
    }
  }
  Object.assign(env, ctx.opts.env ?? {});

  const info: StepInfo = {
    step: node.stepName, template: tmpl.name, attempt, nodeName: node.name, podName, partOfExitHandler: node.exit,
    args, env: { ...env }, cwd, volumes: { ...volumesForHook, ...ctx.pvcs },
    outputPaths: Object.fromEntries(outputsSpec.map((p) => [p.name, rewritePath(p.valueFrom.path, mappings)])),
  };
  const fault = (await ctx.opts.onStep?.(info)) ?? undefined;
  if (fault?.kind === 'env') Object.assign(env, fault.env);

  // -- run -------------------------------------------------------------------------------------------
  const logFiles = { stdout: path.join(ctx.logsDir, `${podName}.stdout.log`), stderr: path.join(ctx.logsDir, `${podName}.stderr.log`) };
  const t0 = Date.now();
  let phase: 'Succeeded' | 'Failed' | 'Error';
  let message = '';
  let exitCode: number | undefined;
  let signal: string | undefined;
  let stdout = '';
  let stderr = '';
  if (fault?.kind === 'fail' || fault?.kind === 'exit') {
    exitCode = fault.exitCode ?? 1;
    phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    message = (fault.kind === 'fail' ? fault.message : undefined) ?? (exitCode === 0 ? '' : `Error (exit code ${exitCode})`);
    fs.writeFileSync(logFiles.stdout, '');
    fs.writeFileSync(logFiles.stderr, `[argo-runner] process not started (onStep ${fault.kind}): exit code ${exitCode}\n`);
  } else if (fault?.kind === 'error') {
    phase = 'Error';
    message = fault.message ?? 'pod deleted';
    fs.writeFileSync(logFiles.stdout, '');
    fs.writeFileSync(logFiles.stderr, `[argo-runner] fault injected: error: ${message}\n`);
  } else {
    const r = await spawnContainer(ctx, node.exit, tmpl, [ctx.opts.bundle, ...args], cwd, env, logFiles, fault?.kind === 'kill' ? fault : undefined, tw, scope);
    ({ exitCode, signal, stdout, stderr } = r);
    if (r.killedFor) { phase = r.killedFor.phase; message = r.killedFor.message; }
    else if (exitCode === 0) phase = 'Succeeded';
    else { phase = 'Failed'; message = `Error (exit code ${exitCode})`; }
  }

  // -- outputs (executor.go SaveParameters): file, else default, else the attempt errors ---------
  const outputs: Record<string, string> = {};
  for (const p of outputsSpec) {
    const hostPath = rewritePath(p.valueFrom.path, mappings);
    let v: string | undefined;
    try { v = fs.readFileSync(hostPath, 'utf8'); } catch { /* below */ }
    if (v === undefined && p.valueFrom.default !== undefined) v = String(p.valueFrom.default);
    if (v === undefined) {
      if (phase === 'Succeeded') { phase = 'Error'; message = `open ${p.valueFrom.path}: no such file or directory`; }
      continue;
    }
    outputs[p.name] = v.endsWith('\n') ? v.slice(0, -1) : v; // Argo trims one trailing newline
    // operator.go addOutputsToGlobalScope: visible to templates that start after this one
    if (p.globalName) ctx.global[`workflow.outputs.parameters.${p.globalName}`] = outputs[p.name];
  }

  const finishedAt = new Date();
  const att: AttemptResult = {
    attempt, nodeName: node.name, podName, phase, message: message || undefined, exitCode, signal, args, cwd,
    stdout, stderr, logFiles, outputs, fault: fault ?? undefined, durationMs: Date.now() - t0,
  };
  (result.attempts as AttemptResult[]).push(att);
  ctx.graph.push({ name: node.name, displayName: node.displayName, templateName: tmpl.name, type: 'Pod', phase, message, finishedAt, exit: node.exit });
  return { phase, message, outputs, exitCode };
}

function spawnContainer(
  ctx: Ctx, exit: boolean, tmpl: Obj, argv: string[], cwd: string, env: Record<string, string>,
  logFiles: { stdout: string; stderr: string }, kill: Extract<StepFault, { kind: 'kill' }> | undefined, tw: string, scope: Scope,
): Promise<{ exitCode: number; signal?: string; stdout: string; stderr: string; killedFor?: Running['killedFor'] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const running: Running = { child, exit };
    ctx.running.add(running);
    const outFd = fs.openSync(logFiles.stdout, 'w');
    const errFd = fs.openSync(logFiles.stderr, 'w');
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { fs.writeSync(outFd, d); stdout = (stdout + d.toString('utf8')).slice(-LOG_TAIL); });
    child.stderr!.on('data', (d: Buffer) => { fs.writeSync(errFd, d); stderr = (stderr + d.toString('utf8')).slice(-LOG_TAIL); });
    const timers: NodeJS.Timeout[] = [];
    let closed = false;
    if (tmpl.activeDeadlineSeconds !== undefined) {
      const secs = toInt(substituteString(String(tmpl.activeDeadlineSeconds), scope, `${tw}.activeDeadlineSeconds`), `${tw}.activeDeadlineSeconds`);
      timers.push(setTimeout(() => killRunning(running, { phase: 'Failed', message: DEADLINE_MSG }, 'SIGKILL'), secs * 1000));
    }
    if (!exit && ctx.deadlineExceeded) killRunning(running, { phase: 'Failed', message: DEADLINE_MSG }, 'SIGKILL');
    if (kill) {
      const doKill = () => killRunning(running, {
        phase: kill.phase ?? 'Failed',
        message: (kill.phase ?? 'Failed') === 'Error' ? 'pod deleted' : `Error (exit code ${128 + signalNumber(kill.signal ?? 'SIGKILL')})`,
      }, kill.signal ?? 'SIGKILL');
      timers.push(setTimeout(doKill, kill.afterMs));
      // Event-driven kill: whichever comes first, `until` settling or `afterMs`.
      const killIfRunning = () => { if (!closed) doKill(); };
      kill.until?.then(killIfRunning, killIfRunning);
    }
    child.on('error', (e) => { cleanup(); reject(e); });
    child.on('close', (code, sig) => {
      cleanup();
      resolve({
        exitCode: code ?? 128 + signalNumber(sig ?? 'SIGKILL'),
        signal: sig ?? undefined,
        stdout, stderr, killedFor: running.killedFor,
      });
    });
    function cleanup() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      ctx.running.delete(running);
      fs.closeSync(outFd);
      fs.closeSync(errFd);
    }
  });
}

function killRunning(r: Running, why: NonNullable<Running['killedFor']>, signal: NodeJS.Signals): void {
  if (!r.killedFor) r.killedFor = why;
  try { r.child.kill(signal); } catch { /* already gone */ }
}

function materializeVolume(ctx: Ctx, name: string, podDir: string, where: string): string {
  const v = ctx.volumes.get(name);
  if (!v) throw new Error(`argo-runner: ${where}: no volume or volumeClaimTemplate named ${name}`);
  const dir = path.join(podDir, 'volumes', name);
  fs.mkdirSync(dir, { recursive: true });
  if (v.emptyDir) return dir; // per pod, like Kubernetes
  const src = v.secret ?? v.configMap;
  const kind = v.secret ? 'secret' : 'configMap';
  const storeName: string = v.secret ? v.secret.secretName : v.configMap.name;
  const data = (v.secret ? ctx.secrets : ctx.configMaps)[storeName];
  if (!data) {
    if (isTrue(src.optional)) return dir;
    throw new Error(`argo-runner: ${where}: ${kind} ${storeName} not provided (the pod would never start)`);
  }
  const mode = src.defaultMode === undefined ? 0o644 : Number(src.defaultMode);
  const entries: { key: string; rel: string; mode: number }[] = src.items
    ? (src.items as Obj[]).map((it) => ({ key: it.key, rel: it.path, mode: it.mode === undefined ? mode : Number(it.mode) }))
    : Object.keys(data).map((k) => ({ key: k, rel: k, mode }));
  for (const e of entries) {
    if (data[e.key] === undefined) throw new Error(`argo-runner: ${where}: ${kind} ${storeName} has no key ${e.key}`);
    const file = path.join(dir, e.rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data[e.key], { mode: e.mode });
    fs.chmodSync(file, e.mode);
  }
  return dir;
}

// ---- helpers -----------------------------------------------------------------------------------

function resolveWorkflowParameters(spec: Obj, given: Readonly<Record<string, string>>, global: Scope): Record<string, string> {
  const declared = (spec.arguments?.parameters ?? []) as Obj[];
  const names = new Set(declared.map((p) => p.name));
  for (const k of Object.keys(given)) {
    if (!names.has(k)) throw new Error(`argo submit would reject: parameter ${k} is not declared in spec.arguments.parameters (declared: ${[...names].join(', ')})`);
  }
  const out: Record<string, string> = {};
  for (const p of declared) {
    const raw = given[p.name] ?? p.value ?? p.default;
    if (raw === undefined) throw new Error(`argo submit would reject: spec.arguments.parameters.${p.name}.value is required`);
    const v = substituteString(String(raw), global, `spec.arguments.parameters.${p.name}`);
    if (p.enum && !(p.enum as unknown[]).map(String).includes(v)) {
      throw new Error(`argo submit would reject: value ${JSON.stringify(v)} for parameter ${p.name} is not in enum ${JSON.stringify((p.enum as unknown[]).map(String))}`);
    }
    out[p.name] = v;
  }
  return out;
}

/** Template references that Argo's validation rejects before anything runs. */
function checkReferences(spec: Obj, templates: Map<string, Obj>): void {
  const need = (name: string, where: string) => {
    if (!templates.has(name)) throw new Error(`argo-runner: ${where} references template ${name}, which does not exist`);
  };
  need(spec.entrypoint, 'spec.entrypoint');
  if (spec.onExit) need(spec.onExit, 'spec.onExit');
  for (const t of templates.values()) {
    (t.steps ?? []).forEach((g: Obj[], gi: number) => g.forEach((s) => need(s.template, `templates[${t.name}].steps[${gi}][${s.name}]`)));
  }
}

function nodeToWorkflowPhase(p: NodePhase): WorkflowPhase {
  return p === 'Failed' ? 'Failed' : p === 'Error' ? 'Error' : 'Succeeded';
}

/** util/pod_name.go GeneratePodName (v2 names). */
export function podNameFor(wfName: string, nodeName: string, templateName: string): string {
  if (nodeName === wfName) return wfName;
  let prefix = templateName ? `${wfName}-${templateName}` : wfName;
  if (prefix.length > 252 - 10) prefix = prefix.slice(0, 252 - 10 - 1);
  return `${prefix}-${fnv32a(nodeName)}`;
}

function nodeId(wfName: string, nodeName: string): string {
  return nodeName === wfName ? wfName : `${wfName}-${fnv32a(nodeName)}`;
}

function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) { h ^= byte; h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}

function randomSuffix(): string {
  const chars = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function toInt(s: string, where: string): number {
  if (!/^-?\d+$/.test(s.trim())) throw new UnsupportedArgoConstructError(where, `expected an integer, got ${JSON.stringify(s)}`);
  return parseInt(s, 10);
}

function isTrue(v: unknown): boolean {
  return v === true || v === 'true';
}

/** wfv1.ParseStringToDuration: a bare number is seconds, else a Go duration ("1m30s"). */
export function parseArgoDuration(s: string, where: string): number {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = s;
  if (!rest) throw new UnsupportedArgoConstructError(where, 'empty duration');
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new UnsupportedArgoConstructError(where, `duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * unit[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

function signalNumber(sig: string): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 9;
}

function trimSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Rewrites a single absolute container path to the host (longest matching prefix wins). */
function rewritePath(p: string, mappings: { from: string; to: string }[]): string {
  let best: { from: string; to: string } | undefined;
  for (const m of mappings) if ((p === m.from || p.startsWith(m.from + '/')) && (!best || m.from.length > best.from.length)) best = m;
  return best ? best.to + p.slice(best.from.length) : p;
}

/**
 * Rewrites every occurrence of a mapped container path prefix inside a string (args like
 * `--dir=/data/x`, env values): the prefix must start the string or follow a character that cannot
 * be part of a path (so `/bucket/data` or `s3://x/data` are left alone) and end at `/` or a
 * non-path character. One pass, longest prefix first, so replaced text is never re-rewritten.
 */
function rewritePaths(s: string, mappings: { from: string; to: string }[]): string {
  if (!mappings.length) return s;
  const sorted = [...mappings].sort((a, b) => b.from.length - a.from.length);
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`(?<![\\w.~/@-])(${sorted.map((m) => esc(m.from)).join('|')})(?=/|$|[^\\w.~-])`, 'g');
  return s.replace(re, (hit) => sorted.find((m) => m.from === hit)!.to);
}

function formatFailureReport(r: RunResult): string {
  const lines: string[] = [`\n[argo-runner] workflow ${r.workflowName} ${r.status}${r.message ? `: ${r.message}` : ''} (workDir ${r.workDir})`];
  const all = [...r.nodes, ...(r.exitHandler?.nodes ?? [])];
  for (const n of all) {
    lines.push(`  ${n.partOfExitHandler ? '[onExit] ' : ''}${n.displayName} (${n.template}): ${n.phase}${n.message ? ` - ${n.message}` : ''}`);
    if (n.phase !== 'Failed' && n.phase !== 'Error') continue;
    for (const a of n.attempts) {
      lines.push(`    attempt ${a.attempt} ${a.podName}: ${a.phase}${a.exitCode !== undefined ? ` exit ${a.exitCode}` : ''}${a.message ? ` - ${a.message}` : ''}`);
      lines.push(`      args: ${JSON.stringify(a.args)}`);
      lines.push(`      logs: ${a.logFiles.stdout} ${a.logFiles.stderr}`);
      const tail = (s: string, n: number) => (s.length > n ? '…' + s.slice(-n) : s);
      if (a.stderr.trim()) lines.push('      stderr:\n' + indent(tail(a.stderr, 4000), '        '));
      if (a.stdout.trim()) lines.push('      stdout:\n' + indent(tail(a.stdout, 2000), '        '));
    }
  }
  return lines.join('\n') + '\n';
}

function indent(s: string, pre: string): string {
  return s.replace(/\n$/, '').split('\n').map((l) => pre + l).join('\n');
}
