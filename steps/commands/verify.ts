// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const verifyCommand: CommandModule = {
  command: 'verify',
  describe: '(verify: not implemented yet)',
  handler: () => {
    throw new Error('verify is not implemented yet');
  },
};
