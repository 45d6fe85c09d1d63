import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { MlflowServer } from './mlflow-server';

export interface MlflowIngressProps {
  readonly server: MlflowServer;
  readonly host: string;
  /** @default - the cluster's default IngressClass */
  readonly className?: string;
  /** TLS Secret for `host`. @default - no TLS */
  readonly tlsSecretName?: string;
  /** @default {} */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Exposes the tracking server on `host` (which MlflowServer must also allow: pass ingressHost). */
export class MlflowIngress extends Construct {
  readonly ingress: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: MlflowIngressProps) {
    super(scope, id);
    const s = props.server;
    this.ingress = new k8s.KubeIngress(this, 'Resource', {
      metadata: { name: s.name, namespace: s.namespace, labels: { ...s.labels }, annotations: Object.keys(props.annotations ?? {}).length ? { ...props.annotations } : undefined },
      spec: {
        ingressClassName: props.className,
        tls: props.tlsSecretName ? [{ hosts: [props.host], secretName: props.tlsSecretName }] : undefined,
        rules: [{
          host: props.host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: s.name, port: { name: 'http' } } } }] },
        }],
      },
    });
  }
}
