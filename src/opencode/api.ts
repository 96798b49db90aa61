// Plain HTTP calls to a workspace's opencode server over its link: JSON in and
// out, the server's password, a deadline on every call, and failures mapped to
// warren's errors (a refused channel means the server is gone).
import { request } from 'undici';
import { ChannelFailedError, ConnectionClosedError, isWarrenError, LinkLostError, ServerGoneError, ServerHttpError, type WarrenError } from '../errors.js';
import type { OpencodeServer } from './server.js';

export interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  body?: unknown;
  directory?: string;
  timeoutMs?: number;
  /** Statuses that are answers, not errors (404 when looking a session up). */
  accept?: number[];
  /** Not a use of the server: its idle timer goes on (a background read of what it holds). */
  quiet?: boolean;
}

export interface CallResult<T> { status: number; body: T; headers: Record<string, string | string[] | undefined> }

export async function callServer<T>(server: OpencodeServer, workspace: string, path: string, o: CallOptions = {}): Promise<CallResult<T>> {
  const url = new URL(path, server.baseUrl);
  if (o.directory !== undefined) url.searchParams.set('directory', o.directory);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const release = server.acquire({ quiet: o.quiet ?? false });
  const connection = server.link.connection;
  const instance = server.instance;
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
    return { status: res.statusCode, body: json, headers: res.headers };
  } catch (err) {
    if (isWarrenError(err) && err.code === 'WARREN_ERR_SERVER_HTTP') throw err;
    throw await brokenCall(server, { connection, instance }, err, `${o.method ?? 'GET'} ${url.pathname}`);
  } finally {
    release();
  }
}

/** Where a call began: which link connection, which server. */
export interface CallOrigin { connection: number; instance: number }

/** The origin of a call beginning now. */
export function originOf(server: OpencodeServer): CallOrigin {
  return { connection: server.link.connection, instance: server.instance };
}

/**
 * What broke a call that began at `origin`: the one place that tells a dropped
 * link from a dead server.
 * - The link dropped (it is not up, or it is a new connection now): LINK_LOST,
 *   which every step of a message waits out and retries.
 * - Nothing listens on the port any more: SERVER_GONE, and the server is marked
 *   stopped so the next request starts it again.
 * - The server closed a connection but still listens: a plain CHANNEL_FAILED.
 */
export async function brokenCall(server: OpencodeServer, origin: CallOrigin, err: unknown, what: string): Promise<WarrenError> {
  const link = server.link;
  if (isWarrenError(err) && (err.code === 'WARREN_ERR_LINK_CLOSED' || err.code === 'WARREN_ERR_WAIT_UP_TIMEOUT')) return err;
  if (link.state !== 'up' || link.connection !== origin.connection) {
    return isWarrenError(err) && err.code === 'WARREN_ERR_LINK_LOST' ? err : new LinkLostError(server.workspace, `${what}: ${(err as Error).message}`);
  }
  if (isWarrenError(err) && (err.code === 'WARREN_ERR_CHANNEL_REFUSED' || err.code === 'WARREN_ERR_SERVER_GONE')) {
    server.markGone('nothing listens on its port');
    // The refusal stays as the cause: it proves the request never reached a server (forward.ts).
    return new ServerGoneError(server.workspace, err);
  }
  if (isWarrenError(err)) return err;
  // The server the call began on was replaced meanwhile (it died, and another call
  // started a new one): that one is gone, whatever listens on the port now.
  if (server.instance !== origin.instance || server.state !== 'running') return new ServerGoneError(server.workspace);
  // A connection the server closed under the request (UND_ERR_SOCKET, "other side
  // closed"): it died just now, or it only dropped this connection. Ask the port.
  if ((err as { code?: string }).code === 'UND_ERR_SOCKET' || (err as Error).message === 'the event stream ended') {
    const there = await server.stillThere().catch((e: unknown) => e);
    if (there === false) return new ServerGoneError(server.workspace);
    if (there !== true) return brokenCall(server, origin, there, what);
    return new ConnectionClosedError(server.workspace, what, (err as Error).message);
  }
  // undici's other errors (a timeout, say): callers get a code.
  return new ChannelFailedError(server.workspace, what, (err as Error).message);
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
