// The start of every mirror (`prepare`, `mirror`): Hub first, then the registry, then MLflow state.
//  1. input checks (no network);
//  2. the Hub: repo, revision -> commit, file selection, gated access (checkSource) — a mistyped
//     id or revision fails here, before any experiment, run or version exists;
//  3. the registry: is (model name, repo, commit, file selection) already a READY version? Then
//     re-apply the alias and tags, sweep the runs it superseded, and stop: 0 bytes moved;
//  4. a live mirror of the same identity (a RUNNING run whose lease is renewed): wait for it, then
//     go back to 3 (it usually ends READY and is reused: one version per commit, no second upload);
//  5. a failed or stuck run of the identity: adopt it (adopt-run.ts), so only missing bytes move;
//  6. otherwise a new run; if another mirror created one at the same moment, the older one goes
//     on and this one waits for it (4).
import type { S3Client } from '@aws-sdk/client-s3';
import { log } from '../common/log';
import type { RetryOptions } from '../common/retry';
import { checkSource, type CheckedSource } from '../hub/check-source';
import type { Policy } from '../policy/policy';
import { policyTags } from '../policy/tags';
import { adoptRun, sleep } from './adopt-run';
import type { MlflowClient } from './client';
import { findRegisteredVersion, reapplyToExisting } from './identity';
import { classifyRun, olderRun, type RunIdentity, searchIdentityRuns } from './identity-runs';
import { getExperimentByName } from './experiments';
import { leaseOwnerId, leaseTags } from './run-lease';
import { closeStaleWorkflowRuns } from './stale-runs';
import { legacyResumableRun, type PrepareOptions, type PrepareResult, preparedFromRun, prepareRun, validatePrepareInput } from './prepare';
import { setModelVersionTags, validateAlias, type ModelVersion } from './registry';
import { getRun, type Run, runTags, setRunTags, terminateRun } from './runs';
import { sweepQuietly } from './sweep-failed-runs';
import { TAG } from './tags';

export interface PlanOptions extends PrepareOptions {
  readonly alias?: string;
  readonly accessToken?: string;
  readonly allowPatterns?: readonly string[];
  readonly ignorePatterns?: readonly string[];
  readonly retry?: RetryOptions;
  /** The run a `mirror` killed in the same work dir wrote into: preferred when it is adoptable. */
  readonly previousRunId?: string;
  readonly waitTimeoutSeconds?: number;
  /** The mirroring policy, checked on the Hub before any MLflow state (a refusal exits 9). */
  readonly policy?: Policy;
  /** For sweeping superseded runs' objects once a READY version exists (skipped without it). */
  readonly s3?: S3Client;
  /** Poll interval while another mirror of the same identity is live. @default 2000 */
  readonly livePollMs?: number;
}

export type MirrorPlan =
  | { readonly reused: true; readonly source: CheckedSource; readonly version: ModelVersion; readonly model_uri: string }
  | {
    readonly reused: false; readonly source: CheckedSource; readonly run: PrepareResult;
    /** The lease this process holds on the run (none for an Argo workflow); renew it with LeaseKeeper. */
    readonly leaseOwner?: string;
  };

export async function planMirror(client: MlflowClient, opts: PlanOptions): Promise<MirrorPlan> {
  validatePrepareInput(opts);
  if (opts.alias) validateAlias(opts.alias);
  const source = await checkSource({
    modelId: opts.modelId,
    revision: opts.revision,
    hubUrl: opts.hubUrl,
    accessToken: opts.accessToken,
    allowPatterns: opts.allowPatterns,
    ignorePatterns: opts.ignorePatterns,
    retry: opts.retry,
    policy: opts.policy,
  });
  const tags = source.policy ? policyTags(source.policy) : undefined;
  if (opts.argoWorkflow) {
    // Before looking for a version to reuse: closing a stale run also deletes a version made from it.
    const experiment = await getExperimentByName(client, opts.experiment);
    if (experiment) {
      await closeStaleWorkflowRuns(client, { experimentId: experiment.experiment_id, modelId: opts.modelId, currentWorkflow: opts.argoWorkflow });
    }
  }
  const identity = { modelName: opts.modelName, repo: source.repo, commitSha: source.commitSha, fileSet: source.fileSet };
  const prepareOpts: PrepareOptions = { ...opts, commitSha: source.commitSha, fileSet: source.fileSet, policyTags: tags };
  // An Argo workflow owns its run through the workflow (mutex + stale-run sweep), not a lease:
  // its steps run in separate pods and nothing could renew one.
  const owner = opts.argoWorkflow ? undefined : leaseOwnerId();
  const pollMs = opts.livePollMs ?? 2000;
  let waitingFor: string | undefined;

  for (;;) {
    const existing = await findRegisteredVersion(client, identity, opts.waitTimeoutSeconds);
    if (existing) {
      await reapplyToExisting(client, identity, existing, opts.alias);
      // The policy that passed it this time (same files, so the same bytes).
      if (tags) await setModelVersionTags(client, opts.modelName, existing.version, tags);
      const experiment = await getExperimentByName(client, opts.experiment);
      if (experiment) await sweepQuietly(client, opts.s3, { ...identity, experimentId: experiment.experiment_id }, existing);
      return { reused: true, source, version: existing, model_uri: `models:/${opts.modelName}/${existing.version}` };
    }
    const experiment = await getExperimentByName(client, opts.experiment);
    const runs = experiment ? await searchIdentityRuns(client, { ...identity, experimentId: experiment.experiment_id }) : [];
    // A run whose lease names this very process (an earlier attempt in the same process, e.g. a
    // library caller retrying) has no other writer: continue it.
    const roleOf = (r: Run) => {
      const role = classifyRun(r, { argoWorkflow: opts.argoWorkflow });
      return role === 'live' && owner && runTags(r)[TAG.leaseOwner] === owner ? 'adoptable' : role;
    };
    const roles = new Map(runs.map((r) => [r.info.run_id, roleOf(r)]));
    const live = runs.filter((r) => roles.get(r.info.run_id) === 'live'); // never our own: roleOf made that adoptable
    if (live.length) {
      const other = live[0];
      if (waitingFor !== other.info.run_id) {
        waitingFor = other.info.run_id;
        log.info(`Another mirror (${runTags(other)[TAG.leaseOwner]}) is uploading this commit into run ${other.info.run_id}: waiting for it, then reusing its version`, { runId: other.info.run_id });
      }
      await sleep(pollMs);
      continue;
    }
    const adoptable = runs.filter((r) => roles.get(r.info.run_id) === 'adoptable');
    let pick: Run | undefined = adoptable.find((r) => r.info.run_id === opts.previousRunId) ?? adoptable[0];
    // The work dir names a run a killed mirror of an earlier version left RUNNING without a lease.
    if (!pick && opts.previousRunId && roles.get(opts.previousRunId) !== 'live') pick = await legacyResumableRun(client, opts.previousRunId, prepareOpts);
    if (pick) {
      if (await adoptRun(client, pick, { owner, argoWorkflow: opts.argoWorkflow })) {
        if (tags) await setRunTags(client, pick.info.run_id, tags);
        return { reused: false, source, run: await preparedFromRun(client, pick, prepareOpts, pick.info.status), leaseOwner: owner };
      }
      continue;
    }
    const run = await prepareRun(client, { ...prepareOpts, extraTags: owner ? leaseTags(owner) : undefined });
    // Also when this mirror made the experiment: others may have found or made it at the same moment.
    if (owner && await lostCreationRace(client, run, { ...identity, experimentId: run.experiment_id }, owner)) continue;
    return { reused: false, source, run, leaseOwner: owner };
  }
}

/** How long a mirror that sees another new run waits for that run's creator to record what it saw. */
const CREATION_RECORD_WAIT_MS = 3000;
const CREATION_RECORD_POLL_MS = 50;

/**
 * After creating a run: did another mirror of the same identity create one at the same moment?
 * Then one of the two goes on and the other closes its run (KILLED, superseded) and waits for it.
 *
 * Each creator reads the identity's runs once its own run exists and records the live ones it saw
 * (TAG.creationSeen). Of two creators at least one sees the other, since each reads after its own
 * create. One that saw no other goes on at once: the common case costs a read and a tag write.
 * One that sees another reads that one's record (waiting for it if need be):
 * - it did not see this run: it read before this run existed, so it was created first and wins;
 * - both saw each other: the older start wins (both compare the same two runs);
 * - no record in CREATION_RECORD_WAIT_MS (a mirror from before this record, or one that died):
 *   the older start wins, as before.
 * If two went on all the same, register's re-check still leaves one version.
 */
async function lostCreationRace(client: MlflowClient, mine: PrepareResult, id: RunIdentity, owner: string): Promise<boolean> {
  const runs = await searchIdentityRuns(client, id);
  const me = runs.find((r) => r.info.run_id === mine.run_id);
  if (!me) return false;
  const others = runs.filter((r: Run) => r.info.run_id !== mine.run_id && classifyRun(r) === 'live');
  await setRunTags(client, mine.run_id, { [TAG.creationSeen]: others.map((r) => r.info.run_id).join(',') || 'none' });
  for (const other of others.sort(olderRun)) {
    const seen = await creationRecord(client, other.info.run_id);
    if (seen === 'gone') continue; // it closed itself (it lost to another) or ended
    // It read before this run existed (so it was created first), or else the older start.
    const otherWins = (seen !== undefined && !seen.includes(mine.run_id)) || olderRun(other, me) < 0;
    if (!otherWins) continue;
    await setRunTags(client, mine.run_id, { [TAG.supersededBy]: other.info.run_id, [TAG.failureReason]: `another mirror started the same commit first (run ${other.info.run_id})` });
    await terminateRun(client, mine.run_id, 'KILLED');
    log.info(`Run ${other.info.run_id} started the same commit first: closed run ${mine.run_id} unused, waiting for it`, { owner });
    return true;
  }
  return false;
}

/** The run ids `runId`'s creator saw (see lostCreationRace); 'gone' once it is no longer live; undefined if never recorded. */
async function creationRecord(client: MlflowClient, runId: string): Promise<string[] | 'gone' | undefined> {
  const until = Date.now() + CREATION_RECORD_WAIT_MS;
  for (;;) {
    const run = await getRun(client, runId);
    if (classifyRun(run) !== 'live') return 'gone';
    const seen = runTags(run)[TAG.creationSeen];
    if (seen !== undefined) return seen === 'none' ? [] : seen.split(',');
    if (Date.now() >= until) return undefined;
    await sleep(CREATION_RECORD_POLL_MS);
  }
}
