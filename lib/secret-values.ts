// Secret VALUES never live in the config file. They are read from env at synth time and are
// written to dist/ only when the config opts in (`secrets.writePlaintext: true`); otherwise the
// manifests only reference Secrets by name and the synth summary tells the user how to create them.
import { ConfigError } from './config-reader';

/** Env var names read at synth time (documented in the README and the example config). */
export const SECRET_ENV = {
  s3AccessKeyId: 'MODEL_MIRROR_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'MODEL_MIRROR_S3_SECRET_ACCESS_KEY',
  postgresPassword: 'MODEL_MIRROR_POSTGRES_PASSWORD',
  databaseUrl: 'MODEL_MIRROR_DATABASE_URL',
  hfToken: 'MODEL_MIRROR_HF_TOKEN',
} as const;

export interface SecretValues {
  readonly s3AccessKeyId?: string;
  readonly s3SecretAccessKey?: string;
  readonly postgresPassword?: string;
  /** SQLAlchemy URL for postgres.mode external. */
  readonly databaseUrl?: string;
  readonly hfToken?: string;
}

/** Reads the secret env vars; empty strings count as unset. */
export function readSecretValues(env: NodeJS.ProcessEnv = process.env): SecretValues {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const values: SecretValues = {
    s3AccessKeyId: get(SECRET_ENV.s3AccessKeyId),
    s3SecretAccessKey: get(SECRET_ENV.s3SecretAccessKey),
    postgresPassword: get(SECRET_ENV.postgresPassword),
    databaseUrl: get(SECRET_ENV.databaseUrl),
    hfToken: get(SECRET_ENV.hfToken),
  };
  if ((values.s3AccessKeyId === undefined) !== (values.s3SecretAccessKey === undefined)) {
    const missing = values.s3AccessKeyId === undefined ? SECRET_ENV.s3AccessKeyId : SECRET_ENV.s3SecretAccessKey;
    throw new ConfigError(`${missing}: set both S3 credential variables or neither`);
  }
  if (values.postgresPassword !== undefined && !/^[A-Za-z0-9._~-]+$/.test(values.postgresPassword)) {
    // The password is spliced into the SQLAlchemy URL by Kubernetes' $(VAR) expansion, which
    // does no URL-encoding; restrict it to URL-unreserved characters rather than break at runtime.
    throw new ConfigError(`${SECRET_ENV.postgresPassword}: use only letters, digits and . _ ~ - (it is placed in a URL unencoded), e.g. $(openssl rand -hex 24)`);
  }
  return values;
}

/** One Secret the deployment needs, and whether synth wrote it or the user must create it. */
export interface SecretRequirement {
  readonly namespace: string;
  readonly name: string;
  readonly keys: readonly string[];
  /** Shown in the summary: what it is for. */
  readonly purpose: string;
  /** True when dist/ contains it (opt-in plaintext). */
  readonly emitted: boolean;
  /** False when pods start without it (e.g. the optional HF token). */
  readonly required: boolean;
  /** A `kubectl create secret` command line with placeholders, for the summary. */
  readonly createCommand: string;
}

/** Collects what synth did with secrets, for the summary and the plaintext warning. */
export class SecretLedger {
  private readonly items: SecretRequirement[] = [];
  private readonly notes: string[] = [];

  add(req: SecretRequirement): void {
    this.items.push(req);
  }

  note(message: string): void {
    this.notes.push(message);
  }

  get requirements(): readonly SecretRequirement[] {
    return this.items;
  }

  get warnings(): readonly string[] {
    return this.notes;
  }

  get plaintextWritten(): readonly SecretRequirement[] {
    return this.items.filter((i) => i.emitted);
  }
}

/** `kubectl create secret generic NAME -n NS --from-literal=K=<k> ...` with placeholders. */
export function kubectlCreateSecret(namespace: string, name: string, keys: readonly string[]): string {
  const literals = keys.map((k) => `--from-literal=${k}='<${k.toLowerCase().replace(/[^a-z0-9]+/g, '-')}>'`).join(' ');
  return `kubectl create secret generic ${name} -n ${namespace} ${literals}`;
}
