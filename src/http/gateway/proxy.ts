// ANY /v1/workspaces/:ws/opencode/* — straight through to the workspace's opencode
// server (started on demand), so the official SDK can use the gateway as its
// baseUrl. The client's Authorization (the gateway token) is replaced by the
// server's own; hop-by-hop headers stay on their hop; bodies stream both ways, so
// opencode's event streams pass through as they are.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { WorkspaceRuntime } from '../../broker/workspace.js';
import { isWarrenError, ServerGoneError, ServerHttpError, WarrenError } from '../../errors.js';
import { badRequest } from './respond.js';

const HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'content-length']);
const MAX_BODY = 32 * 1024 * 1024;

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

export async function proxy(rt: WorkspaceRuntime, rest: string, search: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = proxiedPath(rest, search);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw tooLarge();
  await rt.server.ensureRunning();
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  headers.authorization = rt.server.authorization();
  const release = rt.server.acquire();
  const abort = new AbortController();
  // Only a client that left early aborts the upstream request: aborting after every
  // finished response cost a DOMException per request (~2% of the gateway's CPU at c=32).
  res.on('close', () => { if (!res.writableFinished) abort.abort(); });
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
    res.writeHead(upstream.statusCode, out);
    for await (const chunk of upstream.body) {
      if (!res.write(chunk)) await new Promise<void>((r) => res.once('drain', () => r()));
    }
    res.end();
  } finally {
    release();
  }
}
