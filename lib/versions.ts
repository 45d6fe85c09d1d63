// Single source of truth for peer versions: the synthesized manifests pin these, and the
// test bench (test/peers/install.sh) installs exactly these, so tests exercise what ships.
import versions from '../versions.json';

export const MLFLOW_VERSION: string = versions.mlflow;
export const SEAWEEDFS_VERSION: string = versions.seaweedfs;
export const ARGO_WORKFLOWS_VERSION: string = versions.argoWorkflows;
export const KUBERNETES_VERSION: string = versions.kubernetes;
export const POSTGRES_MAJOR: string = versions.postgres;
export const NODE_MAJOR: string = versions.node;
