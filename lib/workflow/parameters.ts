// The WorkflowTemplate's arguments (what a user passes to `argo submit --from
// workflowtemplate/model-mirror -p model_id=...`), and the expressions derived from them.
//
// There is deliberately no `storage_size` parameter: Argo decodes volumeClaimTemplates into
// Kubernetes types before substituting parameters, so a templated PVC size is rejected at
// submission ("quantities must match the regular expression ...", argoproj/argo-workflows#1932).
// The scratch volume size is config (workflow.storageSize); a Workflow that references this
// template can still override spec.volumeClaimTemplates for one unusually large model.

export interface ParameterDefaults {
  readonly revision: string;
  readonly experiment: string;
}

export interface WorkflowParameter {
  readonly name: string;
  /** Undefined = required at submission. */
  readonly value?: string;
  readonly description: string;
  readonly enum?: readonly string[];
}

export const PARAM = {
  modelId: 'model_id',
  revision: 'revision',
  modelName: 'model_name',
  task: 'task',
  allowPatterns: 'allow_patterns',
  ignorePatterns: 'ignore_patterns',
  alias: 'alias',
  experiment: 'experiment',
  policyNarrowing: 'policy_narrowing',
} as const;

export function workflowParameters(d: ParameterDefaults): WorkflowParameter[] {
  return [
    { name: PARAM.modelId, description: 'HuggingFace Hub repository id to mirror, e.g. "Qwen/Qwen2.5-0.5B-Instruct". Required.' },
    { name: PARAM.revision, value: d.revision, description: 'Branch, tag or commit sha on the Hub. The resolved commit is recorded on the MLflow run and model version.' },
    {
      name: PARAM.modelName, value: '',
      description: 'Registered model name in MLflow. Empty (default): derived from model_id with "/" replaced by "--" ("Qwen/Qwen2.5-0.5B" -> "Qwen--Qwen2.5-0.5B"); MLflow names cannot contain "/" and the Hub forbids "--" in repo names, so the mapping is reversible.',
    },
    { name: PARAM.task, value: '', description: 'Optional transformers task recorded with the model (e.g. "text-generation"). Empty: not set.' },
    { name: PARAM.allowPatterns, value: '', description: 'Optional comma-separated glob patterns of files to download (e.g. "*.safetensors,*.json"). Empty: all files.' },
    { name: PARAM.ignorePatterns, value: '', description: 'Optional comma-separated glob patterns of files to skip (e.g. "*.bin,*.pt"). Empty: none.' },
    { name: PARAM.alias, value: '', description: 'Optional MLflow alias to point at the new version (e.g. "staging"). Empty: no alias.' },
    { name: PARAM.experiment, value: d.experiment, description: 'MLflow experiment the mirror run is logged under (created if missing).' },
    {
      name: PARAM.policyNarrowing, value: '',
      description: 'Optional extra policy layer (YAML flow/JSON, e.g. "{licenses: [apache-2.0], allowRemoteCode: false}") the repo must pass on top of the policy in the template: it can only add restrictions, never lift one. Empty: none.',
    },
  ];
}

/** `{{workflow.parameters.<name>}}` */
export function wfParam(name: string): string {
  return `{{workflow.parameters.${name}}}`;
}

/**
 * The registered model name: model_name if given, else model_id with "/" -> "--". An Argo
 * expression tag, evaluated by the controller when it substitutes the step arguments.
 */
export const MODEL_NAME_EXPRESSION =
  `{{=workflow.parameters.${PARAM.modelName} != '' ? workflow.parameters.${PARAM.modelName} : sprig.replace('/', '--', workflow.parameters.${PARAM.modelId})}}`;

/**
 * The workflow-level mutex: one mirror per model_id at a time (two revisions of a model would
 * race on the same registered model). Argo stores a mutex as `<namespace>/Mutex/<name>` and
 * decodes it with SplitN(key, "/", 3), so the "/" of a Hub id stays inside the name; Hub ids use
 * only [A-Za-z0-9._-] besides that "/", so no other escaping is needed.
 */
export const MUTEX_NAME = `model-mirror-${wfParam(PARAM.modelId)}`;
