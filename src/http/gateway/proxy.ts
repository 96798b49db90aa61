// ANY /v1/workspaces/:ws/opencode/* — straight through to the workspace's opencode
// server (started on demand), so the official SDK can use the gateway as its
// baseUrl and OpenCode's own clients can attach to it. The client's Authorization
// (the gateway token) is replaced by the server's own; hop-by-hop headers stay on
// their hop; bodies stream both ways, so opencode's event streams pass through as
// they are. Two things more than a plain proxy, so that any session resumes in
// OpenCode's own clients too: a session the server does not know is found and
// imported before the request reaches it (the TUI and `run -s` ask for it first),
// and a synchronous prompt's response waits for the event streams (prompt-order.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { WorkspaceRuntime } from '../../broker/workspace.js';
import { isWarrenError, ServerGoneError, ServerHttpError, WarrenError } from '../../errors.js';
import { isSessionId } from '../../opencode/ids.js';
import type { PromptOrder } from './prompt-order.js';
import { badRequest } from './respond.js';

const HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'content-length']);
const MAX_BODY = 32 * 1024 * 1024;
/** Routes of one session, in opencode's API and its newer /api surface. */
const SESSION_ROUTE = /^\/(?:api\/)?session\/([^/?]+)/;
/** The synchronous prompts: their response is the end of the answer for the client. */
const SYNC_PROMPT = /^\/session\/([^/?]+)\/(?:message|command)(?:\?|$)/;

/** The path inside opencode, refusing anything that tries to climb out of it. */
export function proxiedPath(rest: string, search: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    throw badRequest('the path is not valid percent-encoding');
  }
  if (decoded.split('/').some((seg) => seg === '..' || seg === '.') || decoded.includes('\\') || decoded.includes('\0')) {
    throw badRequest('the path may not contain "." or ".." segments');
  }
  return `/${rest.replace(/^\/+/, '')}${search}`;
}

function tooLarge(): WarrenError {
  return new WarrenError('WARREN_ERR_TOO_LARGE', `request body is larger than ${MAX_BODY} bytes`);
}

/** The body as it streams, cut off past the limit (a chunked upload declares no length). */
async function* limited(body: AsyncIterable<Buffer>, max: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > max) throw tooLarge();
    yield chunk;
  }
}

export async function proxy(rt: WorkspaceRuntime, rest: string, search: string, req: IncomingMessage, res: ServerResponse, order: PromptOrder): Promise<void> {
  const target = proxiedPath(rest, search);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw tooLarge();
  await rt.server.ensureRunning();
  const sessionID = SESSION_ROUTE.exec(target)?.[1];
  if (sessionID && isSessionId(sessionID)) await rt.knowSession(sessionID);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  headers.authorization = rt.server.authorization();
  const release = rt.server.acquire();
  const abort = new AbortController();
  // Only a client that left early aborts the upstream request: aborting after every
  // finished response cost a DOMException per request (~2% of the gateway's CPU at c=32).
  res.on('close', () => { if (!res.writableFinished) abort.abort(); });
  const prompt = req.method === 'POST' && sessionID && SYNC_PROMPT.test(target) ? order.begin(rt.name, sessionID, directoryOf(req, search)) : null;
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const upstream = await request(`${rt.server.baseUrl}${target}`, {
      method: (req.method ?? 'GET') as 'GET', headers, signal: abort.signal, dispatcher: rt.server.dispatcher,
      ...(hasBody ? { body: Readable.from(limited(req, MAX_BODY)) } : {}),
      headersTimeout: 60_000, bodyTimeout: 0,
    }).catch((err: unknown) => {
      if (isWarrenError(err) && err.code === 'WARREN_ERR_CHANNEL_REFUSED') {
        rt.server.markGone('nothing listens on its port');
        throw new ServerGoneError(rt.name);
      }
      const code = (err as { code?: string }).code;
      if (code === 'UND_ERR_SOCKET') {
        rt.server.markGone('it closed the connection');
        throw new ServerGoneError(rt.name);
      }
      if (code === 'UND_ERR_HEADERS_TIMEOUT') throw new ServerHttpError(rt.name, `${req.method} ${target}`, 504, 'no response headers within 60 s');
      throw err;
    });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstream.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
    if (prompt && upstream.statusCode === 200) {
      const parts: Buffer[] = [];
      for await (const chunk of upstream.body) parts.push(chunk as Buffer);
      const body = Buffer.concat(parts);
      const messageID = answerOf(body);
      if (messageID) await prompt.settle(messageID);
      res.writeHead(upstream.statusCode, { ...out, 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    res.writeHead(upstream.statusCode, out);
    const tap = String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream')
      ? order.tap(rt.name, target.startsWith('/global/') ? { global: true } : { global: false, directory: directoryOf(req, search) })
      : null;
    try {
      for await (const chunk of upstream.body) {
        const flowing = res.write(chunk);
        tap?.feed(chunk);
        if (!flowing) await drained(res);
      }
    } finally {
      tap?.close();
    }
    res.end();
  } catch (err) {
    // A client that went away ended its own request: nothing failed that anyone waits on.
    if (abort.signal.aborted) return;
    throw err;
  } finally {
    prompt?.end();
    release();
  }
}

/** The directory a request is for, as opencode reads it: its header, else its query; null for the server's own. */
function directoryOf(req: IncomingMessage, search: string): string | null {
  const header = req.headers['x-opencode-directory'];
  if (typeof header === 'string' && header !== '') {
    try {
      return decodeURIComponent(header);
    } catch {
      return header;
    }
  }
  return new URLSearchParams(search).get('directory');
}

/** Until the client takes more, or leaves (a 'drain' that never comes would hold the server's lease forever). */
function drained(res: ServerResponse): Promise<void> {
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

/** The id of the assistant message a synchronous prompt answered with. */
function answerOf(body: Buffer): string | null {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { info?: { id?: unknown } }).info?.id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}
