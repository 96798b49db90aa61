// What of a pass-through request goes on to opencode and what of its answer comes
// back: hop-by-hop headers stay on their hop, and the client's credentials never
// leave the gateway (the runtime's forward() puts the server's own in).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

/** Headers that belong to one hop, or carry the client's credentials: never passed on. */
export const HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'content-length']);

/** The client's headers minus its hop and credentials: what the server may see (the runtime adds its password). */
export function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  return headers;
}

export function responseHeaders(upstream: Dispatcher.ResponseData): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(upstream.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  // The server's own length, when it framed the body by one: passed on, the body is not
  // re-framed as chunked, and a client sees a body cut short as cut.
  const length = upstream.headers['content-length'];
  if (typeof length === 'string' && /^\d+$/.test(length) && upstream.headers['transfer-encoding'] === undefined) out['content-length'] = length;
  return out;
}

/** Until the client takes more, or leaves (a 'drain' that never comes would hold the server's lease forever). */
export function drained(res: ServerResponse): Promise<void> {
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
