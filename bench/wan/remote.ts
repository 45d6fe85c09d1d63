// The WAN bench's stand-ins for remote servers (the shaped Hub fixture, the shaped S3 proxy) each run
// in a process of their own. In the bench's process they shared one JS thread with each other and
// with the bench: during an overlapped `mirror` that thread served 100 MB/s of generated file
// bodies and proxied 100 MB/s of uploads, and the measured rate was partly the bench's own limit.
// Real servers run elsewhere; here they at least get their own thread, and their CPU is reported.
//
// Protocol (Node IPC): the child sends { ready: info } once it listens; the parent sends
// { id, op, args } and the child answers { id, result } or { id, error }. Every child answers
// `cpuSeconds` (its own user + system time) and `close` (stop serving, then exit).
import { fork, type ChildProcess } from 'node:child_process';

interface Reply { readonly id?: number; readonly result?: unknown; readonly error?: string; readonly ready?: unknown }

export class RemotePeer<Info> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited?: Error;

  private constructor(private readonly child: ChildProcess, readonly info: Info, readonly name: string) {
    child.on('message', (m: Reply) => {
      const p = m.id !== undefined ? this.pending.get(m.id) : undefined;
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
      else p.resolve(m.result);
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`${name} exited (${signal ?? `code ${code}`})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  /** Forks `entry` (a .ts file; ts-node transpiles it) and waits for its `ready` message. */
  static async start<Info>(name: string, entry: string, config: unknown): Promise<RemotePeer<Info>> {
    const child = fork(entry, [JSON.stringify(config)], {
      execArgv: ['--require', require.resolve('ts-node/register/transpile-only')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const info = await new Promise<Info>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${name} exited (code ${code}) before it was ready`));
      child.once('exit', onExit);
      child.once('error', reject);
      child.once('message', (m: Reply) => {
        child.off('exit', onExit);
        if (m.ready !== undefined) resolve(m.ready as Info);
        else reject(new Error(`${name}: ${m.error ?? 'no ready message'}`));
      });
    });
    return new RemotePeer<Info>(child, info, name);
  }

  call<T>(op: string, ...args: unknown[]): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, args });
    });
  }

  cpuSeconds(): Promise<number> {
    return this.call<number>('cpuSeconds');
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call('close').catch(() => undefined);
    await Promise.race([gone, new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Child side: sends `ready`, then answers calls with `ops` plus `cpuSeconds` and `close`. */
export function serveRemote(ready: unknown, ops: Record<string, (...args: never[]) => unknown>, close: () => Promise<void>): void {
  const send = (m: Reply) => process.send!(m);
  process.on('message', (m: { id: number; op: string; args: unknown[] }) => {
    void (async () => {
      try {
        if (m.op === 'cpuSeconds') {
          const c = process.cpuUsage();
          send({ id: m.id, result: (c.user + c.system) / 1e6 });
        } else if (m.op === 'close') {
          await close();
          send({ id: m.id, result: null });
          process.exit(0);
        } else if (ops[m.op]) {
          send({ id: m.id, result: await (ops[m.op] as (...a: unknown[]) => unknown)(...m.args) });
        } else send({ id: m.id, error: `unknown op ${m.op}` });
      } catch (e) {
        send({ id: m.id, error: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
  // The parent died: nothing is left to serve.
  process.on('disconnect', () => process.exit(0));
  send({ ready });
}

/** Child side: reports a startup failure and exits. */
export function failRemote(e: unknown): void {
  process.send?.({ error: e instanceof Error ? e.stack ?? e.message : String(e) }, () => process.exit(1));
}
