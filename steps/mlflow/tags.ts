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
  // The mirroring policy's decision (steps/policy): set on the run by prepare, copied to the version.
  /** `<name>` of the policy that passed the repo (`+narrowed` when a submission added layers). */
  policy: 'model_mirror.policy',
  /** `sha256:<16 hex>` of the policy's normalized layers. */
  policyHash: 'model_mirror.policy_hash',
  /** cardData.license, comma-joined, or `unknown`. */
  license: 'model_mirror.license',
  /** Weight formats of the mirrored files, e.g. `safetensors`. */
  weightFormats: 'model_mirror.weight_formats',
  /** Files the policy left out (pickle duplicates), comma-joined; `none` when none. */
  policySkipped: 'model_mirror.policy_skipped',
  /** `true` when the repo needs trust_remote_code (allowed by the policy). */
  remoteCode: 'model_mirror.remote_code',
  /** The Hub's scan of the mirrored files, `status=count` pairs. */
  hubScan: 'model_mirror.hub_scan',
  /** `false`, `auto` or `manual`. */
  gated: 'model_mirror.gated',
  /** Who is writing into a RUNNING run (`host/pid/nonce`) and until when (epoch ms): see run-lease.ts. */
  leaseOwner: 'model_mirror.lease_owner',
  leaseExpires: 'model_mirror.lease_expires',
  /** How many mirrors have written into this run's prefix (a rerun adopts a failed run: adopt-run.ts). */
  attempts: 'model_mirror.attempts',
  /** The failure reason of the attempt before an adoption reopened the run. */
  previousFailure: 'model_mirror.previous_failure',
  /**
   * The live runs of the same identity a mirror saw right after creating its run (comma-joined
   * run ids, or `none`): how concurrent creators agree on one run without a fixed wait (plan.ts).
   */
  creationSeen: 'model_mirror.creation_seen',
  /** `name/version` (or a run id) that made this run's files unnecessary; such a run is never adopted. */
  supersededBy: 'model_mirror.superseded_by',
  /** When sweep-failed-runs.ts deleted this run's objects and open multipart uploads. */
  swept: 'model_mirror.swept',
  // MLflow's own
  sourceName: 'mlflow.source.name',
  sourceType: 'mlflow.source.type',
  user: 'mlflow.user',
} as const;

/** The run tags `register` copies onto the version: the policy's decision travels with it. */
export const POLICY_TAG_KEYS = [
  TAG.policy, TAG.policyHash, TAG.license, TAG.weightFormats, TAG.policySkipped, TAG.remoteCode, TAG.hubScan, TAG.gated,
] as const;

export const PARAM = {
  sourceRepo: 'source_repo',
  requestedRevision: 'requested_revision',
  registeredModelName: 'registered_model_name',
  task: 'task',
  commitSha: 'commit_sha',
  fileCount: 'file_count',
  totalBytes: 'total_bytes',
} as const;
