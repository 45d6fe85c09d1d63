// Identity of the workflow pods. The Argo executor (the `wait` sidecar) reports step outputs by
// writing WorkflowTaskResults, and that is all it needs: create + patch on that one resource.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';

export interface WorkflowRbacProps {
  readonly namespace: string;
  /** @default 'model-mirror-workflow' */
  readonly serviceAccountName?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** On the ServiceAccount only (e.g. eks.amazonaws.com/role-arn for S3 podIdentity). @default {} */
  readonly serviceAccountAnnotations?: Readonly<Record<string, string>>;
}

export class WorkflowRbac extends Construct {
  readonly serviceAccount: k8s.KubeServiceAccount;
  readonly role: k8s.KubeRole;
  readonly roleBinding: k8s.KubeRoleBinding;
  readonly serviceAccountName: string;

  constructor(scope: Construct, id: string, props: WorkflowRbacProps) {
    super(scope, id);
    const name = props.serviceAccountName ?? 'model-mirror-workflow';
    this.serviceAccountName = name;
    const metadata = { name, namespace: props.namespace, labels: { ...props.labels } };
    // The executor authenticates with this account's token, so it stays mounted (the default).
    const annotations = props.serviceAccountAnnotations ?? {};
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { ...metadata, annotations: Object.keys(annotations).length > 0 ? { ...annotations } : undefined },
    });
    this.role = new k8s.KubeRole(this, 'Role', {
      metadata,
      rules: [{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }],
    });
    this.roleBinding = new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: props.namespace }],
    });
  }
}
