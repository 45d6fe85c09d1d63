// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const finalizeCommand: CommandModule = {
  command: 'finalize',
  describe: '(finalize: not implemented yet)',
  handler: () => {
    throw new Error('finalize is not implemented yet');
  },
};
