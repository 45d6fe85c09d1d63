// The `model-mirror` Argo WorkflowTemplate: steps prepare -> transfer -> register -> verify (or,
// with `transfer: 'sequential'`, prepare -> download -> upload -> register -> verify), each a
// container running the model-mirror CLI on a per-run PVC mounted at /work, with an exit handler
// (finalize) that records the outcome on the MLflow run.
//
// The transfer step is one container running `model-mirror transfer` (download and upload
// overlapped in one process), not a containerSet of `download` and `upload`: the handoff of
// verified bytes is in-process (GrowingFile), where two processes would have to poll half-written
// files; its log shows both sides' progress; a retried attempt resumes both sides (`.part` files
// on the PVC, open multipart uploads under the run's prefix).
//
// It uses only: steps/container templates, inputs/outputs parameters (valueFrom.path),
// arguments.parameters, retryStrategy, onExit, volumeClaimTemplates, volumes (emptyDir),
// synchronization, metrics, podGC, ttlStrategy, activeDeadlineSeconds, serviceAccountName,
// securityContext (+ podMetadata only when the MLflow NetworkPolicy needs a pod label).
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import * as argo from '../../imports/argo-argoproj.io';
import { restrictedContainerSecurityContext, TMP_PATH } from '../common/security';
import type { ResourcesConfig, RetryPolicy } from '../config';
import { MODEL_MIRROR_IMAGE_UID } from '../config';
import type { S3Credentials } from '../seaweedfs/s3-credentials';
import { MODEL_NAME_EXPRESSION, MUTEX_NAME, PARAM, ParameterDefaults, wfParam, workflowParameters } from './parameters';
import { PERMANENT_EXIT_CODES } from '../../steps/common/errors';
import type { PolicyLayer } from '../../steps/policy/policy';

/** Where the PVC is mounted, and the layout the CLI contract uses under it. */
export const WORK_DIR = '/work';
export const MODEL_DIR = `${WORK_DIR}/model`;
export const outputsDir = (step: string): string => `${WORK_DIR}/outputs/${step}`;

export interface RetrySettings {
  readonly limit: number;
  readonly policy: RetryPolicy;
  readonly backoffDuration: string;
  readonly factor: number;
  readonly maxDuration: string;
  /** Exit codes that end the retries at once. @default PERMANENT_EXIT_CODES (2, 3, 4, 7, 8, 9) */
  readonly noRetryExitCodes?: readonly number[];
}

export interface MirrorWorkflowTemplateProps {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `<registry>/<repository>:<tag>` of the model-mirror image. */
  readonly image: string;
  readonly s3: S3Credentials;
  /** e.g. http://mlflow.model-mirror.svc.cluster.local:5000 */
  readonly mlflowTrackingUri: string;
  /** Credentials for the tracking server (Secret refs; mlflow.external). @default - none */
  readonly mlflowAuthEnv?: readonly k8s.EnvVar[];
  readonly serviceAccountName: string;
  /** @default 'model-mirror' */
  readonly name?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: string;
  /** @default 'https://huggingface.co' */
  readonly hfEndpoint?: string;
  /** Secret with the Hub token, exposed as HF_TOKEN to prepare and download. @default - no token */
  readonly hfToken?: { readonly secretName: string; readonly key: string; readonly required: boolean };
  /** @default { revision: 'main', experiment: 'model-mirror' } */
  readonly defaults?: ParameterDefaults;
  /** Size of the per-run scratch PVC at /work; must exceed the largest model mirrored. @default '50Gi' */
  readonly storageSize?: string;
  /** @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** @default 21600 (6 hours) */
  readonly activeDeadlineSeconds?: number;
  /**
   * Seconds every step, the exit handler (finalize) included, keeps waiting while MLflow or S3
   * restarts (MODEL_MIRROR_UNAVAILABLE_TIMEOUT). @default 180
   */
  readonly unavailableTimeoutSeconds?: number;
  /** @default 7 days after completion/failure, 1 day after success */
  readonly ttl?: { readonly secondsAfterCompletion: number; readonly secondsAfterSuccess: number; readonly secondsAfterFailure: number };
  /** @default 'OnPodSuccess' (failed pods stay for `kubectl logs`) */
  readonly podGC?: string;
  /**
   * Retry on the network steps (download, upload, register). Argo waits out the backoff before it
   * evaluates the retry expression, so a permanent failure still waits the first backoff: keep it short.
   * @default 4 x Always, 10s * 3^n (10s, 30s, 90s, 270s), max 30m
   */
  readonly retry?: RetrySettings;
  /** Resources of prepare/register/verify/finalize. @default 100m/256Mi requests, 1/512Mi limits */
  readonly lightResources?: ResourcesConfig;
  /** Resources of download/upload. @default 500m/512Mi requests, 2/2Gi limits */
  readonly transferResources?: ResourcesConfig;
  /** @default 65532 (the image's nonroot user) */
  readonly runAsUser?: number;
  /** @default '1Gi' */
  readonly tmpSizeLimit?: string;
  /** Prometheus metrics (duration, bytes). @default true */
  readonly metrics?: boolean;
  /** Labels put on every workflow pod (spec.podMetadata), e.g. for a NetworkPolicy. @default - none */
  readonly podLabels?: Readonly<Record<string, string>>;
  /**
   * Who gives Argo's own `init` and `wait` containers a securityContext that Pod Security
   * `restricted` admits. `podSpecPatch`: this template does (spec.podSpecPatch); `controller`:
   * the cluster's workflow-controller ConfigMap does (`executor.securityContext`).
   * @default 'podSpecPatch'
   */
  readonly executorSecurityContext?: ExecutorSecurityContextSource;
  /**
   * The mirroring policy (config `policy:`), a fixed `--policy` argument of prepare and download.
   * No parameter reaches it: a submission's `policy_narrowing` is a separate `--narrow-policy`
   * layer, which the CLI ANDs with it, so a submission can only narrow. @default - none
   */
  readonly policy?: PolicyLayer;
  /** One `transfer` step (download and upload overlapped), or the `download` and `upload` steps. @default 'overlapped' */
  readonly transfer?: TransferMode;
  /**
   * The transfer step deletes each file once it is in S3 and verified (`--bounded-scratch`): the
   * PVC (storageSize) then needs the largest files in flight, not the whole model. Only with
   * `transfer: 'overlapped'`. @default false
   */
  readonly boundedScratch?: boolean;
}

/** How the model moves: one overlapped `transfer` step, or `download` then `upload`. */
export type TransferMode = 'overlapped' | 'sequential';

export type ExecutorSecurityContextSource = 'podSpecPatch' | 'controller';

/** The names Argo gives the executor containers it adds to every pod (v3.7 and v4 alike). */
export const ARGO_EXECUTOR_CONTAINERS = { init: 'init', wait: 'wait' } as const;

/**
 * A pod spec patch (strategic merge, by container name) that gives Argo's `init` and `wait`
 * containers the restricted securityContext. Argo adds those containers after the template's
 * own and applies spec.podSpecPatch last, and no controller default sets one, so without this
 * the namespace's Pod Security `restricted` admission refuses every workflow pod.
 */
export function executorPodSpecPatch(): string {
  const securityContext = restrictedContainerSecurityContext();
  return JSON.stringify({
    initContainers: [{ name: ARGO_EXECUTOR_CONTAINERS.init, securityContext }],
    containers: [{ name: ARGO_EXECUTOR_CONTAINERS.wait, securityContext }],
  });
}

type Container = argo.WorkflowTemplateSpecTemplatesContainer;
type Template = argo.WorkflowTemplateSpecTemplates;
type Prometheus = argo.WorkflowTemplateSpecTemplatesMetricsPrometheus;

const DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export class MirrorWorkflowTemplate extends Construct {
  readonly workflowTemplate: argo.WorkflowTemplate;
  readonly name: string;

  constructor(scope: Construct, id: string, props: MirrorWorkflowTemplateProps) {
    super(scope, id);
    this.name = props.name ?? 'model-mirror';
    const defaults = props.defaults ?? { revision: 'main', experiment: 'model-mirror' };
    const light = props.lightResources ?? { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } };
    const transfer = props.transferResources ?? { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } };
    const retry = props.retry ?? { limit: 4, policy: 'Always', backoffDuration: '10s', factor: 3, maxDuration: '30m' };
    const noRetryExitCodes = retry.noRetryExitCodes ?? PERMANENT_EXIT_CODES;
    const metricsOn = props.metrics ?? true;
    const uid = props.runAsUser ?? MODEL_MIRROR_IMAGE_UID;

    const baseEnv: k8s.EnvVar[] = [
      { name: 'MLFLOW_TRACKING_URI', value: props.mlflowTrackingUri },
      ...(props.mlflowAuthEnv ?? []),
      ...props.s3.containerEnv(),
      { name: 'HF_ENDPOINT', value: props.hfEndpoint ?? 'https://huggingface.co' },
      { name: 'HF_HUB_DISABLE_TELEMETRY', value: '1' },
      { name: 'HOME', value: TMP_PATH },
      { name: 'TMPDIR', value: TMP_PATH },
      { name: 'MODEL_MIRROR_LOG_FORMAT', value: 'json' },
      // The same restart budget for every step and for finalize (which has no Argo retry).
      { name: 'MODEL_MIRROR_UNAVAILABLE_TIMEOUT', value: String(props.unavailableTimeoutSeconds ?? 180) },
    ];
    const hubEnv: k8s.EnvVar[] = props.hfToken
      ? [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: props.hfToken.secretName, key: props.hfToken.key, optional: !props.hfToken.required } } }]
      : [];

    const container = (args: string[], resources: ResourcesConfig, extraEnv: k8s.EnvVar[] = []): Container => ({
      image: props.image,
      imagePullPolicy: props.imagePullPolicy ?? 'IfNotPresent',
      command: ['model-mirror'],
      args,
      workingDir: WORK_DIR,
      env: [...baseEnv, ...extraEnv] as argo.WorkflowTemplateSpecTemplatesContainerEnv[],
      resources: {
        requests: {
          cpu: argo.WorkflowTemplateSpecTemplatesContainerResourcesRequests.fromString(resources.requests.cpu),
          memory: argo.WorkflowTemplateSpecTemplatesContainerResourcesRequests.fromString(resources.requests.memory),
        },
        limits: {
          ...(resources.limits.cpu ? { cpu: argo.WorkflowTemplateSpecTemplatesContainerResourcesLimits.fromString(resources.limits.cpu) } : {}),
          memory: argo.WorkflowTemplateSpecTemplatesContainerResourcesLimits.fromString(resources.limits.memory),
        },
      },
      securityContext: restrictedContainerSecurityContext() as argo.WorkflowTemplateSpecTemplatesContainerSecurityContext,
      volumeMounts: [{ name: 'work', mountPath: WORK_DIR }, { name: 'tmp', mountPath: TMP_PATH }],
    });
    const inputs = (...names: string[]): argo.WorkflowTemplateSpecTemplatesInputs => ({ parameters: names.map((name) => ({ name })) });
    const input = (name: string): string => `{{inputs.parameters.${name}}}`;
    // The base policy is part of the template (fixed args); the parameter only adds a layer.
    const policyArgs = (): string[] => [
      ...(props.policy ? ['--policy', JSON.stringify(props.policy)] : []),
      '--narrow-policy', input(PARAM.policyNarrowing),
    ];
    // A default: a step that fails before writing its outputs must not also fail Argo's `wait`
    // container (exit 64, "open /mainctrfs/work/outputs/...: no such file"), which hides the
    // step's own exit code from the retry expression.
    const outputFile = (step: string, name: string, globalName?: string): argo.WorkflowTemplateSpecTemplatesOutputsParameters => ({
      name, globalName, valueFrom: { path: `${outputsDir(step)}/${name}`, default: '' },
    });
    const retryStrategy: argo.WorkflowTemplateSpecTemplatesRetryStrategy = {
      limit: argo.WorkflowTemplateSpecTemplatesRetryStrategyLimit.fromNumber(retry.limit),
      retryPolicy: retry.policy as argo.WorkflowTemplateSpecTemplatesRetryStrategyRetryPolicy,
      backoff: {
        duration: retry.backoffDuration,
        factor: argo.WorkflowTemplateSpecTemplatesRetryStrategyBackoffFactor.fromNumber(retry.factor),
        maxDuration: retry.maxDuration,
      },
      // Fail fast on exit codes that mean bad input, not found, auth, disk or conflict; a pod
      // that never reported an exit code (deleted, evicted: "-1") or was OOM-killed is retried.
      ...(noRetryExitCodes.length
        ? { expression: `!(lastRetry.exitCode in [${noRetryExitCodes.map((c) => `"${c}"`).join(', ')}])` }
        : {}),
    };
    const stepDuration = (step: string): Prometheus => ({
      name: 'model_mirror_step_duration_seconds',
      help: 'Duration of model-mirror workflow steps, by step and final status',
      labels: [{ key: 'step', value: step }, { key: 'status', value: '{{status}}' }],
      histogram: { value: '{{duration}}', buckets: DURATION_BUCKETS },
    });
    // A counter fed by a step's own output parameter, counted only when the step succeeded.
    const bytesCounter = (name: string, help: string, outputParameter: string): Prometheus => ({
      name, help, when: '{{status}} == Succeeded', counter: { value: `{{outputs.parameters.${outputParameter}}}` },
    });
    const metrics = (...list: Prometheus[]): argo.WorkflowTemplateSpecTemplatesMetrics | undefined =>
      metricsOn ? { prometheus: list } : undefined;

    // prepare also adopts the run a failed or unfinished attempt for the same identity left (a
    // resubmitted workflow, or this workflow's own earlier prepare): same run and S3 prefix, so
    // download/upload move only what is missing (steps/mlflow/adopt-run.ts).
    const prepare: Template = {
      name: 'prepare',
      inputs: inputs(PARAM.modelId, PARAM.revision, PARAM.experiment, 'model_name', PARAM.task, PARAM.alias, PARAM.allowPatterns, PARAM.ignorePatterns, PARAM.policyNarrowing),
      outputs: {
        parameters: [
          // reused: "true" when this (repo, commit, file selection) is already a READY version:
          // then version holds it, run_id is empty, and the transfer and register steps are skipped.
          outputFile('prepare', 'reused'),
          outputFile('prepare', 'version'),
          outputFile('prepare', 'run_id', 'run_id'),
          outputFile('prepare', 'artifact_uri'),
          outputFile('prepare', 's3_destination'),
          outputFile('prepare', 'experiment_id'),
          // The commit it checked: download/transfer fetch exactly it (--commit), not the branch's head by then.
          outputFile('prepare', 'commit_sha'),
        ],
      },
      container: container([
        'prepare',
        '--model-id', input(PARAM.modelId),
        '--revision', input(PARAM.revision),
        '--experiment', input(PARAM.experiment),
        '--model-name', input('model_name'),
        '--task', input(PARAM.task),
        '--alias', input(PARAM.alias),
        '--allow-patterns', input(PARAM.allowPatterns),
        '--ignore-patterns', input(PARAM.ignorePatterns),
        '--argo-workflow', '{{workflow.name}}',
        ...policyArgs(),
        '--output-dir', outputsDir('prepare'),
      ], light, hubEnv),
      metrics: metrics(stepDuration('prepare')),
    };

    const download: Template = {
      name: 'download',
      inputs: inputs(PARAM.modelId, PARAM.revision, 'commit', PARAM.allowPatterns, PARAM.ignorePatterns, PARAM.policyNarrowing),
      outputs: { parameters: [outputFile('download', 'total_bytes'), outputFile('download', 'commit_sha', 'commit_sha')] },
      container: container([
        'download',
        '--model-id', input(PARAM.modelId),
        '--revision', input(PARAM.revision),
        '--commit', input('commit'),
        '--dest', MODEL_DIR,
        '--allow-patterns', input(PARAM.allowPatterns),
        '--ignore-patterns', input(PARAM.ignorePatterns),
        ...policyArgs(),
        '--output-dir', outputsDir('download'),
      ], transfer, hubEnv),
      retryStrategy,
      metrics: metrics(stepDuration('download'),
        bytesCounter('model_mirror_downloaded_bytes_total', 'Bytes downloaded from the HuggingFace Hub by model-mirror', 'total_bytes')),
    };

    const upload: Template = {
      name: 'upload',
      inputs: inputs('s3_destination'),
      outputs: { parameters: [outputFile('upload', 'bytes_uploaded'), outputFile('upload', 'objects_uploaded'), outputFile('upload', 'objects_skipped')] },
      container: container(['upload', '--source', MODEL_DIR, '--dest', input('s3_destination'), '--output-dir', outputsDir('upload')], transfer),
      retryStrategy,
      metrics: metrics(stepDuration('upload'),
        bytesCounter('model_mirror_uploaded_bytes_total', 'Bytes uploaded to S3 by model-mirror (objects already present are not counted)', 'bytes_uploaded')),
    };

    // download and upload in one step (see the file comment); the same outputs as both.
    const transferStep: Template = {
      name: 'transfer',
      inputs: inputs(PARAM.modelId, PARAM.revision, 'commit', PARAM.allowPatterns, PARAM.ignorePatterns, PARAM.policyNarrowing, 's3_destination'),
      outputs: {
        parameters: [
          outputFile('transfer', 'total_bytes'), outputFile('transfer', 'commit_sha', 'commit_sha'), outputFile('transfer', 'bytes_downloaded'),
          outputFile('transfer', 'bytes_uploaded'), outputFile('transfer', 'objects_uploaded'), outputFile('transfer', 'objects_skipped'),
          outputFile('transfer', 'transfer_seconds'),
        ],
      },
      container: container([
        'transfer',
        '--model-id', input(PARAM.modelId),
        '--revision', input(PARAM.revision),
        '--commit', input('commit'),
        '--dest', MODEL_DIR,
        '--s3-destination', input('s3_destination'),
        '--allow-patterns', input(PARAM.allowPatterns),
        '--ignore-patterns', input(PARAM.ignorePatterns),
        ...policyArgs(),
        ...(props.boundedScratch ? ['--bounded-scratch'] : []),
        '--output-dir', outputsDir('transfer'),
      ], transfer, hubEnv),
      retryStrategy,
      // The same series as the two steps it replaces: the step label says which path ran.
      metrics: metrics(stepDuration('transfer'),
        bytesCounter('model_mirror_downloaded_bytes_total', 'Bytes downloaded from the HuggingFace Hub by model-mirror', 'total_bytes'),
        bytesCounter('model_mirror_uploaded_bytes_total', 'Bytes uploaded to S3 by model-mirror (objects already present are not counted)', 'bytes_uploaded')),
    };

    const register: Template = {
      name: 'register',
      inputs: inputs('run_id', 'model_name', PARAM.task, PARAM.alias),
      outputs: { parameters: [outputFile('register', 'version', 'model_version'), outputFile('register', 'model_uri', 'model_uri')] },
      container: container([
        'register',
        '--source', MODEL_DIR,
        '--run-id', input('run_id'),
        '--model-name', input('model_name'),
        '--task', input(PARAM.task),
        '--alias', input(PARAM.alias),
        '--output-dir', outputsDir('register'),
      ], light),
      retryStrategy,
      metrics: metrics(stepDuration('register')),
    };

    const verify: Template = {
      name: 'verify',
      inputs: inputs('run_id', 'model_name', 'version'),
      container: container([
        'verify', '--source', MODEL_DIR, '--run-id', input('run_id'), '--model-name', input('model_name'), '--version', input('version'),
      ], light),
      metrics: metrics(stepDuration('verify')),
    };

    // Exit handler. If prepare never produced a run id, Argo leaves the tag unsubstituted and
    // finalize sees the literal "{{workflow.outputs.parameters.run_id}}" (see the report/README).
    // Its `failure_class` (permanent / transient / none) becomes a workflow output: the catalog's
    // summary tells a refused entry (not on the Hub, policy) from one a later sync may fix.
    const finalize: Template = {
      name: 'finalize',
      outputs: { parameters: [outputFile('finalize', 'failure_class', 'failure_class')] },
      container: container([
        'finalize',
        '--run-id', '{{workflow.outputs.parameters.run_id}}',
        '--workflow-status', '{{workflow.status}}',
        '--failures', '{{workflow.failures}}',
        '--model-name', MODEL_NAME_EXPRESSION,
        '--output-dir', outputsDir('finalize'),
      ], light),
    };

    const p = (name: string, value: string) => ({ name, value });
    // prepare's `reused` output decides between transferring and only verifying the version.
    // Quoted on both sides: govaluate reads a bare `true` as a boolean, never equal to 'true'.
    const TRANSFER = "'{{steps.prepare.outputs.parameters.reused}}' != 'true'";
    const REUSED = "'{{steps.prepare.outputs.parameters.reused}}' == 'true'";
    const sourceArgs = [
      p(PARAM.modelId, wfParam(PARAM.modelId)), p(PARAM.revision, wfParam(PARAM.revision)),
      p('commit', '{{steps.prepare.outputs.parameters.commit_sha}}'),
      p(PARAM.allowPatterns, wfParam(PARAM.allowPatterns)), p(PARAM.ignorePatterns, wfParam(PARAM.ignorePatterns)),
      p(PARAM.policyNarrowing, wfParam(PARAM.policyNarrowing)),
    ];
    const s3Destination = p('s3_destination', '{{steps.prepare.outputs.parameters.s3_destination}}');
    const overlapped = (props.transfer ?? 'overlapped') === 'overlapped';
    const transferSteps: argo.WorkflowTemplateSpecTemplatesSteps[][] = overlapped
      ? [[{ name: 'transfer', template: 'transfer', when: TRANSFER, arguments: { parameters: [...sourceArgs, s3Destination] } }]]
      : [
        [{ name: 'download', template: 'download', when: TRANSFER, arguments: { parameters: sourceArgs } }],
        [{ name: 'upload', template: 'upload', when: TRANSFER, arguments: { parameters: [s3Destination] } }],
      ];
    const mirror: Template = {
      name: 'mirror',
      steps: [
        [{
          name: 'prepare', template: 'prepare',
          arguments: {
            parameters: [
              p(PARAM.modelId, wfParam(PARAM.modelId)), p(PARAM.revision, wfParam(PARAM.revision)),
              p(PARAM.experiment, wfParam(PARAM.experiment)), p('model_name', MODEL_NAME_EXPRESSION), p(PARAM.task, wfParam(PARAM.task)),
              p(PARAM.alias, wfParam(PARAM.alias)),
              p(PARAM.allowPatterns, wfParam(PARAM.allowPatterns)), p(PARAM.ignorePatterns, wfParam(PARAM.ignorePatterns)),
              p(PARAM.policyNarrowing, wfParam(PARAM.policyNarrowing)),
            ],
          },
        }],
        ...transferSteps,
        [{
          name: 'register', template: 'register', when: TRANSFER,
          arguments: {
            parameters: [
              p('run_id', '{{steps.prepare.outputs.parameters.run_id}}'), p('model_name', MODEL_NAME_EXPRESSION),
              p(PARAM.task, wfParam(PARAM.task)), p(PARAM.alias, wfParam(PARAM.alias)),
            ],
          },
        }],
        [{
          name: 'verify', template: 'verify', when: TRANSFER,
          arguments: {
            parameters: [
              p('run_id', '{{steps.prepare.outputs.parameters.run_id}}'), p('model_name', MODEL_NAME_EXPRESSION),
              p('version', '{{steps.register.outputs.parameters.version}}'),
            ],
          },
        }, {
          // prepare found the version: verify checks it (files listed through MLflow against the
          // manifest stored next to them; no run of this workflow).
          name: 'verify-existing', template: 'verify', when: REUSED,
          arguments: {
            parameters: [
              p('run_id', '{{steps.prepare.outputs.parameters.run_id}}'), p('model_name', MODEL_NAME_EXPRESSION),
              p('version', '{{steps.prepare.outputs.parameters.version}}'),
            ],
          },
        }],
      ],
    };

    const ttl = props.ttl ?? { secondsAfterCompletion: 7 * 86400, secondsAfterSuccess: 86400, secondsAfterFailure: 7 * 86400 };
    this.workflowTemplate = new argo.WorkflowTemplate(this, 'Resource', {
      metadata: { name: this.name, namespace: props.namespace, labels: { ...props.labels } },
      spec: {
        entrypoint: 'mirror',
        onExit: 'finalize',
        serviceAccountName: props.serviceAccountName,
        arguments: {
          parameters: workflowParameters(defaults).map((wp) => ({
            name: wp.name, value: wp.value, description: wp.description, enum: wp.enum ? [...wp.enum] : undefined,
          })),
        },
        synchronization: { mutexes: [{ name: MUTEX_NAME }] },
        activeDeadlineSeconds: props.activeDeadlineSeconds ?? 6 * 3600,
        podGc: { strategy: (props.podGC ?? 'OnPodSuccess') as argo.WorkflowTemplateSpecPodGcStrategy },
        ttlStrategy: ttl,
        volumeClaimGc: { strategy: 'OnWorkflowCompletion' },
        podMetadata: props.podLabels ? { labels: { ...props.podLabels } } : undefined,
        podSpecPatch: (props.executorSecurityContext ?? 'podSpecPatch') === 'podSpecPatch' ? executorPodSpecPatch() : undefined,
        securityContext: {
          runAsUser: uid, runAsGroup: uid, runAsNonRoot: true, fsGroup: uid,
          fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' },
        },
        volumeClaimTemplates: [{
          metadata: { name: 'work' },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: props.storageClassName,
            resources: { requests: { storage: argo.WorkflowTemplateSpecVolumeClaimTemplatesSpecResourcesRequests.fromString(props.storageSize ?? '50Gi') } },
          },
        }],
        volumes: [{ name: 'tmp', emptyDir: { sizeLimit: argo.WorkflowTemplateSpecVolumesEmptyDirSizeLimit.fromString(props.tmpSizeLimit ?? '1Gi') } }],
        metrics: metricsOn ? {
          prometheus: [
            {
              name: 'model_mirror_workflow_duration_seconds',
              help: 'Duration of the last model-mirror workflow, by final status',
              labels: [{ key: 'status', value: '{{workflow.status}}' }],
              gauge: { realtime: false, value: '{{workflow.duration}}' },
            },
            {
              name: 'model_mirror_workflows_total',
              help: 'model-mirror workflows finished, by final status',
              labels: [{ key: 'status', value: '{{workflow.status}}' }],
              counter: { value: '1' },
            },
          ],
        } : undefined,
        templates: [mirror, prepare, ...(overlapped ? [transferStep] : [download, upload]), register, verify, finalize],
      },
    });
  }
}
