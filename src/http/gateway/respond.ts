// Answers of the gateway: JSON bodies, and every error as
// {"error":{"code":"WARREN_ERR_…","message":"one line"}} with a fitting status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError, InternalError, TooLargeError, WarrenError, isWarrenError } from '../../errors.js';
import { closeLingeringAfter } from './linger.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // An answer before the request body was read (401, 413, a bad route): close the
  // connection after it, or Node would read and discard whatever the client keeps
  // sending, up to the request timeout; but close it lingeringly, or the client may
  // never see the answer (linger.ts).
  if (!res.req.complete) closeLingeringAfter(res);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export const STATUS_OF: Readonly<Record<string, number>> = {
  WARREN_ERR_UNAUTHORIZED: 401,
  WARREN_ERR_FORBIDDEN_HOST: 403,
  WARREN_ERR_FORBIDDEN_ORIGIN: 403,
  WARREN_ERR_UNKNOWN_WORKSPACE: 404,
  WARREN_ERR_SESSION_NOT_FOUND: 404,
  WARREN_ERR_BAD_REQUEST: 400,
  WARREN_ERR_NO_ROUTE: 404,
  WARREN_ERR_SESSION_ID: 400,
  WARREN_ERR_UNQUOTABLE: 400,
  WARREN_ERR_TOO_LARGE: 413,
  WARREN_ERR_LINK_DOWN: 503,
  WARREN_ERR_LINK_LOST: 503,
  WARREN_ERR_WAIT_UP_TIMEOUT: 503,
  WARREN_ERR_SHUTTING_DOWN: 503,
  WARREN_ERR_PORT_BUSY: 502,
  WARREN_ERR_SERVER_START: 502,
  WARREN_ERR_SERVER_GONE: 502,
  WARREN_ERR_SERVER_HTTP: 502,
  WARREN_ERR_IMPORT: 502,
  WARREN_ERR_DB_LOCKED: 503,
  WARREN_ERR_CHAT_TIMEOUT: 504,
  WARREN_ERR_SESSION_BUSY: 409,
  WARREN_ERR_RUN_FINISHED: 409,
  WARREN_ERR_MESSAGE_ID: 400,
  WARREN_ERR_MESSAGE_NOT_FOUND: 404,
  WARREN_ERR_REQUEST_NOT_FOUND: 404,
  WARREN_ERR_ASK_TIMEOUT: 504,
};

/**
 * Seconds a client should wait before it tries a 503 again, sent as `Retry-After` on
 * every 503. A tunnel that is down is answered at once and reconnects within seconds,
 * so asking again soon costs nothing; a daemon that is draining is being restarted,
 * and a database held by another process is not let go in a second.
 */
export const RETRY_AFTER_S: Readonly<Record<string, number>> = {
  WARREN_ERR_LINK_DOWN: 1,
  WARREN_ERR_LINK_LOST: 1,
  WARREN_ERR_WAIT_UP_TIMEOUT: 1,
  WARREN_ERR_SHUTTING_DOWN: 5,
  WARREN_ERR_DB_LOCKED: 5,
};
/** For a 503 whose code is not in RETRY_AFTER_S. */
export const DEFAULT_RETRY_AFTER_S = 1;

export function statusFor(err: unknown): number {
  return isWarrenError(err) ? STATUS_OF[err.code] ?? 500 : 500;
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = isWarrenError(err) ? err : new InternalError();
  const status = isWarrenError(err) ? statusFor(err) : 500;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status === 503) res.setHeader('retry-after', String(RETRY_AFTER_S[e.code] ?? DEFAULT_RETRY_AFTER_S));
  sendJson(res, status, { error: { code: e.code, message: e.message } });
}

export function badRequest(message: string): WarrenError {
  return new BadRequestError(message);
}

/** Reads a JSON object body of at most `limit` bytes. */
export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new TooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new TooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  return body as Record<string, unknown>;
}
