// Local Argo runner: executes a synthesized WorkflowTemplate on this machine, each container step
// as `node <bundle> ...args`. See README.md.
export { runWorkflowTemplate, podNameFor, parseArgoDuration, CLI_COMMANDS } from './runner';
export { validateWorkflowTemplate, CLUSTER_ONLY_KEYS } from './validate';
export { UnresolvedVariableError, UnsupportedArgoConstructError, evaluateExpression, evaluateWhen, goQuote, EXPR_FUNCTIONS } from './substitute';
export type * from './types';
