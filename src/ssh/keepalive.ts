// warren's own liveness probe on an up connection. ssh2's keepalive cannot report a
// round-trip time and notices a frozen peer only after interval x (count + 1). This
// probe is a `cancel-tcpip-forward` for a forward that does not exist: no side
// effect, and sshd always answers it. One probe is out at a time, with a hard
// deadline: a peer that does not answer within it is gone.
import { performance } from 'node:perf_hooks';
import type { Client } from 'ssh2';
import { KEEPALIVE_DEFAULTS } from '../defaults.js';

export interface KeepaliveOptions {
  /** How often a probe is sent while none is outstanding. */
  intervalMs: number;
  /** A probe unanswered this long means the peer is gone. */
  timeoutMs: number;
}

/** With these, a frozen peer is noticed within interval + timeout = 2.8 s. */
export const DEFAULT_KEEPALIVE: KeepaliveOptions = { ...KEEPALIVE_DEFAULTS };

export interface KeepaliveHooks {
  /** A probe was answered after `ms` milliseconds. */
  onRtt(ms: number): void;
  /** The peer is gone: a probe went unanswered past its deadline, or could not be sent. */
  onLost(err: Error): void;
}

/** Probes `client` until the returned function is called; after that no hook runs for a reply. */
export function startKeepalive(client: Client, o: KeepaliveOptions, hooks: KeepaliveHooks): () => void {
  let stopped = false;
  let next: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const probe = () => {
    if (stopped) return;
    const sentAt = performance.now();
    deadline = setTimeout(() => hooks.onLost(new Error(`no keepalive reply within ${o.timeoutMs} ms`)), o.timeoutMs);
    try {
      client.unforwardIn('127.0.0.1', 1, () => {
        if (stopped) return;
        clearTimeout(deadline);
        hooks.onRtt(performance.now() - sentAt);
        next = setTimeout(probe, o.intervalMs);
      });
    } catch (err) {
      hooks.onLost(err as Error);
    }
  };
  next = setTimeout(probe, o.intervalMs);
  return () => {
    stopped = true;
    clearTimeout(next);
    clearTimeout(deadline);
  };
}
