// Public types of the local Argo runner (see README.md in this directory).

export type NodePhase = 'Succeeded' | 'Failed' | 'Error' | 'Skipped';
export type WorkflowPhase = 'Succeeded' | 'Failed' | 'Error';

/** What `onStep` may return to inject a fault into one attempt of one container step. */
export type StepFault =
  /** Do not start the process; the attempt ends Failed with this exit code (default 1), as a crashed container would. */
  | { kind: 'fail'; exitCode?: number; message?: string }
  /**
   * Do not start the process; the attempt ends as if it exited with `exitCode` (0 = Succeeded). With
   * `StepInfo.outputPaths` this lets a test stand in for a step (write its outputs, return exit 0).
   */
  | { kind: 'exit'; exitCode: number }
  /** Do not start the process; the attempt ends Error (infrastructure: pod deleted, evicted, node lost). */
  | { kind: 'error'; message?: string }
  /**
   * Start the process, then kill it after `afterMs` with `signal` (default SIGKILL, reported as exit
   * 128+signo). `phase` Failed (default: OOM-kill / container killed) or Error (pod deleted).
   */
  | {
    kind: 'kill'; afterMs: number; signal?: NodeJS.Signals; phase?: 'Failed' | 'Error';
    /**
     * Also kill as soon as this settles (whichever comes first with `afterMs`), for kills tied to
     * an event rather than a time, e.g. "after the 3rd object reached S3" (keep `afterMs` as a cap).
     */
    until?: PromiseLike<unknown>;
  }
  /** Start the process with these extra env vars for this attempt only. */
  | { kind: 'env'; env: Record<string, string> };

export interface StepInfo {
  /** The step's `name` in its steps template (no retry suffix), or the exit handler's template name. */
  readonly step: string;
  readonly template: string;
  /** 0-based retry attempt (`{{retries}}`). */
  readonly attempt: number;
  /** Argo node name, e.g. `wf-abcde[1].download(0)`. */
  readonly nodeName: string;
  readonly podName: string;
  readonly partOfExitHandler: boolean;
  /** argv after substitution and path rewriting (without `node <bundle>`). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Volume name -> host directory, for this attempt. */
  readonly volumes: Readonly<Record<string, string>>;
  /** Output parameter name -> host path the runner reads it from after the attempt. */
  readonly outputPaths: Readonly<Record<string, string>>;
}

export interface RunOptions {
  /** Submit-time parameters (`argo submit -p name=value`). Unknown names throw. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Extra env for every container, applied LAST (overrides the template's env for the same name). */
  readonly env?: Readonly<Record<string, string>>;
  /** Kubernetes Secrets by name: `{ 'hf-token': { token: 'hf_...' } }`. */
  readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Kubernetes ConfigMaps by name. */
  readonly configMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Path of the CLI bundle: a container `command: ["model-mirror"]` runs `node <bundle> ...args`. */
  readonly bundle: string;
  /** Root for volumes, per-pod filesystems and logs. Default: a new temp dir (never deleted by the runner; see `cleanup`). */
  readonly workDir?: string;
  /** Fault injection: called before every container attempt. */
  readonly onStep?: (info: StepInfo) => StepFault | void | Promise<StepFault | void>;
  /** Harness timeout for the whole run (not an Argo concept): kills everything and throws. Default 10 min. */
  readonly timeoutMs?: number;
  /** Multiplier for retry backoff sleeps (Argo durations). Default 0: compute, record, don't sleep. */
  readonly backoffScale?: number;
  /** `{{workflow.name}}`. Default `<metadata.name>-<5 random chars>` like `argo submit --from`. */
  readonly workflowName?: string;
  /** `{{workflow.namespace}}`. Default metadata.namespace, else `argo`. */
  readonly namespace?: string;
  /** WORKDIR of the image, used when a container has no workingDir. Default `/work` (see Dockerfile). */
  readonly imageWorkingDir?: string;
  /** Also pass the host's environment to containers (default false: only PATH, HOME, TMPDIR, NODE_ENV + template env). */
  readonly inheritEnv?: boolean;
  /** Print a failure report (steps, exit codes, log tails) to stderr when the workflow does not succeed. Default true. */
  readonly reportFailures?: boolean;
}

export interface AttemptResult {
  readonly attempt: number;
  readonly nodeName: string;
  readonly podName: string;
  readonly phase: Exclude<NodePhase, 'Skipped'>;
  readonly message?: string;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly stdout: string;
  readonly stderr: string;
  /** Files holding the full stdout/stderr of this attempt. */
  readonly logFiles: { readonly stdout: string; readonly stderr: string };
  readonly outputs: Readonly<Record<string, string>>;
  readonly fault?: StepFault;
  readonly durationMs: number;
  /** Backoff Argo would wait before the NEXT attempt (ms), if one followed. */
  readonly backoffMs?: number;
}

/** One executed (or skipped) step of a container template, retries folded into `attempts`. */
export interface NodeResult {
  /** Argo node name of the step (the Retry node when the template has a retryStrategy). */
  readonly name: string;
  /** Step name (`download`), or the exit handler template name. */
  readonly displayName: string;
  readonly template: string;
  readonly phase: NodePhase;
  readonly message?: string;
  readonly partOfExitHandler: boolean;
  readonly inputs: Readonly<Record<string, string>>;
  readonly attempts: readonly AttemptResult[];
  /** Of the last attempt. */
  readonly exitCode?: number;
  readonly outputs: Readonly<Record<string, string>>;
  readonly stdout: string;
  readonly stderr: string;
}

/** Argo's `failedNodeStatus` (the elements of `{{workflow.failures}}`). */
export interface FailedNode {
  readonly displayName: string;
  readonly message: string;
  readonly templateName: string;
  readonly phase: string;
  readonly podName: string;
  readonly finishedAt: string;
}

export interface ExitHandlerResult {
  readonly phase: NodePhase;
  readonly message?: string;
  /** What `{{workflow.status}}` resolved to. */
  readonly workflowStatus: WorkflowPhase;
  /** What `{{workflow.failures}}` resolved to: Go-quoted JSON (decode twice), `"null"` when nothing failed. */
  readonly workflowFailures: string;
  readonly nodes: readonly NodeResult[];
}

export interface RunResult {
  readonly status: WorkflowPhase;
  readonly message?: string;
  readonly workflowName: string;
  readonly workflowUid: string;
  /** Phase of the entrypoint alone (before the exit handler could change `status`). */
  readonly entrypointPhase: NodePhase;
  /** Container steps of the entrypoint, in start order (exit handler steps are in `exitHandler.nodes`). */
  readonly nodes: readonly NodeResult[];
  /** Failed/Error nodes of the entrypoint, as passed to the exit handler (decoded). */
  readonly failures: readonly FailedNode[];
  readonly exitHandler?: ExitHandlerResult;
  readonly workDir: string;
  /** volumeClaimTemplates name -> host directory (shared by all steps). */
  readonly volumes: Readonly<Record<string, string>>;
  /** Removes workDir (only when the runner created it). */
  cleanup(): void;
}
