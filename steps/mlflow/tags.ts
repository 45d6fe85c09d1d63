// Tag and param keys model-mirror writes; other tools (dashboards, cleanup jobs) may rely on them.
export const TAG = {
  sourceRepo: 'model_mirror.source_repo',
  requestedRevision: 'model_mirror.requested_revision',
  commitSha: 'model_mirror.commit_sha',
  /** fileSetHash of the files a version holds (steps/common/file-set.ts): part of its identity. */
  fileSet: 'model_mirror.file_set',
  /** Last time a rerun found the version already registered and re-applied its alias/tags. */
  lastResync: 'model_mirror.last_resync',
  hubUrl: 'model_mirror.hub_url',
  toolVersion: 'model_mirror.tool_version',
  registeredModel: 'model_mirror.registered_model',
  modelVersion: 'model_mirror.model_version',
  loggedModelId: 'model_mirror.logged_model_id',
  reusedVersion: 'model_mirror.reused_version',
  workflowStatus: 'model_mirror.workflow_status',
  failureReason: 'model_mirror.failure_reason',
  artifactUri: 'model_mirror.artifact_uri',
  /** The Argo workflow whose prepare created the run (closes it if that workflow dies unfinished). */
  argoWorkflow: 'model_mirror.argo_workflow',
  /** Who is writing into a RUNNING run (`host/pid/nonce`) and until when (epoch ms): see run-lease.ts. */
  leaseOwner: 'model_mirror.lease_owner',
  leaseExpires: 'model_mirror.lease_expires',
  /** How many mirrors have written into this run's prefix (a rerun adopts a failed run: adopt-run.ts). */
  attempts: 'model_mirror.attempts',
  /** The failure reason of the attempt before an adoption reopened the run. */
  previousFailure: 'model_mirror.previous_failure',
  /** `name/version` (or a run id) that made this run's files unnecessary; such a run is never adopted. */
  supersededBy: 'model_mirror.superseded_by',
  /** When sweep-failed-runs.ts deleted this run's objects and open multipart uploads. */
  swept: 'model_mirror.swept',
  // MLflow's own
  sourceName: 'mlflow.source.name',
  sourceType: 'mlflow.source.type',
  user: 'mlflow.user',
} as const;

export const PARAM = {
  sourceRepo: 'source_repo',
  requestedRevision: 'requested_revision',
  registeredModelName: 'registered_model_name',
  task: 'task',
  commitSha: 'commit_sha',
  fileCount: 'file_count',
  totalBytes: 'total_bytes',
} as const;
