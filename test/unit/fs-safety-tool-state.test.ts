// A repo listing `.git/...` (or `.cache/huggingface/...`) must not write into a work dir that is a
// git checkout: those paths are refused like `..`.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { safeJoin, unsafePathReason } from '../../steps/common/fs-safety';

describe('tool-state paths', () => {
  it.each([['.git/config'], ['.git/hooks/post-checkout'], ['sub/.git/config'], ['.GIT/config'], ['.git'], ['.cache/huggingface/token'], ['a/.cache/HuggingFace/x']])('refuses %j', (p) => {
    expect(unsafePathReason(p)).toBeDefined();
  });
  it.each([['.gitattributes'], ['.gitignore'], ['x.git/config'], ['.cache/other.bin'], ['huggingface/.cache'], ['.github/README.md']])('accepts %j', (p) => {
    expect(unsafePathReason(p)).toBeUndefined();
  });

  it('leaves a git checkout used as the destination untouched', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-gitdest-'));
    try {
      await fs.mkdir(path.join(dir, '.git'));
      await fs.writeFile(path.join(dir, '.git', 'config'), '[core]\n');
      expect(() => safeJoin(dir, '.git/config', 'repo file')).toThrow(expect.objectContaining({ exitCode: ExitCode.LocalStorage, message: expect.stringContaining('.git') }));
      expect(await fs.readFile(path.join(dir, '.git', 'config'), 'utf8')).toBe('[core]\n');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
