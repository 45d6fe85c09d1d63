// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const mirrorCommand: CommandModule = {
  command: 'mirror',
  describe: '(mirror: not implemented yet)',
  handler: () => {
    throw new Error('mirror is not implemented yet');
  },
};
