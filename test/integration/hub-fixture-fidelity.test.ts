// Fidelity of the Hub fixture with the official Python client (huggingface_hub from the bench venv):
// snapshot_download / hf_hub_download / list_repo_tree against HF_ENDPOINT=<fixture> must succeed and
// produce the bytes the fixture advertises; gated access must raise GatedRepoError.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { CACHE_DIR, readTools } from '../peers/peers';

function pythonPath(): string {
  if (process.env.HUB_FIXTURE_PYTHON) return process.env.HUB_FIXTURE_PYTHON;
  try {
    return readTools().python;
  } catch {
    return path.join(CACHE_DIR, 'venv', 'bin', 'python');
  }
}

const SCRIPT = String.raw`
import hashlib, json, os, sys
from pathlib import Path
import huggingface_hub as hh
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, EntryNotFoundError, RevisionNotFoundError, RepositoryNotFoundError

expected = json.load(open(sys.argv[1]))
work = Path(sys.argv[2])
out = {"version": hh.__version__}

def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

def git_sha1(p):
    data = Path(p).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

# 1. snapshot_download of the whole repo at main.
snap = snapshot_download(repo_id="test/tiny-model", revision="main", cache_dir=str(work / "c1"))
out["snapshot_dir"] = os.path.basename(snap)
got = {}
for root, _, files in os.walk(snap):
    for fn in files:
        p = os.path.join(root, fn)
        rel = os.path.relpath(p, snap).replace(os.sep, "/")
        got[rel] = {"sha256": sha256(p), "gitBlobSha1": git_sha1(p), "size": os.path.getsize(p)}
out["snapshot_files"] = got
ref = (work / "c1" / "models--test--tiny-model" / "refs" / "main").read_text()
out["ref_main"] = ref
# Blobs are stored under the etag the client read (X-Linked-Etag for LFS, ETag otherwise).
out["blobs"] = sorted(os.listdir(work / "c1" / "models--test--tiny-model" / "blobs"))
if hasattr(HfApi, "verify_repo_checksums"):
    v = HfApi().verify_repo_checksums("test/tiny-model", revision=ref, cache_dir=str(work / "c1"))
    out["verify"] = {"checked": v.checked_count, "mismatches": [str(m) for m in getattr(v, "mismatches", [])],
                     "missing": [str(m) for m in getattr(v, "missing_paths", [])]}

# 2. hf_hub_download of the LFS file (HEAD -> 302 to the other host -> GET without auth), at main and at tag v1.0.
p = hf_hub_download("test/tiny-model", "model.safetensors", cache_dir=str(work / "c2"))
out["lfs_main"] = sha256(p)
p = hf_hub_download("test/tiny-model", "model.safetensors", revision="v1.0", cache_dir=str(work / "c2"))
out["lfs_v1"] = sha256(p)
p = hf_hub_download("test/tiny-model", "original/params.json", cache_dir=str(work / "c2"))
out["subfolder"] = sha256(p)

# 3. errors
def err(fn):
    try:
        fn()
        return "no error"
    except Exception as e:  # noqa
        return type(e).__name__
out["gated_anon"] = err(lambda: hf_hub_download("test/gated-model", "config.json", cache_dir=str(work / "c3")))
out["gated_snapshot_anon"] = err(lambda: snapshot_download("test/gated-model", cache_dir=str(work / "c3b")))
out["gated_other_token"] = err(lambda: hf_hub_download("test/gated-model", "config.json", cache_dir=str(work / "c4"), token="hf_notaccepted00000000000"))
gp = hf_hub_download("test/gated-model", "model.safetensors", cache_dir=str(work / "c5"), token=expected["token"])
out["gated_token"] = sha256(gp)
out["missing_file"] = err(lambda: hf_hub_download("test/tiny-model", "nope.txt", cache_dir=str(work / "c6")))
out["missing_rev"] = err(lambda: hf_hub_download("test/tiny-model", "config.json", revision="nobranch", cache_dir=str(work / "c6")))
out["missing_repo"] = err(lambda: hf_hub_download("test/nothing-here", "config.json", cache_dir=str(work / "c6")))

# 4. HfApi: model_info / list_repo_tree (paginated) / list_repo_refs
api = HfApi()
mi = api.model_info("test/tiny-model", files_metadata=True)
out["model_info"] = {"sha": mi.sha, "pipeline_tag": mi.pipeline_tag, "library_name": mi.library_name, "gated": mi.gated,
                     "siblings": sorted(s.rfilename for s in mi.siblings),
                     "lfs": {s.rfilename: s.lfs.sha256 for s in mi.siblings if s.lfs}}
tree = list(api.list_repo_tree("test/tiny-model", recursive=True))
out["tree"] = sorted([t.path, type(t).__name__] for t in tree)
refs = api.list_repo_refs("test/tiny-model")
out["refs"] = {"branches": {b.name: b.target_commit for b in refs.branches}, "tags": {t.name: t.target_commit for t in refs.tags}}
print("@@RESULT@@" + json.dumps(out))
`;

function runPython(python: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('Hub fixture fidelity with the official Python client', () => {
  let fx: StartedHubFixture;
  let tmp: string;
  beforeAll(async () => {
    fx = await startHubFixture({ treePageSize: 5 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-fixture-py-'));
  });
  afterAll(async () => {
    await fx?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('snapshot_download, hf_hub_download, HfApi and gated errors behave like against huggingface.co', async () => {
    const python = pythonPath();
    expect(fs.existsSync(python)).toBe(true);
    const tiny = fx.repos.get('test/tiny-model')!;
    const gated = fx.repos.get('test/gated-model')!;
    const expectedFile = path.join(tmp, 'expected.json');
    fs.writeFileSync(expectedFile, JSON.stringify({ token: fx.token }));
    const scriptFile = path.join(tmp, 'fidelity.py');
    fs.writeFileSync(scriptFile, SCRIPT);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, TMPDIR: process.env.TMPDIR,
      HOME: tmp,
      HF_HOME: path.join(tmp, 'hf-home'), // no stored token, no shared cache
      HF_ENDPOINT: fx.url,
      HF_HUB_DISABLE_TELEMETRY: '1',
      HF_HUB_DISABLE_XET: '1',
      HF_HUB_DISABLE_PROGRESS_BARS: '1',
      HF_HUB_DISABLE_IMPLICIT_TOKEN: '1',
      HF_HUB_OFFLINE: '0',
      HF_HUB_ETAG_TIMEOUT: '30',
      HF_HUB_DOWNLOAD_TIMEOUT: '30',
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
      PYTHONDONTWRITEBYTECODE: '1',
    };
    const r = await runPython(python, [scriptFile, expectedFile, tmp], env);
    const line = r.stdout.split('\n').find((l) => l.startsWith('@@RESULT@@'));
    if (r.code !== 0 || !line) throw new Error(`python failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(line.slice('@@RESULT@@'.length));

    // snapshot_download: every file of main, byte-exact, in snapshots/<commit sha>.
    expect(out.snapshot_dir).toBe(tiny.branches.main);
    expect(out.ref_main).toBe(tiny.branches.main);
    expect(Object.keys(out.snapshot_files).sort()).toEqual(tiny.files.map((f) => f.path).sort());
    for (const f of tiny.files) {
      expect(out.snapshot_files[f.path]).toEqual({ sha256: f.sha256, gitBlobSha1: f.gitBlobSha1, size: f.size });
    }
    // The client names blobs by etag: sha256 for LFS (X-Linked-Etag), git sha1 otherwise (ETag).
    expect(out.blobs).toEqual(tiny.files.map((f) => (f.lfs ? f.sha256 : f.gitBlobSha1)).sort());
    if (out.verify) expect(out.verify).toEqual({ checked: tiny.files.length, mismatches: [], missing: [] });

    const st = (repo: typeof tiny, sha?: string) => {
      const files = sha ? [...repo.commits.get(sha)!.files.values()] : repo.files;
      return files.find((f) => f.path === 'model.safetensors')!.sha256;
    };
    expect(out.lfs_main).toBe(st(tiny));
    expect(out.lfs_v1).toBe(st(tiny, tiny.tags['v1.0']));
    expect(out.lfs_v1).not.toBe(out.lfs_main);
    expect(out.subfolder).toBe(tiny.files.find((f) => f.path === 'original/params.json')!.sha256);

    expect(out.gated_anon).toBe('GatedRepoError');
    expect(out.gated_snapshot_anon).toBe('GatedRepoError');
    expect(out.gated_other_token).toBe('GatedRepoError');
    expect(out.gated_token).toBe(st(gated));
    expect(out.missing_file).toBe('RemoteEntryNotFoundError');
    expect(out.missing_rev).toBe('RevisionNotFoundError');
    expect(out.missing_repo).toBe('RepositoryNotFoundError');

    expect(out.model_info).toMatchObject({ sha: tiny.branches.main, pipeline_tag: 'text-generation', library_name: 'transformers', gated: false });
    expect(out.model_info.siblings).toEqual(tiny.files.map((f) => f.path).sort());
    expect(out.model_info.lfs).toEqual({ 'model.safetensors': st(tiny) });
    const treeFiles = out.tree.filter(([, t]: [string, string]) => t === 'RepoFile').map(([p]: [string, string]) => p);
    expect(treeFiles).toEqual(tiny.files.map((f) => f.path).sort());
    expect(out.refs).toEqual({ branches: tiny.branches, tags: tiny.tags });

    // LFS bytes came from the CDN host, never with the Authorization header.
    const cdn = fx.requests.filter((q) => q.host.startsWith('localhost'));
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((q) => !q.authorization)).toBe(true);
    expect(fx.requests.some((q) => q.method === 'HEAD' && q.url.includes('/resolve/'))).toBe(true);
  });
});
