// A tiny HTTP target that SSH tunnel tests and benchmarks reach through port
// forwards. One runs per workspace, inside its network namespace, and scale
// benchmarks start about a hundred of them, so it is plain node:http with no
// dependencies, no logging and nothing per request beyond what a route needs.
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { listenClosable } from './closable-server.js';
import { randomFillSync } from 'node:crypto';
import { pipeline } from 'node:stream';

export interface TargetServerOptions {
  host?: string;
  port?: number;
  /** Extra routes, tried before the built-in ones; returns true when it answered. */
  route?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface TargetServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const MAX_BYTES = 1024 ** 3;
// setTimeout turns longer delays into 1 ms, so nothing may ask for more.
const MAX_PARAM = 2 ** 31 - 1;
// Random rather than zeros so that SSH compression, if enabled, cannot flatter
// throughput numbers. Every /bytes response writes this one buffer over and over.
const CHUNK = randomFillSync(Buffer.allocUnsafe(64 * 1024));
const SMALL_HEADERS = { 'content-type': 'text/plain', 'content-length': '2' };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const SSE_END = 'event: end\ndata: {}\n\n';

// Plain digits only: Number() would also take '', ' 1', '1e3' and '0x10'.
function intParam(value: string | null, fallback: number | undefined, max: number): number | undefined {
  if (value === null) return fallback;
  if (!/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= max ? n : undefined;
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function small(res: ServerResponse): void {
  res.writeHead(200, SMALL_HEADERS);
  res.end('ok');
}

function sendBytes(query: URLSearchParams, res: ServerResponse): void {
  const n = intParam(query.get('n'), undefined, MAX_BYTES);
  if (n === undefined) return sendText(res, 400, `n must be an integer from 0 to ${MAX_BYTES}`);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  let left = n;
  const pump = (): void => {
    // res.destroyed turns true when the client goes away; a write into a dead
    // socket returns false and 'drain' never comes, so either way writing stops.
    while (left > 0 && !res.destroyed) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk) && left > 0) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

// Events as fast as the client takes them, one write per event as opencode's
// event stream does, for events-per-second benchmarks (/sse paces with timers,
// which cap it near a thousand a second).
function sendBurst(query: URLSearchParams, res: ServerResponse): void {
  const count = intParam(query.get('count'), 10, MAX_PARAM);
  if (count === undefined) return sendText(res, 400, `count must be an integer from 0 to ${MAX_PARAM}`);
  res.writeHead(200, SSE_HEADERS);
  let seq = 0;
  const pump = (): void => {
    while (seq < count && !res.destroyed) {
      seq += 1;
      if (!res.write(`data: {"seq":${seq}}\n\n`) && seq < count) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end(SSE_END);
  };
  pump();
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  const headers: OutgoingHttpHeaders = {};
  const type = req.headers['content-type'];
  if (type !== undefined) headers['content-type'] = type;
  const length = req.headers['content-length'];
  if (length !== undefined) headers['content-length'] = length;
  res.writeHead(200, headers);
  // An error only means one side went away, and pipeline has destroyed both.
  pipeline(req, res, () => {});
}

function sink(req: IncomingMessage, res: ServerResponse): void {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.once('error', () => res.destroy());
  req.once('end', () => sendJson(res, 200, { bytes }));
}

function sendStatus(raw: string, res: ServerResponse): void {
  if (!/^[2-5]\d\d$/.test(raw)) return sendText(res, 400, 'status code must be from 200 to 599');
  const code = Number(raw);
  // These statuses must not carry a body; clients would misread the next response.
  if (code === 204 || code === 304) return void res.writeHead(code).end();
  if (code === 205) return void res.writeHead(code, { 'content-length': 0 }).end();
  sendText(res, code, `status ${code}`);
}

export async function startTargetServer(opts: TargetServerOptions = {}): Promise<TargetServer> {
  const host = opts.host ?? '127.0.0.1';
  const timers = new Set<NodeJS.Timeout>();

  // One timer chain per stream, each event due at a time measured from the
  // start, so late timers do not add up the way chained fixed delays would.
  // Event i is due at i * intervalMs; the gap, once, replaces the next due time
  // with (time of the gap event) + intervalMs + gapMs, so the silence after
  // that event lasts at least intervalMs + gapMs.
  function sendEvents(query: URLSearchParams, res: ServerResponse): void {
    const count = intParam(query.get('count'), 10, MAX_PARAM);
    const intervalMs = intParam(query.get('intervalMs'), 10, MAX_PARAM);
    const gapAtMs = intParam(query.get('gapAtMs'), 0, MAX_PARAM);
    const gapMs = intParam(query.get('gapMs'), 0, MAX_PARAM);
    if (count === undefined || intervalMs === undefined || gapAtMs === undefined || gapMs === undefined) {
      return sendText(res, 400, `count, intervalMs, gapAtMs and gapMs must be integers from 0 to ${MAX_PARAM}`);
    }
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();

    const start = performance.now();
    const elapsed = () => performance.now() - start;
    let pending: NodeJS.Timeout | undefined;
    const clear = () => {
      if (pending === undefined) return;
      clearTimeout(pending);
      timers.delete(pending);
      pending = undefined;
    };
    res.once('close', clear);

    // Runs fn once elapsed() reaches due. Timers can fire a fraction of a millisecond
    // early (and long waits are capped), so an early wake-up waits again.
    const at = (due: number, fn: () => void): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        pending = undefined;
        if (res.destroyed) return;
        if (elapsed() < due) at(due, fn);
        else fn();
      }, Math.min(MAX_PARAM, Math.max(0, Math.ceil(due - elapsed()))));
      pending = timer;
      timers.add(timer);
    };

    let seq = 0;
    let due = intervalMs;
    let gapTaken = gapMs === 0;
    const finish = () => res.end(SSE_END);
    // Events are a few dozen bytes; a client that stops reading gets them buffered.
    const send = (): void => {
      seq += 1;
      const t = Math.floor(elapsed());
      res.write(`data: {"seq":${seq},"t":${t}}\n\n`);
      const gap = !gapTaken && t >= gapAtMs;
      if (gap) gapTaken = true;
      if (seq >= count) {
        // A gap after the last event delays the end marker.
        if (gap) at(t + gapMs, finish);
        else finish();
        return;
      }
      due = gap ? t + intervalMs + gapMs : due + intervalMs;
      at(due, send);
    };
    if (count === 0) finish();
    else at(due, send);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (opts.route?.(req, res)) return;
    const url = req.url ?? '/';
    const method = req.method;
    // The latency benchmarks' hot path: an exact match before any parsing.
    if (url === '/small' && method === 'GET') return small(res);

    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const search = q < 0 ? '' : url.slice(q + 1);
    if (method === 'GET') {
      if (path === '/small') return small(res);
      if (path === '/bytes') return sendBytes(new URLSearchParams(search), res);
      if (path === '/sse') return sendEvents(new URLSearchParams(search), res);
      if (path === '/sse-burst') return sendBurst(new URLSearchParams(search), res);
      if (path === '/hang') return; // the socket stays open until the client leaves or close() destroys it
      if (path === '/headers') return sendJson(res, 200, req.headers);
      if (path.startsWith('/status/')) return sendStatus(path.slice('/status/'.length), res);
    } else if (method === 'POST') {
      if (path === '/echo') return echo(req, res);
      if (path === '/sink') return sink(req, res);
    }
    // Drain any body so the connection can carry the next request.
    req.resume();
    sendText(res, 404, 'not found');
  }

  // requestTimeout 0: uploads to /echo and /sink may take as long as a slow
  // tunnel needs; the tests and benchmarks own every lifetime.
  const server = createServer({ requestTimeout: 0 }, handle);
  const l = await listenClosable(server, { host, port: opts.port ?? 0, timers });
  return { port: l.port, url: `http://${l.urlHost}:${l.port}`, close: l.close };
}
