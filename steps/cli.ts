#!/usr/bin/env node
// `model-mirror`: the one CLI the Argo steps (and people, locally) run.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands';
import { isUserError } from './common/errors';
import { log, redact, setDebug, setJsonLogs } from './common/log';
import { runAsProcess } from './common/run-process';
import {
  DEFAULT_UNAVAILABLE_TIMEOUT_S, parseUnavailableTimeout, setUnavailableTimeout, UNAVAILABLE_TIMEOUT_ENV,
} from './common/retry';
import { TOOL_VERSION } from './common/version';

/** A command line yargs rejected (missing/unknown option, no command). */
class CommandLineError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(argv)
    .scriptName('model-mirror')
    .usage('$0 <command> [options]\n\nMirror a HuggingFace Hub model into an MLflow Model Registry with S3 artifact storage.')
    .option('json', { type: 'boolean', default: false, describe: 'Log one JSON object per line (for log collectors)', global: true })
    .option('debug', { type: 'boolean', default: false, describe: 'Verbose logs, e.g. each MLflow call and its time (never includes secrets) [also: $MODEL_MIRROR_DEBUG set]', global: true })
    .option('unavailable-timeout', {
      type: 'number',
      describe: `Seconds to keep waiting while MLflow or S3 does not answer (restart: connection refused/reset, DNS failure, timeouts, HTTP 502/503/504/429) before failing with exit 5 [default: $${UNAVAILABLE_TIMEOUT_ENV}, else ${DEFAULT_UNAVAILABLE_TIMEOUT_S}]`,
      global: true,
    })
    .middleware((args) => {
      setJsonLogs(Boolean(args.json) || process.env.MODEL_MIRROR_LOG_FORMAT === 'json');
      setDebug(Boolean(args.debug) || Boolean(process.env.MODEL_MIRROR_DEBUG));
      try {
        setUnavailableTimeout(parseUnavailableTimeout(args.unavailableTimeout, '--unavailable-timeout')
          ?? parseUnavailableTimeout(process.env[UNAVAILABLE_TIMEOUT_ENV], UNAVAILABLE_TIMEOUT_ENV));
      } catch (e) {
        throw new CommandLineError((e as Error).message);
      }
    })
    .command(commands)
    .demandCommand(1, 'Name a command: see `model-mirror --help`.')
    .strict()
    .recommendCommands()
    .version(TOOL_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    // Throw, not just print: with exitProcess(false) yargs would otherwise go on and run the
    // command's handler with the missing options undefined.
    .fail((msg, err) => {
      throw err ?? new CommandLineError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof CommandLineError) {
      process.stderr.write(`error: ${e.message}\nRun with --help for usage.\n`);
      exitCode = 2;
    } else {
      exitCode = reportError(e);
    }
  }
  return exitCode || (process.exitCode as number | undefined) || 0;
}

export function reportError(e: unknown): number {
  if (isUserError(e)) {
    log.error(e.message, e.hint ? { hint: e.hint } : undefined);
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(redact(`internal error (a bug in model-mirror, please report it): ${err?.stack ?? String(e)}`) + '\n');
  return 1;
}

if (require.main === module) {
  runAsProcess(() => main(hideBin(process.argv)), reportError);
}
