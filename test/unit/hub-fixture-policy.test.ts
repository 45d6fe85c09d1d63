// The fixture's policy repos speak the Hub's shapes (read with the official JS client), and the
// policy's Hub reads (steps/policy/hub-facts.ts) get the licence, scan status and auto_map from them.
import { modelInfo, pathsInfo } from '@huggingface/hub';
import { fetchCardLicenses, fetchHasAutoMap, fetchScanStatus } from '../../steps/policy/hub-facts';
import { POLICY_REPOS, startHubFixture, type StartedHubFixture } from '../hub-fixture';

let fx: StartedHubFixture;
beforeAll(async () => {
  fx = await startHubFixture();
});
afterAll(async () => {
  await fx?.close();
});

const at = (repo: string) => ({ hubUrl: fx.url, repo, commitSha: fx.repos.get(repo)!.branches.main, retry: { retries: 0 } });

test('cardData.license comes from the README front matter; a card without one has no license key', async () => {
  const info = await modelInfo({ name: POLICY_REPOS.nonCommercial, hubUrl: fx.url, additionalFields: ['cardData'] });
  expect((info as unknown as { cardData: { license?: string } }).cardData.license).toBe('cc-by-nc-4.0');
  const none = await modelInfo({ name: POLICY_REPOS.noLicense, hubUrl: fx.url, additionalFields: ['cardData', 'tags'] });
  expect((none as unknown as { cardData: Record<string, unknown> }).cardData).not.toHaveProperty('license');
  expect((none as unknown as { tags: string[] }).tags.filter((t) => t.startsWith('license:'))).toEqual([]);
  expect(await fetchCardLicenses(at('test/tiny-model'))).toEqual(['apache-2.0']);
  expect(await fetchCardLicenses(at(POLICY_REPOS.noLicense))).toBeUndefined();
});

test('paths-info with expand: securityFileStatus per file, unsafe with the scanner that found it', async () => {
  const repo = POLICY_REPOS.unsafeFile;
  const list = await pathsInfo({ repo, hubUrl: fx.url, paths: ['extras/danger.dat', 'model.safetensors'], expand: true, revision: at(repo).commitSha });
  const byPath = new Map(list.map((e) => [e.path, e.securityFileStatus as unknown as Record<string, { status: string; message?: string }> & { status: string }]));
  expect(byPath.get('extras/danger.dat')).toMatchObject({ status: 'unsafe', avScan: { status: 'unsafe', message: 'Eicar-Test-Signature' } });
  expect(byPath.get('model.safetensors')).toMatchObject({ status: 'safe', avScan: { status: 'safe' }, pickleImportScan: { status: 'unscanned' } });
  const statuses = await fetchScanStatus(at(repo), ['extras/danger.dat', 'model.safetensors', 'no-such-file']);
  expect(Object.fromEntries(statuses)).toEqual({ 'extras/danger.dat': 'unsafe', 'model.safetensors': 'safe' });
  // The repo-level summary huggingface_hub asks for with securityStatus=true.
  const res = await fetch(`${fx.url}/api/models/${repo}?securityStatus=true`);
  expect(((await res.json()) as { securityRepoStatus: unknown }).securityRepoStatus).toEqual({ scansDone: true, filesWithIssues: [{ path: 'extras/danger.dat', level: 'unsafe' }] });
});

test('auto_map is read from config.json; a repo without one has none', async () => {
  expect(await fetchHasAutoMap(at(POLICY_REPOS.remoteCode))).toBe(true);
  expect(await fetchHasAutoMap(at('test/tiny-model'))).toBe(false);
  expect(await fetchHasAutoMap(at(POLICY_REPOS.pickleOnly))).toBe(false);
});
