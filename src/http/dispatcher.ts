// An undici Dispatcher whose connections are SSH channels: each connection undici
// wants becomes a forwarded channel to a target inside the workspace, and idle ones
// are kept for reuse like any keep-alive socket. Failures carry warren's own error
// codes: undici treats a connect error coded UND_ERR_SOCKET as retryable at once,
// which on a dead tunnel would be a hot loop.
import { Agent, type Dispatcher } from 'undici';
import type { Link, WaitOptions } from '../ssh/link.js';

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
