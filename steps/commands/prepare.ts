// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const prepareCommand: CommandModule = {
  command: 'prepare',
  describe: '(prepare: not implemented yet)',
  handler: () => {
    throw new Error('prepare is not implemented yet');
  },
};
