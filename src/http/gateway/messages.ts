// POST /v1/workspaces/:ws/sessions/:id/messages — the message as a server-sent
// event stream: `text` {"delta"}, `tool` {"name","status",...}, `error`
// {"code","message"}, and a final `done` {"sessionID","text"} with the complete
// reply. The session is found (and imported if the server does not know it)
// before the stream starts, so "not found" is a plain 404.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Broker } from '../../broker/broker.js';
import { isWarrenError, SessionBusyError } from '../../errors.js';
import { checkSessionId } from '../../opencode/locate.js';
import { badRequest, readJson, sendError } from './respond.js';

const MAX_BODY = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

export async function postMessage(broker: Broker, name: string, sessionID: string, req: IncomingMessage, res: ServerResponse, shutdown: AbortSignal): Promise<void> {
  checkSessionId(sessionID);
  const body = await readJson(req, MAX_BODY);
  if (typeof body.text !== 'string' || body.text.trim() === '') throw badRequest('"text" must be a non-empty string');
  const text = body.text;
  const rt = broker.workspace(name);
  // Before the stream starts, so a second message to a busy session is a plain 409.
  if (rt.isAnswering(sessionID)) throw new SessionBusyError(name, sessionID);
  const located = await rt.locate(sessionID);
  if (rt.isAnswering(sessionID)) throw new SessionBusyError(name, sessionID);

  const abort = new AbortController();
  const onGone = () => abort.abort();
  res.on('close', onGone);
  shutdown.addEventListener('abort', onGone, { once: true });
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
  res.flushHeaders();
  const send = (event: string, data: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  // A comment line now and then keeps proxies and idle timers from closing the stream.
  const ping = setInterval(() => { if (!res.writableEnded) res.write(': ping\n\n'); }, KEEPALIVE_MS);
  try {
    const result = await broker.sendMessage(name, sessionID, {
      text, signal: abort.signal,
      onDelta: (delta) => send('text', { delta }),
      onTool: (t) => send('tool', t),
    }, located.session);
    send('done', { sessionID: result.sessionID, messageID: result.messageID, text: result.text, ...(result.imported || located.imported ? { imported: true } : {}) });
  } catch (err) {
    const shuttingDown = shutdown.aborted;
    send('error', isWarrenError(err) && !shuttingDown
      ? { code: err.code, message: err.message }
      : { code: shuttingDown ? 'WARREN_ERR_SHUTTING_DOWN' : 'WARREN_ERR_CHAT_FAILED', message: shuttingDown ? 'warren is shutting down; send the message again later' : (err as Error).message });
  } finally {
    clearInterval(ping);
    res.off('close', onGone);
    shutdown.removeEventListener('abort', onGone);
    if (!res.writableEnded) res.end();
  }
}

export { sendError };
