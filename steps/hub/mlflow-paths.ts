// Which repo paths MLflow can address as run artifacts. MLflow 3.x checks every artifact path a
// client sends (artifacts/list, get-artifact, ...) with `validate_path_is_safe`
// (mlflow/utils/uri.py): it first percent-decodes the path until it stops changing, then escapes
// control characters as `%xx`, then answers "Invalid path" (400 INVALID_PARAMETER_VALUE) for any
// `#`. So a folder named `a#b` cannot be listed by `verify` (or browsed in the UI) even though S3
// stores it fine, and `a%41` or a control character would silently name another path. No
// encoding gets a `#` through (`%23` decodes to it), so such files are refused up front, before
// any byte moves, naming the path and the rule; `--ignore-patterns` can leave them out.
// (`..`, absolute paths and backslashes, MLflow's other refusals, never get this far:
// fs-safety refuses them for the work dir.)

export interface PathRule {
  readonly test: (path: string) => boolean;
  readonly rule: string;
}

export const MLFLOW_PATH_RULES: readonly PathRule[] = [
  { test: (p) => p.includes('#'), rule: "contains '#', which MLflow refuses in artifact paths (\"Invalid path\")" },
  { test: (p) => /%[0-9a-fA-F]{2}/.test(p), rule: 'contains a %xx escape, which MLflow decodes into another path' },
  // eslint-disable-next-line no-control-regex
  { test: (p) => /[\x00-\x1f\x7f]/.test(p), rule: 'contains a control character, which MLflow rewrites as %xx' },
];

/** The rule `path` breaks, or undefined when MLflow can address it as it is. */
export function mlflowPathProblem(path: string): string | undefined {
  return MLFLOW_PATH_RULES.find((r) => r.test(path))?.rule;
}
