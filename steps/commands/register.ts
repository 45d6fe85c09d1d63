// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const registerCommand: CommandModule = {
  command: 'register',
  describe: '(register: not implemented yet)',
  handler: () => {
    throw new Error('register is not implemented yet');
  },
};
