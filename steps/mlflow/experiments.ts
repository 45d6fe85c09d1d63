// Experiments: get-or-create by name, tolerating a concurrent creator.
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { type KeyValue, MlflowClient, isMlflowError, isNotFound } from './client';

export interface Experiment {
  readonly experiment_id: string;
  readonly name: string;
  readonly artifact_location?: string;
  readonly lifecycle_stage?: string;
  readonly tags?: readonly KeyValue[];
}

const MAX_EXPERIMENT_NAME_LENGTH = 500;

export function validateExperimentName(name: string): void {
  if (!name || !name.trim()) {
    throw new UserError('The experiment name is empty', { exitCode: ExitCode.Usage, hint: 'Pass --experiment NAME.' });
  }
  if (name.length > MAX_EXPERIMENT_NAME_LENGTH) {
    throw new UserError(`The experiment name is longer than MLflow's limit of ${MAX_EXPERIMENT_NAME_LENGTH} characters`, { exitCode: ExitCode.Usage });
  }
}

export async function getExperimentByName(client: MlflowClient, name: string): Promise<Experiment | undefined> {
  try {
    const res = await client.get<{ experiment: Experiment }>('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: name });
    return res.experiment;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function getExperiment(client: MlflowClient, id: string): Promise<Experiment> {
  const res = await client.get<{ experiment: Experiment }>('/api/2.0/mlflow/experiments/get', { experiment_id: id });
  return res.experiment;
}

function usable(exp: Experiment): Experiment {
  if (exp.lifecycle_stage === 'deleted') {
    throw new UserError(`MLflow experiment '${exp.name}' (id ${exp.experiment_id}) is deleted`, {
      exitCode: ExitCode.Conflict,
      hint: 'Restore it (MLflow UI, or `mlflow experiments restore --experiment-id ...`), delete it permanently with `mlflow gc`, or pass another --experiment.',
    });
  }
  return exp;
}

/** Returns the experiment named `name`, creating it if needed. Safe when two steps race. */
export async function getOrCreateExperiment(client: MlflowClient, name: string, tags: Record<string, string> = {}): Promise<{ experiment: Experiment; created: boolean }> {
  validateExperimentName(name);
  const existing = await getExperimentByName(client, name);
  if (existing) return { experiment: usable(existing), created: false };
  try {
    // Safe to repeat: a second create of the same name answers RESOURCE_ALREADY_EXISTS (handled below).
    const res = await client.post<{ experiment_id: string }>('/api/2.0/mlflow/experiments/create', {
      name,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    }, { idempotent: true });
    log.info('Created MLflow experiment', { experiment: name, experimentId: res.experiment_id });
    return { experiment: await getExperiment(client, res.experiment_id), created: true };
  } catch (e) {
    // Another workflow created it between our get and create: use theirs.
    if (isMlflowError(e, 'RESOURCE_ALREADY_EXISTS')) {
      const again = await getExperimentByName(client, name);
      if (again) return { experiment: usable(again), created: false };
    }
    throw e;
  }
}
