// Plain HTTP calls to a workspace's opencode server over its link: JSON in and
// out, the server's password, a deadline on every call, and failures mapped to
// warren's errors (a refused channel means the server is gone).
import { request } from 'undici';
import { ChannelFailedError, isWarrenError, ServerGoneError, ServerHttpError } from '../errors.js';
import type { OpencodeServer } from './server.js';

export interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  body?: unknown;
  directory?: string;
  timeoutMs?: number;
  /** Statuses that are answers, not errors (404 when looking a session up). */
  accept?: number[];
}

export interface CallResult<T> { status: number; body: T }

export async function callServer<T>(server: OpencodeServer, workspace: string, path: string, o: CallOptions = {}): Promise<CallResult<T>> {
  const url = new URL(path, server.baseUrl);
  if (o.directory !== undefined) url.searchParams.set('directory', o.directory);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const release = server.acquire();
  try {
    const res = await request(url, {
      method: o.method ?? 'GET',
      dispatcher: server.dispatcher,
      headers: { authorization: server.authorization(), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    const ok = (res.statusCode >= 200 && res.statusCode < 300) || (o.accept ?? []).includes(res.statusCode);
    if (!ok) throw new ServerHttpError(workspace, `${o.method ?? 'GET'} ${url.pathname}`, res.statusCode, errorText(text));
    const json = /json/.test(String(res.headers['content-type'])) && text ? JSON.parse(text) as T : (text as unknown as T);
    return { status: res.statusCode, body: json };
  } catch (err) {
    if (isWarrenError(err) && err.code === 'WARREN_ERR_CHANNEL_REFUSED') {
      server.markGone('nothing listens on its port');
      throw new ServerGoneError(workspace);
    }
    // A pooled connection the server closed under the request: it died just now (if
    // it did not, the next request adopts it again). Not an internal error.
    if ((err as { code?: string }).code === 'UND_ERR_SOCKET') {
      server.markGone('it closed the connection');
      throw new ServerGoneError(workspace);
    }
    if (isWarrenError(err)) throw err;
    // undici's other errors (a timeout, say): callers get a code.
    throw new ChannelFailedError(workspace, `${o.method ?? 'GET'} ${url.pathname}`, (err as Error).message);
  } finally {
    release();
  }
}

/** opencode's error bodies: {name, data: {message}}; fall back to the text's start. */
export function errorText(text: string): string {
  try {
    const j = JSON.parse(text) as { data?: { message?: string }; message?: string; name?: string };
    return j.data?.message ?? j.message ?? j.name ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}
