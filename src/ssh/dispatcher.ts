// An undici Dispatcher whose connections are SSH channels: each connection undici
// wants becomes a forwarded channel to a target inside the workspace, and idle ones
// are kept for reuse like any keep-alive socket. Failures carry warren's own error
// codes: undici treats a connect error coded UND_ERR_SOCKET as retryable at once,
// which on a dead tunnel would be a hot loop.
import { Agent, Dispatcher } from 'undici';
import type { Link, WaitOptions } from './link.js';

export interface LinkDispatcherOptions extends WaitOptions {
  /**
   * Where connections go inside the workspace. Default: the request's own origin
   * (http://127.0.0.1:4096/... reaches 127.0.0.1:4096 as seen from the workspace).
   */
  target?: { host: string; port: number };
  /** Channel open deadline. Default: the link's. */
  connectTimeoutMs?: number;
  /** Default 30 s; opencode's event stream sends a heartbeat every 10 s. */
  bodyTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /** Connections per origin; default unlimited (channels are cheap). */
  connections?: number;
}

export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

export function createLinkDispatcher(link: Link, o: LinkDispatcherOptions = {}): Dispatcher {
  return new Agent({
    bodyTimeout: o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    headersTimeout: o.headersTimeoutMs ?? 30_000,
    keepAliveTimeout: o.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: Math.max(o.keepAliveTimeoutMs ?? 30_000, 600_000),
    ...(o.connections ? { connections: o.connections } : {}),
    connect: (opts, callback) => {
      const host = o.target?.host ?? opts.hostname;
      const port = o.target?.port ?? (Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80));
      link.openSocket(host, port, {
        ...(o.connectTimeoutMs !== undefined ? { timeoutMs: o.connectTimeoutMs } : {}),
        ...(o.waitForUpMs !== undefined ? { waitForUpMs: o.waitForUpMs } : {}),
      }).then(
        // A Duplex that quacks like net.Socket: undici needs nothing more of it.
        (sock) => callback(null, sock as unknown as import('node:net').Socket),
        (err: Error) => callback(err, null),
      );
    },
  });
}

/**
 * A dispatcher whose pooled connections can all be dropped at once, for a server
 * that was replaced: keep-alive channels to a killed server can outlive it in the
 * pool, and the first request on one fails with "other side closed". Holders of
 * this object (SDK clients, say) keep it across renewals.
 */
export class RenewableDispatcher extends Dispatcher {
  private current: Dispatcher;

  constructor(private readonly make: () => Dispatcher) {
    super();
    this.current = make();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.current.dispatch(opts, handler);
  }

  /** New connections from now on; the old ones are destroyed with whatever still runs on them. */
  renew(): void {
    const old = this.current;
    this.current = this.make();
    void old.destroy().catch(() => {});
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const p = this.current.close();
    if (!callback) return p;
    void p.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const callback = typeof a === 'function' ? a : b;
    const p = this.current.destroy(typeof a === 'function' ? null : a ?? null);
    if (!callback) return p;
    void p.then(callback, callback);
  }
}
