// Answers of the gateway: JSON bodies, and every error as
// {"error":{"code":"WARREN_ERR_…","message":"one line"}} with a fitting status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError, InternalError, TooLargeError, WarrenError, isWarrenError, type ErrorCode } from '../errors.js';
import { closeLingeringAfter } from './linger.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // An answer before the request body was read (401, 413, a bad route): close the
  // connection after it, or Node would read and discard whatever the client keeps
  // sending, up to the request timeout; but close it lingeringly, or the client may
  // never see the answer (linger.ts).
  if (!bodyRead(res.req)) closeLingeringAfter(res);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Whether nothing of the request is left to read. `complete` alone is not it: Node sets
 * it only once the request stream has ended, after the handler starts, so a bodyless GET
 * answered at once looked unfinished and got `connection: close`: a host agent polling
 * /v1/workspaces paid a new connection per request. A request with neither
 * Content-Length nor Transfer-Encoding has no body (RFC 9112, 6.3).
 */
function bodyRead(req: IncomingMessage): boolean {
  if (req.complete) return true;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

/**
 * The status each code is answered with. Keyed by every ErrorCode, so a new code does not
 * compile until it is given one here (left out, it used to become a 500 unnoticed).
 * 500 is for warren's own failures and for codes of the layers below that a request meets
 * only wrapped in one of the others (a link's connect errors are LINK_DOWN to a request), or
 * that belong to the command line and the daemon, not to a gateway answer.
 */
export const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  WARREN_ERR_USAGE: 500,
  WARREN_ERR_CONFIG: 500,
  WARREN_ERR_UNQUOTABLE: 400,
  WARREN_ERR_KEY_READ: 500,
  WARREN_ERR_HOST_KEY_MISMATCH: 500,
  WARREN_ERR_HOST_KEY_FORMAT: 500,
  WARREN_ERR_AUTH: 500,
  WARREN_ERR_CONNECT: 500,
  WARREN_ERR_LINK_DOWN: 503,
  WARREN_ERR_LINK_LOST: 503,
  WARREN_ERR_LINK_CLOSED: 500,
  WARREN_ERR_WAIT_UP_TIMEOUT: 503,
  WARREN_ERR_CHANNEL_REFUSED: 500,
  WARREN_ERR_CHANNEL_PROHIBITED: 500,
  WARREN_ERR_CHANNEL_TIMEOUT: 500,
  WARREN_ERR_CHANNEL_FAILED: 500,
  WARREN_ERR_EXEC_TIMEOUT: 500,
  WARREN_ERR_EXEC_FAILED: 500,
  // warren add --docker: the command line's only
  WARREN_ERR_DOCKER: 500,
  WARREN_ERR_DOCKER_CONTAINER: 500,
  WARREN_ERR_CONFIG_WRITE: 500,
  // the opencode layer
  WARREN_ERR_SERVER_START: 502,
  WARREN_ERR_PORT_BUSY: 502,
  WARREN_ERR_SERVER_GONE: 502,
  WARREN_ERR_SERVER_HTTP: 502,
  WARREN_ERR_SESSION_ID: 400,
  WARREN_ERR_SESSION_NOT_FOUND: 404,
  WARREN_ERR_IMPORT: 502,
  WARREN_ERR_DB_LOCKED: 503,
  // A run's failures after its stream began are `error` events, never a status.
  WARREN_ERR_CHAT_FAILED: 500,
  WARREN_ERR_CHAT_STALLED: 500,
  WARREN_ERR_CHAT_TIMEOUT: 504,
  WARREN_ERR_CHAT_ABORTED: 500,
  WARREN_ERR_SESSION_BUSY: 409,
  WARREN_ERR_ABORTED: 500,
  WARREN_ERR_MESSAGE_ID: 400,
  WARREN_ERR_MESSAGE_NOT_FOUND: 404,
  WARREN_ERR_RUN_FINISHED: 409,
  WARREN_ERR_ASK_TIMEOUT: 504,
  WARREN_ERR_REQUEST_NOT_FOUND: 404,
  // the broker, the gateway, the daemon
  WARREN_ERR_UNKNOWN_WORKSPACE: 404,
  WARREN_ERR_UNAUTHORIZED: 401,
  WARREN_ERR_FORBIDDEN_HOST: 403,
  WARREN_ERR_FORBIDDEN_ORIGIN: 403,
  WARREN_ERR_BAD_REQUEST: 400,
  WARREN_ERR_TOO_LARGE: 413,
  WARREN_ERR_NO_DAEMON: 500,
  WARREN_ERR_CONTROL: 500,
  WARREN_ERR_CONTROL_TIMEOUT: 500,
  WARREN_ERR_LISTEN: 500,
  WARREN_ERR_SHUTTING_DOWN: 503,
  WARREN_ERR_NO_ROUTE: 404,
  WARREN_ERR_ATTACH: 500,
  WARREN_ERR_NO_OPENCODE_CLIENT: 500,
  WARREN_ERR_CLIENT_VERSION: 500,
  WARREN_ERR_INTERNAL: 500,
};

/**
 * Seconds a client should wait before it tries a 503 again, sent as `Retry-After` on
 * every 503. A tunnel that is down is answered at once and reconnects within seconds,
 * so asking again soon costs nothing; a daemon that is draining is being restarted,
 * and a database held by another process is not let go in a second.
 */
export const RETRY_AFTER_S: Readonly<Partial<Record<ErrorCode, number>>> = {
  WARREN_ERR_LINK_DOWN: 1,
  WARREN_ERR_LINK_LOST: 1,
  WARREN_ERR_WAIT_UP_TIMEOUT: 1,
  WARREN_ERR_SHUTTING_DOWN: 5,
  WARREN_ERR_DB_LOCKED: 5,
};
/** For a 503 whose code is not in RETRY_AFTER_S. */
export const DEFAULT_RETRY_AFTER_S = 1;

export function statusFor(err: unknown): number {
  // `?? 500`: a code that came in from outside the type (cast from a reply) has no entry.
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
