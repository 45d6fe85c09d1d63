// The app.kubernetes.io/* labels every object carries. Selectors use only name, instance and
// component: those never change over the life of a Deployment/StatefulSet (a selector is
// immutable), while version and extra labels may.

export interface ComponentLabels {
  /** `app.kubernetes.io/name`, e.g. `mlflow`. */
  readonly name: string;
  /** `app.kubernetes.io/instance`, the deployment's instance name. */
  readonly instance: string;
  /** `app.kubernetes.io/component`, e.g. `tracking-server`. */
  readonly component: string;
  /** `app.kubernetes.io/version` (label-safe). */
  readonly version: string;
  /** Extra labels from the config (not in selectors). @default {} */
  readonly extra?: Readonly<Record<string, string>>;
}

export const PART_OF = 'model-mirror';
export const MANAGED_BY = 'cdk8s';

/** Labels that identify the pods of one component; safe to use in selectors. */
export function selectorLabels(c: ComponentLabels): Record<string, string> {
  return {
    'app.kubernetes.io/name': c.name,
    'app.kubernetes.io/instance': c.instance,
    'app.kubernetes.io/component': c.component,
  };
}

/** Every standard label (selector labels + part-of, managed-by, version) plus the extras. */
export function standardLabels(c: ComponentLabels): Record<string, string> {
  return {
    ...(c.extra ?? {}),
    ...selectorLabels(c),
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/version': labelValue(c.version),
  };
}

/** Makes a string a valid label value (63 chars, alphanumeric ends, [-_.A-Za-z0-9] inside). */
export function labelValue(v: string): string {
  const cleaned = v.replace(/[^-_.A-Za-z0-9]/g, '-').slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}

/** The version part of an image reference (`repo:tag` → `tag`), for the version label. */
export function imageTag(image: string): string {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : 'latest';
}
