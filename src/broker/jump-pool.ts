// One SSH connection per jump host, shared by every workspace behind it. Counted:
// the first workspace that needs a jump host opens its link, the last one to go
// closes it, so a reload that adds or removes workspaces opens or closes the jump
// link with them. A hundred workspaces behind one bastion cost it one handshake, and
// when that link drops, one reconnect: the workspaces' own attempts wait for it
// (connect.ts) and then go to their own sshds through it.
import type { JumpHostConfig } from '../config/index.js';
import { silentLogger, type Logger } from '../log.js';
import { Link } from '../ssh/link.js';
import type { Semaphore } from '../ssh/semaphore.js';

export interface JumpLease {
  readonly link: Link;
  /** Gives the lease back; the last one closes the link. Idempotent. */
  release(): Promise<void>;
}

export interface JumpPoolOptions {
  logger?: Logger;
  handshakeLimiter?: Semaphore;
  /** One-shot use (a command): the jump link fails fast like the workspace's own (link.ts). */
  failFast?: boolean;
}

interface Entry { link: Link; refs: number }

export class JumpPool {
  // Keyed by name and config: a jump host whose config changed is a new link, even
  // while a workspace still holds the old one during a reload.
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: JumpPoolOptions = {}) {}

  /** A lease on the jump host's link, started; the same link for every lease with that config. */
  acquire(jump: JumpHostConfig): JumpLease {
    const key = JSON.stringify(jump);
    let e = this.entries.get(key);
    if (!e) {
      const link = new Link({
        name: jump.name, user: jump.user, transport: { kind: 'tcp', host: jump.host, port: jump.port },
        privateKeyPath: jump.privateKeyPath, hostKeyFingerprints: jump.hostKeyFingerprints, keepalive: jump.keepalive,
        logger: (this.o.logger ?? silentLogger).child({ jumpHost: jump.name }), failFast: this.o.failFast ?? false,
        ...(this.o.handshakeLimiter ? { handshakeLimiter: this.o.handshakeLimiter } : {}),
      });
      e = { link, refs: 0 };
      this.entries.set(key, e);
      link.start();
    }
    e.refs++;
    const entry = e;
    let released = false;
    return {
      link: entry.link,
      release: async () => {
        if (released) return;
        released = true;
        if (--entry.refs > 0) return;
        if (this.entries.get(key) === entry) this.entries.delete(key);
        await entry.link.close();
      },
    };
  }

  /** The jump links open now, with how many workspaces use each. */
  list(): Array<{ link: Link; refs: number }> {
    return [...this.entries.values()].map(({ link, refs }) => ({ link, refs }));
  }
}
