// Runs the CLI's main function as the process. Node exits with code 0 once its event loop is
// empty, even while `main` still awaits a promise that nothing can settle any more (a bug: every
// socket and timer it waited on is gone). For an Argo step that is the worst outcome, a Succeeded
// step with its work undone; here it is a failure with exit 1 (internal) instead.
import { ExitCode } from './errors';

const UNFINISHED_MESSAGE =
  'internal error (a bug in model-mirror, please report it): the command stopped with its work unfinished: it was waiting for something that can no longer happen';

/** Runs `run`, then exits with its code (or `onError`'s); exits 1 if the event loop drains first. */
export function runAsProcess(run: () => Promise<number>, onError: (e: unknown) => number): void {
  let settled = false;
  process.once('beforeExit', () => {
    // Not emitted after process.exit(): only a drained loop with `run` still pending gets here.
    if (settled) return;
    process.stderr.write(`${UNFINISHED_MESSAGE}\n`);
    process.exit(ExitCode.Internal);
  });
  run().then(
    (code) => {
      settled = true;
      process.exit(code);
    },
    (e) => {
      settled = true;
      process.exit(onError(e));
    },
  );
}
