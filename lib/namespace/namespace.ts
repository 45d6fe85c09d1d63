import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { standardLabels } from '../common/labels';
import { labelValue } from '../common/labels';
import pkg from '../../package.json';

export interface ModelMirrorNamespaceProps {
  /** Namespace name. */
  readonly name: string;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** Extra labels. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Pod Security Admission level enforced on the namespace: every pod here is built for
   * `restricted`. @default 'restricted'
   */
  readonly podSecurity?: 'restricted' | 'baseline' | 'privileged';
}

/** The namespace everything lives in, with Pod Security Admission set to `restricted`. */
export class ModelMirrorNamespace extends Construct {
  readonly namespace: k8s.KubeNamespace;

  constructor(scope: Construct, id: string, props: ModelMirrorNamespaceProps) {
    super(scope, id);
    const level = props.podSecurity ?? 'restricted';
    this.namespace = new k8s.KubeNamespace(this, 'Resource', {
      metadata: {
        name: props.name,
        labels: {
          ...standardLabels({ name: 'model-mirror', instance: props.instance ?? 'model-mirror', component: 'namespace', version: labelValue(pkg.version), extra: props.labels }),
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/warn': level,
        },
      },
    });
  }
}
