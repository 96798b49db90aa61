// One request from the pass-through to a workspace's opencode, over the tunnel: the
// client's headers minus its own hop and credentials, the server's password instead,
// and the failures that mean "the server is gone" told apart from the rest, so the
// next request starts it again rather than trying a dead port.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import type { WorkspaceRuntime } from '../broker/workspace.js';
import { isWarrenError, ServerGoneError, ServerHttpError } from '../errors.js';

/** Headers that belong to one hop, or carry the client's credentials: never passed on. */
export const HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'content-length']);

export function forwardHeaders(rt: WorkspaceRuntime, req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  headers.authorization = rt.server.authorization();
  return headers;
}

export function responseHeaders(upstream: Dispatcher.ResponseData): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(upstream.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

export interface UpstreamRequest {
  method: string;
  target: string;
  headers: Record<string, string | string[]>;
  signal: AbortSignal;
  body?: Readable | Buffer;
}

/** The request never reached a server: nothing listened on its port. Safe to send again once one does. */
export function neverReached(err: unknown): boolean {
  return err instanceof ServerGoneError && isWarrenError(err.cause) && err.cause.code === 'WARREN_ERR_CHANNEL_REFUSED';
}

export function openUpstream(rt: WorkspaceRuntime, o: UpstreamRequest): Promise<Dispatcher.ResponseData> {
  return request(`${rt.server.baseUrl}${o.target}`, {
    method: o.method as 'GET', headers: o.headers, signal: o.signal, dispatcher: rt.server.dispatcher,
    ...(o.body ? { body: o.body } : {}),
    headersTimeout: 60_000, bodyTimeout: 0,
  }).catch((err: unknown) => {
    if (isWarrenError(err) && err.code === 'WARREN_ERR_CHANNEL_REFUSED') {
      rt.server.markGone('nothing listens on its port');
      throw new ServerGoneError(rt.name, err);
    }
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_SOCKET') {
      rt.server.markGone('it closed the connection');
      throw new ServerGoneError(rt.name);
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') throw new ServerHttpError(rt.name, `${o.method} ${o.target}`, 504, 'no response headers within 60 s');
    throw err;
  });
}

/** Until the client takes more, or leaves (a 'drain' that never comes would hold the server's lease forever). */
export function drained(res: import('node:http').ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
