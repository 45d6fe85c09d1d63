// A lease on a RUNNING run: the process writing into it says who it is (host/pid/nonce) and
// renews an expiry tag while it works. Another mirror of the same identity treats the run as
// live (never adopts it) until the lease expires, or, on the same host, until the owner's pid is
// gone (a SIGKILLed mirror is then adopted at once instead of after the lease).
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { log } from '../common/log';
import type { MlflowClient } from './client';
import { setRunTags } from './runs';
import { TAG } from './tags';

/** How long a lease lasts without renewal; renewed every quarter of it. */
export const LEASE_SECONDS = 120;

const NONCE = randomBytes(4).toString('hex');

/** This process, as written in the lease tag. */
export function leaseOwnerId(): string {
  return `${os.hostname()}/${process.pid}/${NONCE}`;
}

export function leaseTags(owner: string, now = Date.now(), seconds = LEASE_SECONDS): Record<string, string> {
  return { [TAG.leaseOwner]: owner, [TAG.leaseExpires]: String(now + seconds * 1000) };
}

export type LeaseState = 'live' | 'expired' | 'owner-gone' | 'none';

/** Whether the pid still exists on this host (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The state of a run's lease from its tags. */
export function leaseState(tags: Record<string, string>, now = Date.now(), host = os.hostname()): LeaseState {
  const owner = tags[TAG.leaseOwner];
  const expires = Number(tags[TAG.leaseExpires]);
  if (!owner || !Number.isFinite(expires)) return 'none';
  const [ownerHost, pidText] = owner.split('/');
  const pid = Number(pidText);
  if (ownerHost === host && Number.isInteger(pid) && pid > 0 && owner !== leaseOwnerId() && !pidAlive(pid)) return 'owner-gone';
  return expires > now ? 'live' : 'expired';
}

/** Renews this process's lease on a run until stop(); renewal failures only warn (the lease then lapses). */
export class LeaseKeeper {
  private timer?: NodeJS.Timeout;

  constructor(private readonly client: MlflowClient, readonly runId: string, readonly owner = leaseOwnerId(), private readonly seconds = LEASE_SECONDS) {}

  start(): this {
    this.timer = setInterval(() => {
      setRunTags(this.client, this.runId, leaseTags(this.owner, Date.now(), this.seconds))
        .catch((e: unknown) => log.warn('Could not renew the lease on the run', { runId: this.runId, error: (e as Error).message }));
    }, (this.seconds * 1000) / 4);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
