// ANY /v1/workspaces/:ws/opencode/* — straight through to the workspace's opencode
// server (started on demand), so the official SDK can use the gateway as its
// baseUrl and OpenCode's own clients can attach to it. The client's Authorization
// (the gateway token) is replaced by the server's own; hop-by-hop headers stay on
// their hop; bodies stream both ways, so opencode's event streams pass through as
// they are. Two things more than a plain proxy, so that any session resumes in
// OpenCode's own clients too: a session the server does not know is found and
// imported before the request reaches it (the TUI and `run -s` ask for it first),
// a synchronous prompt's response waits for the event streams (prompt-order.ts),
// and event streams are held across link drops and server restarts (held-stream.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { WorkspaceRuntime } from '../broker/workspace.js';
import { TooLargeError, type WarrenError } from '../errors.js';
import { RECONNECT_WAIT_MS } from '../opencode/across-drops.js';
import { isSessionId } from '../opencode/ids.js';
import { holdEventStream } from './held-stream.js';
import type { PromptOrder } from './prompt-order.js';
import { badRequest } from './respond.js';
import { maySendAgain, stampPrompt } from './replay.js';
import { drained, forwardHeaders, responseHeaders } from './upstream.js';

const MAX_BODY = 32 * 1024 * 1024;
/** Routes of one session, in opencode's API and its newer /api surface. */
export const SESSION_ROUTE = /^\/(?:api\/)?session\/([^/?]+)/;
/** The synchronous prompts: their response is the end of the answer for the client. */
const SYNC_PROMPT = /^\/session\/([^/?]+)\/(?:message|command)(?:\?|$)/;
/** Everything that makes the session produce events. */
const PROMPT = /^\/session\/[^/?]+\/(?:message|command|shell|prompt_async)(?:\?|$)/;
/** opencode's event streams, held across drops (held-stream.ts). */
export const EVENTS = /^\/(?:global\/)?event(?:\?|$)/;

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

/** Whether the raw path, decoded, has a "." or ".." segment (or does not decode). */
export function hasDotSegment(rawPath: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return true;
  }
  return decoded.split(/[/\\]/).some((seg) => seg === '.' || seg === '..');
}

function tooLarge(): WarrenError {
  return new TooLargeError(MAX_BODY);
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
  const method = req.method ?? 'GET';
  const sessionID = SESSION_ROUTE.exec(target)?.[1];
  // A prompt sent while an event stream is between upstreams would publish to nobody.
  if (method === 'POST' && PROMPT.test(target)) await order.streamsReady(rt.name, RECONNECT_WAIT_MS);
  await rt.ensureServer();
  if (sessionID && isSessionId(sessionID)) await rt.knowSession(sessionID);
  const release = rt.hold();
  const abort = new AbortController();
  // Only a client that left early aborts the upstream request: aborting after every
  // finished response cost a DOMException per request (~2% of the gateway's CPU at c=32).
  res.on('close', () => { if (!res.writableFinished) abort.abort(); });
  const prompt = method === 'POST' && sessionID && SYNC_PROMPT.test(target) ? order.begin(rt.name, sessionID, directoryOf(req, search)) : null;
  try {
    const hasBody = method !== 'GET' && method !== 'HEAD';
    // A request that found the server dead is sent again once it is back, when that is
    // safe: it has no body, or is a prompt (kept whole for it), a person's typed turn.
    const replayable = !hasBody || PROMPT.test(target);
    const stamped = hasBody && replayable ? stampPrompt(target, await collect(limited(req, MAX_BODY))) : null;
    // Headers each time: a server started again has a password of its own.
    const open = () => rt.forward({
      method, target, headers: forwardHeaders(req), signal: abort.signal,
      ...(stamped ? { body: stamped.body } : hasBody ? { body: Readable.from(limited(req, MAX_BODY)) } : {}),
    });
    const upstream = await open().catch(async (err: unknown) => {
      const again = replayable && await maySendAgain(rt, err, { sessionID: sessionID ?? null, messageID: stamped?.messageID ?? null, directory: directoryOf(req, search) });
      if (!again) throw err;
      return open();
    });
    const out = responseHeaders(upstream);
    if (prompt && upstream.statusCode === 200) {
      const body = await collect(upstream.body as AsyncIterable<Buffer>);
      const messageID = answerOf(body);
      if (messageID) await prompt.settle(messageID);
      res.writeHead(upstream.statusCode, { ...out, 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    res.writeHead(upstream.statusCode, out);
    if (method === 'GET' && EVENTS.test(target) && upstream.statusCode === 200 && String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      const tap = order.tap(rt.name, target.startsWith('/global/') ? { global: true } : { global: false, directory: directoryOf(req, search) });
      try {
        await holdEventStream({ rt, first: upstream, reopen: open, res, tap, signal: abort.signal });
      } finally {
        tap.close();
      }
      return;
    }
    for await (const chunk of upstream.body) {
      if (!res.write(chunk)) await drained(res);
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

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
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
