// Host header patterns MLflow must accept in the cluster (it answers 403 to anything else).

export interface MlflowAllowedHostsProps {
  /** Service name. */
  readonly serviceName: string;
  readonly namespace: string;
  /** @default 'cluster.local' */
  readonly clusterDomain?: string;
  /** Public host of the Ingress, if any. @default - none */
  readonly ingressHost?: string;
  /** @default [] */
  readonly extra?: readonly string[];
}

/**
 * Every name a client inside the cluster may use for the Service (`name`, `name.ns`,
 * `name.ns.svc`, `name.ns.svc.<domain>`, each `:*`), the ingress host (with and without a port:
 * browsers omit the default port), loopback for probes and port-forwards, then `extra`.
 */
export function mlflowAllowedHosts(props: MlflowAllowedHostsProps): string[] {
  const { serviceName: n, namespace: ns } = props;
  const domain = props.clusterDomain ?? 'cluster.local';
  const hosts = [n, `${n}.${ns}`, `${n}.${ns}.svc`, `${n}.${ns}.svc.${domain}`].map((h) => `${h}:*`);
  if (props.ingressHost) hosts.push(props.ingressHost, `${props.ingressHost}:*`);
  hosts.push('localhost:*', '127.0.0.1:*', ...(props.extra ?? []));
  return [...new Set(hosts)];
}
