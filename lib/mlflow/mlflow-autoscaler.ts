import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { MlflowServer } from './mlflow-server';

export interface MlflowAutoscalerProps {
  readonly server: MlflowServer;
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default 5 */
  readonly maxReplicas?: number;
  /** @default 75 */
  readonly targetCPUUtilizationPercentage?: number;
}

/** CPU-based HPA for the server Deployment (which then has no fixed `replicas`). */
export class MlflowAutoscaler extends Construct {
  readonly hpa: k8s.KubeHorizontalPodAutoscalerV2;

  constructor(scope: Construct, id: string, props: MlflowAutoscalerProps) {
    super(scope, id);
    const s = props.server;
    this.hpa = new k8s.KubeHorizontalPodAutoscalerV2(this, 'Resource', {
      metadata: { name: s.name, namespace: s.namespace, labels: { ...s.labels } },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: s.name },
        minReplicas: props.minReplicas ?? 2,
        maxReplicas: props.maxReplicas ?? 5,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: props.targetCPUUtilizationPercentage ?? 75 } } }],
      },
    });
  }
}
