// The pass-through's one request to a workspace's opencode: the caller's method,
// path, headers and body, with the server's password in place of the caller's
// credentials. What breaks it is mapped by brokenCall (api.ts), the one place that
// tells a dropped link from a dead server, so the next request starts the server
// again rather than trying a dead port.
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { isWarrenError, ServerGoneError, ServerHttpError } from '../errors.js';
import { brokenCall, originOf } from './api.js';
import type { OpencodeServer } from './server.js';

export interface ForwardRequest {
  method: string;
  /** The path and query inside opencode. */
  target: string;
  /** The caller's headers, without its hop-by-hop ones and credentials. */
  headers: Record<string, string | string[]>;
  signal: AbortSignal;
  body?: Readable | Buffer;
}

/** How long opencode may take to send a pass-through response's head (both lanes of the gateway). */
export const RESPONSE_HEADERS_TIMEOUT_MS = 60_000;

export async function forward(server: OpencodeServer, o: ForwardRequest): Promise<Dispatcher.ResponseData> {
  const origin = originOf(server);
  try {
    return await request(`${server.baseUrl}${o.target}`, {
      method: o.method as 'GET', headers: { ...o.headers, authorization: server.authorization() }, signal: o.signal, dispatcher: server.dispatcher,
      ...(o.body ? { body: o.body } : {}),
      headersTimeout: RESPONSE_HEADERS_TIMEOUT_MS, bodyTimeout: 0,
    });
  } catch (err) {
    // The caller left: nothing broke.
    if (o.signal.aborted) throw err;
    if ((err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') throw new ServerHttpError(server.workspace, `${o.method} ${o.target}`, 504, `no response headers within ${RESPONSE_HEADERS_TIMEOUT_MS / 1000} s`);
    throw await brokenCall(server, origin, err, `${o.method} ${o.target}`);
  }
}

/** The request never reached a server: nothing listened on its port. Safe to send again once one does. */
export function neverReached(err: unknown): boolean {
  return err instanceof ServerGoneError && isWarrenError(err.cause) && err.cause.code === 'WARREN_ERR_CHANNEL_REFUSED';
}
