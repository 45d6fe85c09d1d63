// The product config both cluster test files synthesize: the Hub fixture as the Hub, a small
// scratch volume, and small requests so every pod fits next to MLflow on the single 2-core node.

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

/** The Hub fixture's host name on the cluster network (CoreDNS resolves it to the bridge). */
export const HUB_NAME = 'hub.test';
export const LFS_NAME = 'cdn-lfs.hub.test';

export function baseConfig(hubUrl: string, mlflowImage?: string): Obj {
  const port = new URL(hubUrl).port;
  return {
    workflow: {
      hfEndpoint: `http://${HUB_NAME}:${port}`,
      storageSize: '1Gi',
      resources: {
        light: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        transfer: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      },
    },
    mlflow: {
      ...(mlflowImage ? { image: mlflowImage } : {}),
      workers: 1,
      resources: { requests: { cpu: '100m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } },
    },
    postgres: { storageSize: '1Gi', resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } } },
  };
}

/** The name the archive was built under (test/images and image/build.sh print name=path). */
export function imageName(archives: Record<string, string>, kind: string): string {
  const hit = Object.keys(archives).find((n) => n.includes(kind));
  if (!hit) throw new Error(`no ${kind} image among ${Object.keys(archives).join(', ')}`);
  return hit;
}
