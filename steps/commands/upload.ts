// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const uploadCommand: CommandModule = {
  command: 'upload',
  describe: '(upload: not implemented yet)',
  handler: () => {
    throw new Error('upload is not implemented yet');
  },
};
