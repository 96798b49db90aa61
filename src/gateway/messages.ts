// The message routes. A run belongs to warren (broker/runs.ts), not to the request:
//   POST .../sessions/:id/messages                  {text} -> the run's events as SSE
//   GET  .../sessions/:id/messages/:messageID/events replay after Last-Event-ID / ?after=N, then live
//   POST .../sessions/:id/messages/:messageID/abort  202; the run ends with WARREN_ERR_ABORTED
// Every event has `id:` (its number in the run) so a caller that went away comes back
// where it left off; going away only stops the caller's stream, never the run.
// Events: `accepted` {"sessionID","messageID"} first; `text` {"delta"}, `tool`,
// `permission`, `question`; last `done` {"sessionID","messageID","text"} or `error`
// {"code","message"}. What a caller must fix (unknown session, a busy one) is a plain
// HTTP error before any stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Broker } from '../broker/broker.js';
import { isIdempotencyKey } from '../broker/idempotency.js';
import type { Run, RunKey } from '../broker/runs.js';
import { InvalidMessageIdError } from '../errors.js';
import { PERMISSION_REPLIES, type PermissionReply } from '../opencode/ask.js';
import { isMessageId } from '../opencode/ids.js';
import { checkSessionId } from '../opencode/locate.js';
import { badRequest, readJson, sendError, sendJson } from './respond.js';

const MAX_BODY = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

export async function postMessage(broker: Broker, name: string, sessionID: string, req: IncomingMessage, res: ServerResponse, shutdown: AbortSignal): Promise<void> {
  checkSessionId(sessionID);
  const keyHeader = req.headers['idempotency-key'];
  const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
  if (key !== undefined && !isIdempotencyKey(key)) throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters');
  const body = await readJson(req, MAX_BODY);
  if (typeof body.text !== 'string' || body.text.trim() === '') throw badRequest('"text" must be a non-empty string');
  const run = await broker.messages.start(name, sessionID, { text: body.text, ...(key !== undefined ? { idempotencyKey: key } : {}) });
  streamRun(res, run, 0, shutdown, { location: eventsPath(run.key) });
}

export async function getEvents(broker: Broker, key: RunKey, req: IncomingMessage, res: ServerResponse, shutdown: AbortSignal): Promise<void> {
  checkKey(key);
  const after = afterOf(req);
  const run = await broker.messages.find(key);
  streamRun(res, run, after, shutdown);
}

export async function postAbort(broker: Broker, key: RunKey, res: ServerResponse): Promise<void> {
  checkKey(key);
  await broker.messages.abort(key);
  sendJson(res, 202, { aborted: true, messageID: key.messageID });
}

/** POST .../sessions/:id/permissions/:requestID {"reply":"once"|"always"|"reject"}: answers a `permission` event. */
export async function postPermission(broker: Broker, name: string, sessionID: string, requestID: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  checkSessionId(sessionID);
  const body = await readJson(req, 64 * 1024);
  for (const k of Object.keys(body)) if (k !== 'reply') throw badRequest(`unknown field ${JSON.stringify(k)}; send {"reply":"once"|"always"|"reject"}`);
  if (typeof body.reply !== 'string' || !(PERMISSION_REPLIES as readonly string[]).includes(body.reply)) throw badRequest('"reply" must be "once", "always" or "reject"');
  await broker.answerPermission(name, sessionID, requestID, body.reply as PermissionReply);
  sendJson(res, 200, { answered: true });
}

/** POST .../sessions/:id/questions/:requestID {"answers":[["label",...],...]} or {"reject":true}: answers a `question` event. */
export async function postQuestion(broker: Broker, name: string, sessionID: string, requestID: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  checkSessionId(sessionID);
  const body = await readJson(req, 64 * 1024);
  for (const k of Object.keys(body)) if (k !== 'answers' && k !== 'reject') throw badRequest(`unknown field ${JSON.stringify(k)}; send {"answers":[["label"]]} or {"reject":true}`);
  if (body.reject === true && body.answers === undefined) {
    await broker.answerQuestion(name, sessionID, requestID, 'reject');
  } else {
    const answers = body.answers;
    if (!Array.isArray(answers) || !answers.every((a) => Array.isArray(a) && a.every((l) => typeof l === 'string'))) {
      throw badRequest('"answers" must be a list of lists of labels, one list per question (or send {"reject":true})');
    }
    await broker.answerQuestion(name, sessionID, requestID, answers as string[][]);
  }
  sendJson(res, 200, { answered: true });
}

function checkKey(key: RunKey): void {
  checkSessionId(key.sessionID);
  if (!isMessageId(key.messageID)) throw new InvalidMessageIdError(key.messageID);
}

/** Where to come back: Last-Event-ID (what EventSource sends on reconnect), else ?after=N. */
function afterOf(req: IncomingMessage): number {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const raw = req.headers['last-event-id'] ?? url.searchParams.get('after') ?? '0';
  const value = Array.isArray(raw) ? raw[0]! : raw;
  if (!/^\d{1,9}$/.test(value.trim())) throw badRequest('Last-Event-ID and after must be an event number (0 or more)');
  return Number(value.trim());
}

function eventsPath(k: RunKey): string {
  return `/v1/workspaces/${encodeURIComponent(k.workspace)}/sessions/${k.sessionID}/messages/${k.messageID}/events`;
}

/** Writes the run's events after `after`, live until its last; the caller leaving stops only this. */
function streamRun(res: ServerResponse, run: Run, after: number, shutdown: AbortSignal, o: { location?: string } = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive',
    ...(o.location ? { location: o.location } : {}),
  });
  res.flushHeaders();
  // A comment line now and then keeps proxies and idle timers from closing the stream.
  const ping = setInterval(() => { if (!res.writableEnded) res.write(': ping\n\n'); }, KEEPALIVE_MS);
  let stop = () => {};
  const end = () => {
    clearInterval(ping);
    stop();
    res.off('close', end);
    shutdown.removeEventListener('abort', onShutdown);
    if (!res.writableEnded) res.end();
  };
  const onShutdown = () => {
    if (!res.writableEnded) res.write(`event: error\ndata: ${JSON.stringify({ code: 'WARREN_ERR_SHUTTING_DOWN', message: 'warren is shutting down; follow the run again later' })}\n\n`);
    end();
  };
  res.on('close', end);
  shutdown.addEventListener('abort', onShutdown, { once: true });
  stop = run.follow(after, (e) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    if (e.event === 'done' || e.event === 'error') queueMicrotask(end);
  });
  if (shutdown.aborted) onShutdown();
}

export { sendError };
