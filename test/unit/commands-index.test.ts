// steps/commands/index.ts loads each command's module only when it runs; the name and description
// it repeats for the top-level `--help` must be the module's own.
import { commands } from '../../steps/commands';
import { catalogSummaryCommand } from '../../steps/commands/catalog-summary';
import { downloadCommand } from '../../steps/commands/download';
import { finalizeCommand } from '../../steps/commands/finalize';
import { mirrorCommand } from '../../steps/commands/mirror';
import { modelsCommand } from '../../steps/commands/models';
import { prepareCommand } from '../../steps/commands/prepare';
import { registerCommand } from '../../steps/commands/register';
import { transferCommand } from '../../steps/commands/transfer';
import { uploadCommand } from '../../steps/commands/upload';
import { verifyCommand } from '../../steps/commands/verify';

const modules = [
  prepareCommand, downloadCommand, uploadCommand, transferCommand, registerCommand, verifyCommand, finalizeCommand, mirrorCommand, modelsCommand, catalogSummaryCommand,
];

describe('the lazily loaded command list', () => {
  it('names and describes every command as its module does, in the same order', () => {
    expect(commands.map((c) => [c.command, c.describe])).toEqual(modules.map((m) => [m.command, m.describe]));
  });

  it('adds no alias or other field that the module does not have', () => {
    for (const m of modules) expect(Object.keys(m).sort()).toEqual(['builder', 'command', 'describe', 'handler']);
  });
});
