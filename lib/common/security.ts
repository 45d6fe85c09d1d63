// Hardened defaults shared by every pod this project emits: non-root, read-only root filesystem,
// no capabilities, no privilege escalation, RuntimeDefault seccomp, and a size-limited /tmp.
import { k8s } from 'cdk8s-plus-28';
import type { ResourcesConfig } from '../config';

export const TMP_VOLUME = 'tmp';
export const TMP_PATH = '/tmp';

/** Container-level security context: nothing a container could use to escalate. */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Pod-level security context for a uid/gid (fsGroup makes mounted volumes writable). */
export function podSecurityContext(uid: number, gid: number = uid): k8s.PodSecurityContext {
  return {
    runAsUser: uid,
    runAsGroup: gid,
    runAsNonRoot: true,
    fsGroup: gid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** A memory-backed-free, size-limited emptyDir for /tmp (the root filesystem is read-only). */
export function tmpVolume(sizeLimit: string, name: string = TMP_VOLUME): k8s.Volume {
  return { name, emptyDir: { sizeLimit: k8s.Quantity.fromString(sizeLimit) } };
}

export function tmpMount(name: string = TMP_VOLUME): k8s.VolumeMount {
  return { name, mountPath: TMP_PATH };
}

/** Config resources → Kubernetes ResourceRequirements. */
export function toResourceRequirements(r: ResourcesConfig): k8s.ResourceRequirements {
  const limits: Record<string, k8s.Quantity> = { memory: k8s.Quantity.fromString(r.limits.memory) };
  if (r.limits.cpu) limits.cpu = k8s.Quantity.fromString(r.limits.cpu);
  return {
    requests: { cpu: k8s.Quantity.fromString(r.requests.cpu), memory: k8s.Quantity.fromString(r.requests.memory) },
    limits,
  };
}
