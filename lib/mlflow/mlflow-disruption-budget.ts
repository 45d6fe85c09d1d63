import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { MlflowServer } from './mlflow-server';

export interface MlflowDisruptionBudgetProps {
  readonly server: MlflowServer;
  /** @default 1 */
  readonly minAvailable?: number;
}

export class MlflowDisruptionBudget extends Construct {
  readonly pdb: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: MlflowDisruptionBudgetProps) {
    super(scope, id);
    const s = props.server;
    this.pdb = new k8s.KubePodDisruptionBudget(this, 'Resource', {
      metadata: { name: s.name, namespace: s.namespace, labels: { ...s.labels } },
      spec: { minAvailable: k8s.IntOrString.fromNumber(props.minAvailable ?? 1), selector: { matchLabels: { ...s.selector } } },
    });
  }
}
