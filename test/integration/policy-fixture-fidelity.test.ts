// The fixture's policy facts read by the official Python client (huggingface_hub from the bench
// venv): cardData.license, per-file securityFileStatus (paths-info / tree with expand) and the
// securityRepoStatus summary parse into the client's own types with the values the policy uses.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { POLICY_REPOS, startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { CACHE_DIR, readTools } from '../peers/peers';

function pythonPath(): string {
  try {
    return readTools().python;
  } catch {
    return path.join(CACHE_DIR, 'venv', 'bin', 'python');
  }
}

const SCRIPT = String.raw`
import json, sys
from huggingface_hub import HfApi
api = HfApi(endpoint=sys.argv[1])
out = {}
out["license"] = api.model_info(sys.argv[2], expand=["cardData"]).card_data.license
out["no_license"] = api.model_info(sys.argv[3], expand=["cardData"]).card_data.get("license")
paths = api.get_paths_info(sys.argv[4], ["extras/danger.dat", "model.safetensors"], expand=True)
out["paths_info"] = {p.path: {"status": p.security.status, "safe": p.security.safe, "av": p.security.av_scan["status"]} for p in paths}
tree = {e.path: e.security.status for e in api.list_repo_tree(sys.argv[4], recursive=True, expand=True) if hasattr(e, "security")}
out["tree"] = tree
out["repo_status"] = api.model_info(sys.argv[4], securityStatus=True).security_repo_status
print(json.dumps(out))
`;

/** Runs python asynchronously: the fixture answers from this process's event loop. */
function runPython(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(pythonPath(), args, { env: { ...process.env, HF_HUB_DISABLE_TELEMETRY: '1' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

let hub: StartedHubFixture;
beforeAll(async () => {
  hub = await startHubFixture();
});
afterAll(async () => {
  await hub?.close();
});

test('huggingface_hub reads the licence, each file\'s scan status and the repo scan summary the policy relies on', async () => {
  const r = await runPython(['-c', SCRIPT, hub.url, POLICY_REPOS.nonCommercial, POLICY_REPOS.noLicense, POLICY_REPOS.unsafeFile]);
  expect(r.stderr).not.toMatch(/Traceback/);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(out.license).toBe('cc-by-nc-4.0');
  expect(out.no_license).toBeNull();
  expect(out.paths_info).toEqual({
    'extras/danger.dat': { status: 'unsafe', safe: false, av: 'unsafe' },
    'model.safetensors': { status: 'safe', safe: true, av: 'safe' },
  });
  expect(out.tree['extras/danger.dat']).toBe('unsafe');
  expect(out.tree['config.json']).toBe('safe');
  expect(out.repo_status).toEqual({ scansDone: true, filesWithIssues: [{ path: 'extras/danger.dat', level: 'unsafe' }] });
});
