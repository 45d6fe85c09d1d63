// Optional nightly backup of the in-cluster database to the S3 bucket: an init container runs
// pg_dump (custom format) into an emptyDir, then the aws CLI copies the file to
// s3://<bucket>/<prefix>/<timestamp>.dump. Two images, no shell pipelines between them.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { selectorLabels, standardLabels } from '../common/labels';
import { podSecurityContext, restrictedContainerSecurityContext, tmpMount, tmpVolume, toResourceRequirements } from '../common/security';
import type { ResourcesConfig } from '../config';
import { DEFAULT_AWS_CLI_IMAGE } from '../config';
import type { S3Credentials } from '../seaweedfs/s3-credentials';
import { POSTGRES_MAJOR } from '../versions';
import { POSTGRES_PORT, PostgresDatabase } from './postgres-database';

export interface PostgresBackupProps {
  readonly namespace: string;
  readonly database: PostgresDatabase;
  readonly s3: S3Credentials;
  readonly bucket: string;
  /** @default 'backups/postgres' */
  readonly prefix?: string;
  /** @default '17 3 * * *' */
  readonly schedule?: string;
  /** Image with pg_dump. @default `docker.io/library/postgres:${POSTGRES_MAJOR}` */
  readonly postgresImage?: string;
  /** @default DEFAULT_AWS_CLI_IMAGE */
  readonly awsCliImage?: string;
  /** @default 100m/256Mi requests, 1/1Gi limits */
  readonly resources?: ResourcesConfig;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** @default 999 (postgres uid; the aws CLI runs as any uid with HOME=/tmp) */
  readonly runAsUser?: number;
}

export class PostgresBackup extends Construct {
  readonly cronJob: k8s.KubeCronJob;

  constructor(scope: Construct, id: string, props: PostgresBackupProps) {
    super(scope, id);
    const ids = { name: 'postgres', instance: props.instance ?? 'model-mirror', component: 'backup', version: POSTGRES_MAJOR, extra: props.labels };
    const labels = standardLabels(ids);
    const resources = toResourceRequirements(props.resources ?? { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    const db = props.database;
    const prefix = props.prefix ?? 'backups/postgres';
    const dumpDir = '/backup';
    this.cronJob = new k8s.KubeCronJob(this, 'Resource', {
      metadata: { name: `${db.serviceName}-backup`, namespace: props.namespace, labels },
      spec: {
        schedule: props.schedule ?? '17 3 * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 3600,
            ttlSecondsAfterFinished: 7 * 86400,
            template: {
              metadata: { labels: { ...labels, ...selectorLabels(ids) } },
              spec: {
                restartPolicy: 'Never',
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: podSecurityContext(props.runAsUser ?? 999),
                initContainers: [{
                  name: 'pg-dump',
                  image: props.postgresImage ?? `docker.io/library/postgres:${POSTGRES_MAJOR}`,
                  command: ['pg_dump'],
                  args: ['--format=custom', '--no-owner', `--host=${db.host}`, `--port=${POSTGRES_PORT}`, `--username=${db.user}`, `--dbname=${db.database}`, `--file=${dumpDir}/mlflow.dump`],
                  env: [{ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: db.secretName, key: db.passwordKey } } }],
                  resources,
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [{ name: 'backup', mountPath: dumpDir }, tmpMount()],
                }],
                containers: [{
                  name: 'upload',
                  image: props.awsCliImage ?? DEFAULT_AWS_CLI_IMAGE,
                  command: ['aws'],
                  // The object name carries the Job's name (it embeds the schedule time), so runs never overwrite.
                  args: ['s3', 'cp', '--only-show-errors', `${dumpDir}/mlflow.dump`, `s3://${props.bucket}/${prefix}/$(JOB_NAME).dump`],
                  env: [
                    ...props.s3.containerEnv(),
                    { name: 'JOB_NAME', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } } },
                    { name: 'HOME', value: '/tmp' },
                  ],
                  resources,
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [{ name: 'backup', mountPath: dumpDir, readOnly: true }, tmpMount()],
                }],
                volumes: [
                  { name: 'backup', emptyDir: { sizeLimit: k8s.Quantity.fromString('20Gi') } },
                  tmpVolume('256Mi'),
                ],
              },
            },
          },
        },
      },
    });
  }
}
