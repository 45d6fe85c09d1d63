import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { MlflowServer } from './mlflow-server';

export interface MlflowNetworkPolicyProps {
  readonly server: MlflowServer;
  /** Labels of the workflow pods (same namespace) allowed in. */
  readonly workflowPodLabels: Readonly<Record<string, string>>;
  /** Namespaces (by kubernetes.io/metadata.name) whose pods may connect, e.g. the ingress controller's. @default ['ingress-nginx'] */
  readonly ingressControllerNamespaces?: readonly string[];
}

/** Only the workflow pods and the ingress controller reach MLflow, and only on its port. */
export class MlflowNetworkPolicy extends Construct {
  readonly policy: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: MlflowNetworkPolicyProps) {
    super(scope, id);
    const s = props.server;
    const namespaces = props.ingressControllerNamespaces ?? ['ingress-nginx'];
    const from: k8s.NetworkPolicyPeer[] = [{ podSelector: { matchLabels: { ...props.workflowPodLabels } } }];
    if (namespaces.length > 0) {
      from.push({ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...namespaces] }] } });
    }
    this.policy = new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: { name: s.name, namespace: s.namespace, labels: { ...s.labels } },
      spec: {
        podSelector: { matchLabels: { ...s.selector } },
        policyTypes: ['Ingress'],
        ingress: [{ from, ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(s.port) }] }],
      },
    });
  }
}
