// PLACEHOLDER: replaced by the real command (see the issue that owns it).
import type { CommandModule } from 'yargs';

export const downloadCommand: CommandModule = {
  command: 'download',
  describe: '(download: not implemented yet)',
  handler: () => {
    throw new Error('download is not implemented yet');
  },
};
