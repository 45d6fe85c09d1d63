// The catalog as an Argo CronWorkflow. Each scheduled run submits one Workflow per entry from the
// mirror WorkflowTemplate (workflowTemplateRef), at most `parallelism` at a time, waits for each,
// then a summary step counts them: new, unchanged, refused, failed.
//
// Why a Workflow per entry and not a step with a templateRef to the template's `mirror` steps:
// a mirror's state lives at the workflow level (its scratch PVC from volumeClaimTemplates, its
// per-model mutex, its exit handler that closes the MLflow run, its global outputs and metrics).
// Entries sharing one workflow would share one /work volume and one exit handler. As separate
// Workflows each entry is exactly what `argo submit --from workflowtemplate/...` runs.
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { restrictedContainerSecurityContext, TMP_PATH } from '../common/security';
import type { ResourcesConfig } from '../config';
import type { ExecutorSecurityContextSource, MirrorWorkflowTemplate } from '../workflow/mirror-workflow-template';
import { executorPodSpecPatch } from '../workflow/mirror-workflow-template';
import type { CatalogConfig, CatalogEntry } from './catalog-config';
import { CATALOG_ENTRY_FIELDS, CATALOG_OUTPUTS, CATALOG_RESULT_FIELDS } from '../../steps/catalog/summary';

export interface CatalogCronWorkflowProps {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly catalog: CatalogConfig;
  readonly workflowTemplate: MirrorWorkflowTemplate;
  /** The model-mirror image (runs the summary). */
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly runAsUser: number;
  readonly tmpSizeLimit: string;
  readonly resources: ResourcesConfig;
  readonly executorSecurityContext: ExecutorSecurityContextSource;
}

/** Label on every Workflow a catalog sync submits. */
export const CATALOG_LABEL = 'model-mirror.io/catalog';
/** Label with the name of the sync (the CronWorkflow's Workflow) that submitted it. */
export const CATALOG_RUN_LABEL = 'model-mirror.io/catalog-run';
const SUMMARY_DIR = `${TMP_PATH}/outputs/summary`;

export class CatalogCronWorkflow extends Construct {
  readonly name: string;
  readonly cronWorkflow: ApiObject;
  readonly serviceAccountName: string;

  constructor(scope: Construct, id: string, props: CatalogCronWorkflowProps) {
    super(scope, id);
    const c = props.catalog;
    this.name = c.name;
    this.serviceAccountName = c.name;
    const uid = props.runAsUser;
    const metadata = { name: c.name, namespace: props.namespace, labels: { ...props.labels } };

    // The sync submits and watches Workflows (argoexec's resource action) and reports step
    // outputs (WorkflowTaskResults); nothing else.
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata });
    new k8s.KubeRole(this, 'Role', {
      metadata,
      rules: [
        { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['create', 'get', 'list', 'watch', 'patch'] },
        { apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] },
      ],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: c.name },
      subjects: [{ kind: 'ServiceAccount', name: c.name, namespace: props.namespace }],
    });

    const input = (name: string): string => `{{inputs.parameters.${name}}}`;
    // The child Workflow, as JSON (a YAML superset): every value is a validated config value
    // or one of them substituted by Argo, none can contain a quote.
    const child = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: {
        generateName: `${props.workflowTemplate.name}-`,
        // Which catalog, and which sync of it, submitted this Workflow.
        labels: { [CATALOG_LABEL]: c.name, [CATALOG_RUN_LABEL]: '{{workflow.name}}' },
      },
      spec: {
        workflowTemplateRef: { name: props.workflowTemplate.name },
        arguments: { parameters: CATALOG_ENTRY_FIELDS.map((name) => ({ name, value: input(name) })) },
      },
    };
    const param = (name: string): string => `{.spec.arguments.parameters[?(@.name=="${name}")].value}`;
    const entryTemplate = {
      name: 'mirror-entry',
      inputs: { parameters: CATALOG_ENTRY_FIELDS.map((name) => ({ name })) },
      resource: {
        action: 'create',
        setOwnerReference: true,
        manifest: JSON.stringify(child, null, 2),
        // Done whatever the outcome: a failed entry is counted by the summary, not fatal here.
        successCondition: 'status.phase in (Succeeded,Failed,Error)',
      },
      outputs: {
        parameters: [
          { name: CATALOG_RESULT_FIELDS.workflow, valueFrom: { jsonPath: '{.metadata.name}' } },
          { name: CATALOG_RESULT_FIELDS.modelId, valueFrom: { jsonPath: param('model_id') } },
          { name: CATALOG_RESULT_FIELDS.revision, valueFrom: { jsonPath: param('revision') } },
          { name: CATALOG_RESULT_FIELDS.phase, valueFrom: { jsonPath: '{.status.phase}' } },
          // The child's global outputs (run_id, commit_sha, model_version, ...) as JSON.
          { name: CATALOG_RESULT_FIELDS.outputs, valueFrom: { jsonPath: '{.status.outputs.parameters}' } },
        ],
      },
    };

    const summaryTemplate = {
      name: 'summary',
      // Argo's init/wait containers pass Pod Security `restricted` as in the mirror template. Only
      // here: a resource step's pod has no `wait` container (a patch would add one with no
      // image), and Argo already locks down its argoexec containers.
      ...(props.executorSecurityContext === 'podSpecPatch' ? { podSpecPatch: executorPodSpecPatch() } : {}),
      inputs: { parameters: [{ name: 'results' }] },
      outputs: {
        parameters: CATALOG_OUTPUTS.map((name) => ({
          name, globalName: name, valueFrom: { path: `${SUMMARY_DIR}/${name}`, default: '' },
        })),
      },
      container: {
        image: props.image,
        imagePullPolicy: props.imagePullPolicy,
        command: ['model-mirror'],
        args: [
          'catalog-summary',
          '--entries', JSON.stringify(c.models.map(entryArguments)),
          '--results', input('results'),
          '--output-dir', SUMMARY_DIR,
        ],
        env: [{ name: 'HOME', value: TMP_PATH }, { name: 'TMPDIR', value: TMP_PATH }, { name: 'MODEL_MIRROR_LOG_FORMAT', value: 'json' }],
        resources: {
          requests: { cpu: props.resources.requests.cpu, memory: props.resources.requests.memory },
          limits: { ...(props.resources.limits.cpu ? { cpu: props.resources.limits.cpu } : {}), memory: props.resources.limits.memory },
        },
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: [{ name: 'tmp', mountPath: TMP_PATH }],
      },
    };

    const syncTemplate = {
      name: 'sync',
      // Bounded: at most this many entries (child Workflows) in flight.
      parallelism: c.parallelism,
      steps: [
        [{
          name: 'mirror',
          template: 'mirror-entry',
          arguments: { parameters: CATALOG_ENTRY_FIELDS.map((name) => ({ name, value: `{{item.${name}}}` })) },
          withItems: c.models.map(entryArguments),
          // One entry that cannot even be submitted does not stop the others or the summary.
          continueOn: { failed: true },
        }],
        [{
          name: 'summary',
          template: 'summary',
          arguments: { parameters: [{ name: 'results', value: '{{steps.mirror.outputs.parameters}}' }] },
        }],
      ],
    };


    this.cronWorkflow = new ApiObject(this, 'Resource', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'CronWorkflow',
      metadata: { ...metadata },
      spec: {
        schedules: [c.schedule],
        ...(c.timezone ? { timezone: c.timezone } : {}),
        // A sync still running when the next one is due: skip the new one.
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        suspend: c.suspend,
        workflowSpec: {
          entrypoint: 'sync',
          serviceAccountName: this.serviceAccountName,
          podGC: { strategy: 'OnPodSuccess' },
          ttlStrategy: { secondsAfterSuccess: 86400, secondsAfterFailure: 7 * 86400 },
          securityContext: {
            runAsUser: uid, runAsGroup: uid, runAsNonRoot: true, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' },
          },
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: props.tmpSizeLimit } }],
          templates: [syncTemplate, entryTemplate, summaryTemplate],
        },
      },
    });
  }
}

/** The WorkflowTemplate arguments of one entry (all strings; '' = the template's default). */
function entryArguments(e: CatalogEntry): Record<string, string> {
  return Object.fromEntries(CATALOG_ENTRY_FIELDS.map((name) => [name, e[name]]));
}

export function buildCatalog(scope: Construct, id: string, props: CatalogCronWorkflowProps): CatalogCronWorkflow {
  return new CatalogCronWorkflow(scope, id, props);
}
