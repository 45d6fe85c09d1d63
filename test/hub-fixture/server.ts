// HTTP server speaking the subset of the huggingface.co protocol the official clients use.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultControls, RequestRecord } from './types';
import { cardLicense, type Commit, type RepoState, type StoredFile } from './model';
import type { NetworkShaper } from './shaping';

export interface ServerConfig {
  readonly repos: ReadonlyMap<string, RepoState>;
  /** WAN-like pacing of file bodies and a first-byte delay on every request (./shaping.ts). @default none */
  readonly shaper?: NetworkShaper;
  readonly tokens: readonly string[];
  readonly treePageSize: number;
  /** Like today's huggingface.co: non-LFS resolves answer 307 to `/api/resolve-cache/...` on the same host. */
  readonly resolveCacheRedirect: boolean;
  /** Answer every Range request on file bodies with 200 and the whole body, like some CDNs. */
  readonly rangeAnswersWhole?: boolean;
}

interface MutableRecord {
  method: string;
  url: string;
  host: string;
  range?: string;
  status: number;
  bytesSent: number;
  authorization: boolean;
  startedAt: number;
  endedAt?: number;
}

type FaultKind = 'drop' | 'corrupt' | 'serverError' | 'missing';
interface Fault {
  kind: FaultKind;
  repo: string;
  path: string;
  remaining: number;
  bytes?: number;
  status?: number;
}

type Auth = 'none' | 'accepted' | 'user' | 'invalid';

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const SIGNING_KEY = crypto.randomBytes(32);
const HEX40 = /^[0-9a-f]{40}$/;

function contentType(p: string): string {
  if (p.endsWith('.json')) return 'application/json; charset=utf-8';
  if (/\.(md|txt)$/.test(p) || p.endsWith('.gitattributes') || p.endsWith('merges.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function contentDisposition(p: string, kind: 'inline' | 'attachment'): string {
  const base = p.split('/').pop() || p;
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename*=UTF-8''${encodeURIComponent(base)}; filename="${ascii}";`;
}

/** Parses a single `bytes=` range. Returns null when absent or syntactically invalid (=> serve 200), 'unsatisfiable' for 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid => ignored (RFC 9110)
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export class HubServer {
  readonly server: http.Server;
  readonly requests: RequestRecord[] = [];
  private readonly served = new Map<string, number>();
  private faultList: Fault[] = [];
  /** `repo\0path` -> the release of a hold: answers with that file's bytes wait for it. */
  private readonly holds = new Map<string, { released: Promise<void>; release: () => void }>();
  private rateLimitRemaining = 0;
  private rateLimitRetryAfter = 1;
  private readonly byLfsOid = new Map<string, { repo: RepoState; file: StoredFile }>();
  private readonly sockets = new Set<import('node:net').Socket>();
  url = '';
  lfsUrl = '';

  readonly faults: FaultControls;

  constructor(private readonly cfg: ServerConfig) {
    for (const repo of cfg.repos.values()) {
      for (const c of repo.commits.values()) {
        for (const f of c.files.values()) if (f.lfs) this.byLfsOid.set(`${repo.id}\0${f.sha256}`, { repo, file: f });
      }
    }
    const add = (f: Fault) => this.faultList.push(f);
    this.faults = {
      dropAfterBytes: (repo, path, bytes, times = 1) => add({ kind: 'drop', repo, path, bytes, remaining: times }),
      corrupt: (repo, path, times = 1) => add({ kind: 'corrupt', repo, path, remaining: times }),
      rateLimit: (times, retryAfterSeconds) => {
        this.rateLimitRemaining = times;
        this.rateLimitRetryAfter = retryAfterSeconds;
      },
      serverError: (repo, path, status = 500, times = 1) => add({ kind: 'serverError', repo, path, status, remaining: times }),
      missing: (repo, path, times = 1) => add({ kind: 'missing', repo, path, remaining: times }),
      hold: (repo, path) => {
        const key = `${repo}\0${path}`;
        let release!: () => void;
        const released = new Promise<void>((resolve) => { release = resolve; });
        const entry = { released, release: () => { if (this.holds.get(key) === entry) this.holds.delete(key); release(); } };
        this.holds.set(key, entry);
        return entry.release;
      },
      reset: () => {
        for (const h of [...this.holds.values()]) h.release();
        this.faultList = [];
        this.rateLimitRemaining = 0;
      },
    };
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end(String(err));
        } else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /**
   * @param host address to bind (e.g. a cluster bridge address, so pods reach it)
   * @param names host names in the URLs it hands out: the Hub's own, and the LFS "CDN" (another
   *   name for the same server, as huggingface.co redirects LFS files to another host)
   */
  async listen(port: number, host = '127.0.0.1', names: { hub?: string; lfs?: string } = {}): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const p = (this.server.address() as AddressInfo).port;
    this.url = `http://${names.hub ?? host}:${p}`;
    this.lfsUrl = `http://${names.lfs ?? 'localhost'}:${p}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  bytesServed(repo: string, path?: string): number {
    if (path !== undefined) return this.served.get(`${repo}\0${path}`) ?? 0;
    let n = 0;
    for (const [k, v] of this.served) if (k.startsWith(`${repo}\0`)) n += v;
    return n;
  }

  private takeFault(kind: FaultKind, repo: string, path: string): Fault | undefined {
    const f = this.faultList.find((x) => x.kind === kind && x.repo === repo && x.path === path && x.remaining > 0);
    if (!f) return undefined;
    f.remaining--;
    if (f.remaining <= 0) this.faultList = this.faultList.filter((x) => x !== f);
    return f;
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rec: MutableRecord = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      host: req.headers.host ?? '',
      range: req.headers.range,
      status: 0,
      bytesSent: 0,
      authorization: req.headers.authorization !== undefined,
      startedAt: performance.now(),
    };
    res.on('close', () => (rec.endedAt = performance.now()));
    this.requests.push(rec);
    const origWriteHead = res.writeHead.bind(res);
    res.writeHead = ((...args: Parameters<typeof res.writeHead>) => {
      rec.status = args[0];
      return origWriteHead(...args);
    }) as typeof res.writeHead;
    res.on('finish', () => (rec.status ||= res.statusCode));
    res.setHeader('X-Request-Id', `Root=1-${crypto.randomBytes(12).toString('hex')}`);
    if (this.cfg.shaper) await this.cfg.shaper.firstByte();

    try {
      if (this.rateLimitRemaining > 0) {
        this.rateLimitRemaining--;
        const t = this.rateLimitRetryAfter;
        throw new HttpError(429, 'You have exceeded our hourly quotas for action: api. We invite you to retry later.', 'RateLimited', {
          'Retry-After': String(t),
          RateLimit: `"api";r=0;t=${t}`,
          'RateLimit-Policy': '"fixed window";"api";q=500;w=300',
        });
      }
      await this.route(req, res, rec);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = Buffer.from(JSON.stringify({ error: e.message }));
      const headers: Record<string, string> = {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': String(body.length),
        'X-Error-Message': e.message,
        ...e.headers,
      };
      if (e.code) headers['X-Error-Code'] = e.code;
      res.writeHead(e.status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    }
  }

  private auth(req: http.IncomingMessage): Auth {
    const h = req.headers.authorization;
    if (!h) return 'none';
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) return 'invalid';
    if (this.cfg.tokens.includes(m[1])) return 'accepted';
    return m[1].startsWith('hf_') ? 'user' : 'invalid';
  }

  /** Repo visibility checks shared by all endpoints; `files` adds the gate (file contents). */
  private repoFor(id: string, auth: Auth, files: boolean): RepoState {
    if (auth === 'invalid') throw new HttpError(401, 'Invalid credentials in Authorization header');
    const repo = this.cfg.repos.get(id);
    if (!repo || (repo.private && auth !== 'accepted')) {
      throw new HttpError(auth === 'none' ? 401 : 404, 'Repository not found', 'RepoNotFound');
    }
    if (files && repo.gated && auth !== 'accepted') {
      if (auth === 'none') {
        throw new HttpError(401, `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`, 'GatedRepo');
      }
      throw new HttpError(403, `Access to model ${id} is restricted and you are not in the authorized list. Visit ${this.url}/${id} to ask for access.`, 'GatedRepo');
    }
    return repo;
  }

  private commitFor(repo: RepoState, rev: string): Commit {
    const sha =
      rev === 'HEAD' ? repo.branches.main
        : repo.branches[rev] ?? repo.tags[rev] ?? repo.otherRefs[rev] ?? (HEX40.test(rev) && repo.commits.has(rev) ? rev : undefined);
    const c = sha ? repo.commits.get(sha) : undefined;
    if (!c) throw new HttpError(404, `Invalid rev id: ${rev}`, 'RevisionNotFound');
    return c;
  }

  /** Splits a revision off the front of raw path segments (handles `refs/pr/N` sent unencoded). */
  private splitRev(segs: string[]): { rev: string; rest: string[] } {
    const dec = segs.map((s) => safeDecode(s));
    if (dec[0] === 'refs' && (dec[1] === 'pr' || dec[1] === 'convert') && dec.length >= 3) {
      return { rev: dec.slice(0, 3).join('/'), rest: segs.slice(3) };
    }
    return { rev: dec[0] ?? '', rest: segs.slice(1) };
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, rec: MutableRecord): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    // Raw split (no normalisation of `..`): hostile file names must be addressable.
    const rawPath = (req.url ?? '/').split('?')[0];
    const segs = rawPath.split('/').slice(1);
    const method = req.method ?? 'GET';
    const auth = this.auth(req);

    // CDN ("other host") for LFS objects: /repos/<a>/<b>/<repohash>/<sha256>?...signed
    if (segs[0] === 'repos' && segs.length === 5) return this.serveCdn(req, res, rec, segs, u);

    if (segs[0] === 'api') {
      if (segs[1] === 'whoami-v2') {
        if (auth === 'none' || auth === 'invalid') throw new HttpError(401, 'Invalid credentials in Authorization header');
        return this.json(req, res, { type: 'user', name: 'fixture-user', auth: { type: 'access_token', accessToken: { role: 'read' } } });
      }
      if (segs[1] === 'resolve-cache' && segs[2] === 'models' && segs.length >= 7) {
        const id = `${safeDecode(segs[3])}/${safeDecode(segs[4])}`;
        const repo = this.repoFor(id, auth, true);
        const { rev, rest } = this.splitRev(segs.slice(5));
        return this.serveResolve(req, res, rec, repo, rev, rest, 'cache');
      }
      if (segs[1] === 'models' && segs.length >= 4) {
        const id = `${safeDecode(segs[2])}/${safeDecode(segs[3])}`;
        const action = segs[4];
        if (action === undefined || action === '') {
          return this.modelInfo(req, res, this.repoFor(id, auth, false), 'main', u);
        }
        if (action === 'revision' && segs.length >= 6) {
          const { rev } = this.splitRev(segs.slice(5));
          return this.modelInfo(req, res, this.repoFor(id, auth, false), rev, u);
        }
        if (action === 'tree' && segs.length >= 6) {
          const repo = this.repoFor(id, auth, false);
          const { rev, rest } = this.splitRev(segs.slice(5));
          return this.tree(req, res, repo, rev, rest.map(safeDecode).join('/'), u);
        }
        if (action === 'paths-info' && segs.length >= 6) {
          const repo = this.repoFor(id, auth, false);
          const { rev } = this.splitRev(segs.slice(5));
          return this.pathsInfo(req, res, repo, rev);
        }
        if (action === 'refs') return this.refs(req, res, this.repoFor(id, auth, false));
        if (action === 'commits' && segs.length >= 6) {
          const repo = this.repoFor(id, auth, false);
          const { rev } = this.splitRev(segs.slice(5));
          return this.commits(req, res, repo, rev);
        }
      }
      throw new HttpError(404, 'Not Found');
    }

    // /{org}/{name}/resolve|raw/{rev}/{path...}  (also /models/{org}/{name}/...)
    const s = segs[0] === 'models' ? segs.slice(1) : segs;
    if (s.length >= 5 && (s[2] === 'resolve' || s[2] === 'raw') && (method === 'GET' || method === 'HEAD')) {
      const id = `${safeDecode(s[0])}/${safeDecode(s[1])}`;
      const repo = this.repoFor(id, auth, true);
      const { rev, rest } = this.splitRev(s.slice(3));
      return this.serveResolve(req, res, rec, repo, rev, rest, s[2] === 'raw' ? 'raw' : 'resolve');
    }
    throw new HttpError(404, 'Not Found');
  }

  private json(req: http.IncomingMessage, res: http.ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
    const buf = Buffer.from(JSON.stringify(body));
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(buf.length), ...headers });
    res.end(req.method === 'HEAD' ? undefined : buf);
  }

  // -------------------------------------------------------------------------------------------
  // API

  private modelInfo(req: http.IncomingMessage, res: http.ServerResponse, repo: RepoState, rev: string, u: URL): void {
    const c = this.commitFor(repo, rev);
    const files = [...c.files.values()];
    const blobs = ['1', 'true'].includes(u.searchParams.get('blobs') ?? '');
    const config = tryJson(c.files.get('config.json'));
    const st = c.files.get('model.safetensors');
    const params = st?.data ? safetensorsParams(st.data) : undefined;
    const license = cardLicense(c.files.get('README.md')?.data?.toString());
    const issues = files.filter((f) => this.scanOf(repo, f.path).status !== 'safe').map((f) => ({ path: f.path, level: this.scanOf(repo, f.path).status }));
    const full: Record<string, unknown> = {
      _id: sha1hex(`id:${repo.id}`).slice(0, 24),
      id: repo.id,
      modelId: repo.id,
      author: repo.author,
      sha: c.sha,
      lastModified: c.date,
      createdAt: repo.createdAt,
      private: repo.private,
      disabled: false,
      gated: repo.gated ? 'manual' : false,
      downloads: 0,
      likes: 0,
      tags: ['transformers', 'safetensors', ...(config?.model_type ? [String(config.model_type)] : []), ...(repo.pipelineTag ? [repo.pipelineTag] : []), ...(license ? [`license:${license}`] : []), 'region:us'],
      pipeline_tag: repo.pipelineTag,
      library_name: repo.libraryName,
      // The README's front matter, as the Hub reports it: no `license` key when the card states none.
      cardData: { ...(license ? { license } : {}), pipeline_tag: repo.pipelineTag, library_name: repo.libraryName },
      config: config ? { architectures: config.architectures, model_type: config.model_type } : undefined,
      transformersInfo: config ? { auto_model: 'AutoModelForCausalLM', pipeline_tag: repo.pipelineTag, processor: 'AutoTokenizer' } : undefined,
      safetensors: params ? { parameters: params, total: Object.values(params).reduce((a, b) => a + b, 0) } : undefined,
      siblings: files.map((f) =>
        blobs
          ? { rfilename: f.path, blobId: f.oid, size: f.size, ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.size, pointerSize: f.pointer!.length } } : {}) }
          : { rfilename: f.path },
      ),
      spaces: [],
      usedStorage: files.reduce((a, f) => a + f.size, 0),
      // `?securityStatus=true` (or expand=securityRepoStatus): the scan summary of the revision.
      securityRepoStatus: { scansDone: true, filesWithIssues: issues },
    };
    const expand = u.searchParams.getAll('expand');
    let body = full;
    if (!['1', 'true'].includes(u.searchParams.get('securityStatus') ?? '')) delete body.securityRepoStatus;
    if (expand.length) {
      // Like the Hub: with `expand`, only the requested properties (plus _id and id) are returned.
      body = { _id: full._id, id: full.id };
      for (const k of expand) if (k in full) body[k] = full[k];
      if (expand.includes('securityRepoStatus')) body.securityRepoStatus = { scansDone: true, filesWithIssues: issues };
    }
    this.json(req, res, body);
  }

  private entry(repo: RepoState, c: Commit, p: string, type: 'file' | 'directory', expand: boolean): Record<string, unknown> {
    const lastCommit = expand ? { lastCommit: { id: c.sha, title: c.title, date: c.date } } : {};
    if (type === 'directory') {
      const listing = [...c.files.values()].filter((f) => f.path.startsWith(`${p}/`)).map((f) => `${f.oid} ${f.path}`).join('\n');
      return { type, oid: sha1hex(`tree ${repo.id} ${p}\n${listing}`), size: 0, path: p, ...lastCommit };
    }
    const f = c.files.get(p)!;
    return {
      type,
      oid: f.oid,
      size: f.size,
      ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: f.pointer!.length } } : {}),
      path: f.path,
      ...lastCommit,
      ...(expand ? { securityFileStatus: this.securityFileStatus(repo, f.path) } : {}),
    };
  }

  private scanOf(repo: RepoState, p: string) {
    return repo.scan[p] ?? { status: 'safe' as const };
  }

  /** The Hub's per-file scan record: the aggregate `status` and each scanner's own. */
  private securityFileStatus(repo: RepoState, p: string): Record<string, unknown> {
    const v = this.scanOf(repo, p);
    const pickle = /\.(bin|pt|pth|ckpt|pkl|pickle)$/.test(p);
    const scanner = (name: 'avScan' | 'pickleImportScan', fallback: string) =>
      v.scanner === name ? { status: v.status, ...(v.message ? { message: v.message } : {}) } : { status: fallback };
    return {
      status: v.status,
      avScan: scanner('avScan', 'safe'),
      pickleImportScan: { ...scanner('pickleImportScan', pickle ? 'safe' : 'unscanned'), ...(pickle ? { pickleImports: [{ module: 'torch._utils', name: '_rebuild_tensor_v2', safety: 'innocuous' }] } : {}) },
    };
  }

  /** All tree entries (files + implied directories) of a commit, sorted by path. */
  private allEntries(c: Commit): Array<{ path: string; type: 'file' | 'directory' }> {
    const dirs = new Set<string>();
    for (const f of c.files.keys()) {
      const parts = f.split('/');
      for (let i = 1; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (d && !c.files.has(d)) dirs.add(d);
      }
    }
    const out = [
      ...[...dirs].map((path) => ({ path, type: 'directory' as const })),
      ...[...c.files.keys()].map((path) => ({ path, type: 'file' as const })),
    ];
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private tree(req: http.IncomingMessage, res: http.ServerResponse, repo: RepoState, rev: string, dir: string, u: URL): void {
    const c = this.commitFor(repo, rev);
    const recursive = ['1', 'true'].includes(u.searchParams.get('recursive') ?? '');
    const expand = ['1', 'true'].includes(u.searchParams.get('expand') ?? '');
    dir = dir.replace(/\/+$/, '');
    const all = this.allEntries(c);
    if (dir && !all.some((e) => e.type === 'directory' && e.path === dir)) {
      throw new HttpError(404, `Entry not found`, 'EntryNotFound', { 'X-Repo-Commit': c.sha });
    }
    const prefix = dir ? `${dir}/` : '';
    const matching = all.filter((e) => {
      if (dir && !e.path.startsWith(prefix)) return false;
      if (!dir && (e.path.startsWith('/') || e.path.startsWith('../'))) return true;
      return recursive || !e.path.slice(prefix.length).includes('/');
    });
    const cursor = u.searchParams.get('cursor');
    let offset = 0;
    if (cursor) {
      const m = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
      if (!m) throw new HttpError(400, 'Invalid cursor');
      offset = Number(m[1]);
    }
    const pageSize = Math.max(1, this.cfg.treePageSize);
    const page = matching.slice(offset, offset + pageSize).map((e) => this.entry(repo, c, e.path, e.type, expand));
    const headers: Record<string, string> = {};
    if (offset + pageSize < matching.length) {
      const next = new URL(u.pathname + u.search, this.url);
      next.searchParams.set('cursor', Buffer.from(`offset:${offset + pageSize}`).toString('base64url'));
      headers.Link = `<${next.toString()}>; rel="next"`;
    }
    this.json(req, res, page, headers);
  }

  private async pathsInfo(req: http.IncomingMessage, res: http.ServerResponse, repo: RepoState, rev: string): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'Method not allowed');
    const c = this.commitFor(repo, rev);
    const chunks: Buffer[] = [];
    for await (const ch of req) chunks.push(ch as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let paths: string[] = [];
    let expand = false;
    if ((req.headers['content-type'] ?? '').includes('application/json')) {
      const j = JSON.parse(raw || '{}') as { paths?: string[]; expand?: boolean };
      paths = j.paths ?? [];
      expand = !!j.expand;
    } else {
      const f = new URLSearchParams(raw);
      paths = f.getAll('paths');
      expand = ['1', 'true', 'True'].includes(f.get('expand') ?? '');
    }
    const all = new Map(this.allEntries(c).map((e) => [e.path, e.type]));
    const out = paths.filter((p) => all.has(p)).map((p) => this.entry(repo, c, p, all.get(p)!, expand));
    this.json(req, res, out);
  }

  private refs(req: http.IncomingMessage, res: http.ServerResponse, repo: RepoState): void {
    const list = (o: Record<string, string>, kind: string) =>
      Object.entries(o).map(([name, targetCommit]) => ({ name, ref: `refs/${kind}/${name}`, targetCommit }));
    this.json(req, res, {
      branches: list(repo.branches, 'heads'),
      tags: list(repo.tags, 'tags'),
      converts: [],
      pullRequests: Object.entries(repo.otherRefs).map(([ref, targetCommit]) => ({ name: ref.split('/').pop(), ref, targetCommit })),
    });
  }

  private commits(req: http.IncomingMessage, res: http.ServerResponse, repo: RepoState, rev: string): void {
    const out: unknown[] = [];
    for (let c: Commit | undefined = this.commitFor(repo, rev); c; c = c.parent ? repo.commits.get(c.parent) : undefined) {
      out.push({ id: c.sha, title: c.title, message: '', authors: [{ user: repo.author }], date: c.date });
    }
    this.json(req, res, out);
  }

  // -------------------------------------------------------------------------------------------
  // Files

  private async serveResolve(
    req: http.IncomingMessage, res: http.ServerResponse, rec: MutableRecord,
    repo: RepoState, rev: string, rest: string[], mode: 'resolve' | 'raw' | 'cache',
  ): Promise<void> {
    const c = this.commitFor(repo, rev);
    const filePath = rest.map(safeDecode).join('/');
    const base = { 'X-Repo-Commit': c.sha };
    const sErr = this.takeFault('serverError', repo.id, filePath);
    if (sErr) throw new HttpError(sErr.status ?? 500, 'Internal Error - We\'re working hard to fix this as soon as possible!', undefined, base);
    const file = c.files.get(filePath);
    if (!file || this.takeFault('missing', repo.id, filePath)) {
      throw new HttpError(404, 'Entry not found', 'EntryNotFound', base);
    }
    if (mode === 'raw' || !file.lfs) {
      const data = mode === 'raw' && file.lfs ? file.pointer! : file.data!;
      const etag = `"${mode === 'raw' && file.lfs ? file.oid : file.gitBlobSha1}"`;
      if (mode === 'resolve' && this.cfg.resolveCacheRedirect) {
        // Today's Hub: same-host 307 to the resolve-cache route at the commit sha.
        const loc = `/api/resolve-cache/models/${repo.id}/${c.sha}/${encodePath(file.path)}?etag=${encodeURIComponent(etag)}`;
        const body = Buffer.from(`Temporary Redirect. Redirecting to ${loc}`);
        res.writeHead(307, {
          ...base, Location: loc, ETag: etag, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length),
          'Accept-Ranges': 'bytes', Vary: 'Origin, Accept',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      return this.sendContent(req, res, rec, repo, file, data, {
        ...base, ETag: etag, 'Content-Type': contentType(file.path), 'Content-Disposition': contentDisposition(file.path, 'inline'),
        Vary: 'Origin, Accept',
      });
    }
    // LFS: redirect to the CDN host with a signed, expiring URL.
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const repoHash = sha1hex(`repo:${repo.id}`);
    const cdnPath = `/repos/${repoHash.slice(0, 2)}/${repoHash.slice(2, 4)}/${repoHash}/${file.sha256}`;
    const q = new URLSearchParams({
      'response-content-disposition': contentDisposition(file.path, 'inline'),
      Expires: String(expires),
    });
    q.set('Signature', sign(cdnPath, expires));
    q.set('Key-Pair-Id', 'KFIXTURE0000');
    const location = `${this.lfsUrl}${cdnPath}?${q.toString()}`;
    const body = Buffer.from(`Found. Redirecting to ${location}`);
    res.writeHead(302, {
      ...base,
      Location: location,
      'X-Linked-Etag': `"${file.sha256}"`,
      'X-Linked-Size': String(file.size),
      ETag: `"${file.sha256}"`,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(body.length),
      Vary: 'Origin, Accept',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async serveCdn(req: http.IncomingMessage, res: http.ServerResponse, rec: MutableRecord, segs: string[], u: URL): Promise<void> {
    const cdnPath = '/' + segs.join('/');
    const expires = Number(u.searchParams.get('Expires'));
    const sig = u.searchParams.get('Signature') ?? '';
    if (!expires || sig !== sign(cdnPath, expires) || expires * 1000 < Date.now()) {
      const body = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>');
      res.writeHead(403, { 'Content-Type': 'text/xml', 'Content-Length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const repoHash = segs[3];
    let hit: { repo: RepoState; file: StoredFile } | undefined;
    for (const repo of this.cfg.repos.values()) {
      if (sha1hex(`repo:${repo.id}`) === repoHash) hit = this.byLfsOid.get(`${repo.id}\0${segs[4]}`);
    }
    if (!hit) {
      res.writeHead(404, { 'Content-Type': 'text/xml' });
      res.end();
      return;
    }
    const disp = u.searchParams.get('response-content-disposition');
    return this.sendContent(req, res, rec, hit.repo, hit.file, hit.file.data ?? null, {
      ETag: `"${hit.file.sha256}"`,
      'Content-Type': 'application/octet-stream',
      ...(disp ? { 'Content-Disposition': disp } : {}),
      'Cache-Control': 'public, max-age=604800, immutable',
      'X-Cache': 'Hit from cloudfront',
    });
  }

  /** Serves file bytes with Range support and the drop/corrupt faults. `data` null => generated content. */
  private async sendContent(
    req: http.IncomingMessage, res: http.ServerResponse, rec: MutableRecord,
    repo: RepoState, file: StoredFile, data: Buffer | null, headers: Record<string, string>,
  ): Promise<void> {
    await this.holds.get(`${repo.id}\0${file.path}`)?.released;
    const size = data ? data.length : file.size;
    const range = this.cfg.rangeAnswersWhole ? null : parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': '0', 'Content-Type': 'text/plain' });
      res.end();
      return;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end + 1 : size; // exclusive
    const h: Record<string, string> = { ...headers, 'Accept-Ranges': 'bytes', 'Content-Length': String(end - start) };
    if (range) h['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
    res.writeHead(range ? 206 : 200, h);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const drop = this.takeFault('drop', repo.id, file.path);
    const corrupt = this.takeFault('corrupt', repo.id, file.path);
    const key = `${repo.id}\0${file.path}`;
    const chunks: Iterable<Buffer> = data
      ? (function* () {
          for (let p = start; p < end; p += 256 * 1024) yield data.subarray(p, Math.min(end, p + 256 * 1024));
        })()
      : file.gen!.chunks(start, end);
    let sent = 0;
    for (let chunk of chunks) {
      if (res.destroyed) return;
      if (drop && sent + chunk.length >= drop.bytes!) chunk = chunk.subarray(0, Math.max(0, drop.bytes! - sent));
      if (corrupt) {
        chunk = Buffer.from(chunk);
        for (let i = 0; i < chunk.length; i++) chunk[i] ^= 0xa5;
      }
      if (chunk.length) {
        sent += chunk.length;
        rec.bytesSent += chunk.length;
        this.served.set(key, (this.served.get(key) ?? 0) + chunk.length);
        if (this.cfg.shaper) await this.cfg.shaper.write(res, req.socket, chunk);
        else if (!res.write(chunk)) await waitDrain(res);
      }
      if (drop && sent >= drop.bytes!) {
        // Let the partial body reach the client, then kill the connection mid-response.
        await new Promise((r) => setTimeout(r, 20));
        res.destroy();
        req.socket.destroy();
        return;
      }
    }
    res.end();
  }
}

function waitDrain(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function sign(p: string, expires: number): string {
  return crypto.createHmac('sha256', SIGNING_KEY).update(`${p}\n${expires}`).digest('base64url');
}

function sha1hex(s: string): string {
  return crypto.createHash('sha1').update(s).digest('hex');
}

/** Per-segment encoding; paths with `.`/`..`/empty segments become one fully encoded segment so URL normalisation keeps them. */
export function encodePath(p: string): string {
  const parts = p.split('/');
  if (parts.some((x) => x === '' || x === '.' || x === '..')) return encodeURIComponent(p).replace(/\./g, '%2E');
  return parts.map(encodeURIComponent).join('/');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function tryJson(f: StoredFile | undefined): Record<string, unknown> | undefined {
  if (!f?.data) return undefined;
  try {
    return JSON.parse(f.data.toString()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function safetensorsParams(buf: Buffer): Record<string, number> | undefined {
  try {
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { dtype: string; shape: number[] }>;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(header)) {
      if (k === '__metadata__') continue;
      out[v.dtype] = (out[v.dtype] ?? 0) + v.shape.reduce((a, b) => a * b, 1);
    }
    return out;
  } catch {
    return undefined;
  }
}
