import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, Server, ServerResponse, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startTargetServer, type TargetServer, type TargetServerOptions } from '../container/testbed/target-server.js';
import { waitFor } from '../container/testbed/wait.js';

interface HasTeardown {
  teardown(fn: () => unknown): void;
}

const MAIN_JS = fileURLToPath(new URL('../container/testbed/target-main.js', import.meta.url));
const GIB = 1024 ** 3;

function withDeadline<T>(what: string, promise: Promise<T>, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function start(t: HasTeardown, opts: TargetServerOptions = {}): Promise<TargetServer> {
  const target = await startTargetServer(opts);
  t.teardown(() => target.close());
  return target;
}

function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = { TCPServerWrap: 0, TCPSocketWrap: 0, Timeout: 0 };
  for (const name of process.getActiveResourcesInfo()) if (name in counts) counts[name]! += 1;
  return counts;
}

// Records every request the in-process servers receive, and whether the
// handler has returned, so a test can tell "handled, and did not answer"
// without waiting for a fixed time.
interface Seen {
  url: string;
  res: ServerResponse;
  handled: boolean;
}

function seeRequests(t: HasTeardown): Seen[] {
  const seen: Seen[] = [];
  const original = Server.prototype.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'request') return original.call(this, event, ...args);
    const entry: Seen = { url: (args[0] as IncomingMessage).url ?? '', res: args[1] as ServerResponse, handled: false };
    seen.push(entry);
    const result = original.call(this, event, ...args);
    entry.handled = true;
    return result;
  } as typeof Server.prototype.emit;
  t.teardown(() => {
    delete (Server.prototype as { emit?: unknown }).emit;
  });
  return seen;
}

// Counts what responses write, and how often they write when they should be
// waiting for 'drain' or after the client has gone.
interface WriteStats {
  writes: number;
  bytes: number;
  refused: number;
  whileNeedDrain: number;
  afterDestroy: number;
}

function spyWrites(t: HasTeardown): WriteStats {
  const stats: WriteStats = { writes: 0, bytes: 0, refused: 0, whileNeedDrain: 0, afterDestroy: 0 };
  const original = ServerResponse.prototype.write;
  ServerResponse.prototype.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    stats.writes += 1;
    if (this.destroyed) stats.afterDestroy += 1;
    else if (this.writableNeedDrain) stats.whileNeedDrain += 1;
    if (Buffer.isBuffer(chunk)) stats.bytes += chunk.length;
    const ok = (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    if (!ok) stats.refused += 1;
    return ok;
  } as typeof original;
  t.teardown(() => {
    delete (ServerResponse.prototype as { write?: unknown }).write;
  });
  return stats;
}

interface Frame {
  event?: string;
  data: string;
}

function parseFrame(raw: string): Frame {
  const frame: Frame = { data: '' };
  for (const line of raw.split('\n')) {
    if (line.startsWith('event: ')) frame.event = line.slice('event: '.length);
    else if (line.startsWith('data: ')) frame.data = line.slice('data: '.length);
    else throw new Error(`bad SSE line: ${JSON.stringify(line)}`);
  }
  return frame;
}

// Splits a complete SSE body into frames, checking the framing.
function sseFrames(text: string): Frame[] {
  if (!text.endsWith('\n\n')) throw new Error(`SSE body does not end with a blank line: ${JSON.stringify(text)}`);
  return text.slice(0, -2).split('\n\n').map(parseFrame);
}

interface Event {
  seq: number;
  t: number;
}

// Checks the stream is data events followed by exactly one end marker.
function sseEvents(text: string): Event[] {
  const frames = sseFrames(text);
  const last = frames.pop();
  if (last?.event !== 'end' || last.data !== '{}') throw new Error(`stream did not end with the end event: ${JSON.stringify(last)}`);
  return frames.map((f) => {
    if (f.event !== undefined) throw new Error(`unexpected event ${f.event}`);
    return JSON.parse(f.data) as Event;
  });
}

// Reads SSE frames one at a time from a live response.
function frameReader(res: Response): { next: () => Promise<Frame | undefined>; cancel: () => Promise<void> } {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const next = async () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return parseFrame(frame);
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  return { next, cancel: () => reader.cancel() };
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<number> {
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return total;
    total += value.length;
  }
}

// Counts a body without holding it, for the bigger downloads.
async function bodyLength(res: Response): Promise<number> {
  return readAll(res.body!.getReader());
}

function streamOf(buf: Buffer, chunkSize: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= buf.length) return controller.close();
      controller.enqueue(buf.subarray(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  reused: boolean;
}

// node:http rather than fetch, because it says whether the socket was reused.
function httpRequest(agent: Agent, port: number, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, method, path }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), reused: req.reusedSocket }),
      );
    });
    req.once('error', reject);
    req.end(body);
  });
}

t.test('listens on 127.0.0.1 and a random port by default', async (t) => {
  const target = await start(t);
  t.ok(target.port > 0);
  t.equal(target.url, `http://127.0.0.1:${target.port}`);
  const other = await start(t, { port: 0 });
  t.not(other.port, target.port, 'port 0 picks a free port each time');
});

t.test('GET /small answers 2 bytes of text', async (t) => {
  const target = await start(t);
  for (const path of ['/small', '/small?ignored=1']) {
    const res = await fetch(`${target.url}${path}`);
    t.equal(res.status, 200, path);
    t.equal(res.headers.get('content-type'), 'text/plain');
    t.equal(res.headers.get('content-length'), '2');
    t.equal(await res.text(), 'ok');
  }
});

t.test('GET /bytes sends exactly n bytes', async (t) => {
  const target = await start(t);
  for (const n of [0, 1, 65535, 65536, 65537, 5 * 65536 + 123, 8 * 1024 * 1024]) {
    const res = await fetch(`${target.url}/bytes?n=${n}`);
    t.equal(res.status, 200, `n=${n}`);
    t.equal(res.headers.get('content-type'), 'application/octet-stream');
    t.equal(res.headers.get('content-length'), String(n));
    t.equal(await bodyLength(res), n, `received ${n} bytes`);
  }
});

t.test('GET /bytes rejects a missing, malformed or too large n', async (t) => {
  const target = await start(t);
  for (const query of ['', '?n=', '?n=abc', '?n=-1', '?n=1.5', '?n=1e3', '?n=0x10', '?n=%201', `?n=${GIB + 1}`, '?n=99999999999']) {
    const res = await fetch(`${target.url}/bytes${query}`);
    t.equal(res.status, 400, `/bytes${query}`);
    t.match(await res.text(), /^n must be an integer from 0 to 1073741824$/);
  }
});

t.test('GET /bytes takes 1 GiB and stops writing when the client goes away', async (t) => {
  const target = await start(t);
  const seen = seeRequests(t);
  const stats = spyWrites(t);
  const res = await fetch(`${target.url}/bytes?n=${GIB}`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-length'), String(GIB));
  const reader = res.body!.getReader();
  t.ok((await reader.read()).value!.length > 0, 'data flows');
  await reader.cancel();

  const served = seen[0]!;
  await waitFor('server to see the client leave', () => served.res.destroyed);
  t.equal(stats.afterDestroy, 0, 'no writes after the client left');
  t.ok(stats.bytes < GIB, `stopped after ${stats.bytes} bytes`);

  const small = await fetch(`${target.url}/small`);
  t.equal(await small.text(), 'ok', 'server still serves');
});

t.test('GET /bytes waits for drain when the client reads slowly', async (t) => {
  const target = await start(t);
  const stats = spyWrites(t);
  const n = 64 * 1024 * 1024;
  const socket = net.connect(target.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(`GET /bytes?n=${n} HTTP/1.1\r\nhost: target\r\nconnection: close\r\n\r\n`);
  // No 'data' listener yet: the socket stops reading once its buffer is full.
  socket.pause();
  await waitFor('a write to be refused', () => stats.refused > 0);
  const writesWhenBlocked = stats.writes;

  let head = Buffer.alloc(0);
  let body = -1; // bytes after the header block, once it has been seen
  socket.on('data', (chunk: Buffer) => {
    if (body >= 0) return void (body += chunk.length);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end >= 0) body = head.length - (end + 4);
  });
  const ended = once(socket, 'end');
  socket.resume();
  await withDeadline('the whole response', ended);
  t.match(head.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(body, n, 'whole body arrived');
  t.equal(stats.bytes, n, 'server wrote exactly n bytes');
  t.ok(stats.writes > writesWhenBlocked, 'writing resumed after drain');
  t.equal(stats.whileNeedDrain, 0, 'never wrote while waiting for drain');
});

t.test('POST /echo streams the body back with its content-type', async (t) => {
  const target = await start(t);

  let res = await fetch(`${target.url}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'text/x-test; charset=utf-8' },
    body: 'héllo, tunnel',
  });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'text/x-test; charset=utf-8');
  t.equal(res.headers.get('content-length'), String(Buffer.byteLength('héllo, tunnel')));
  t.equal(await res.text(), 'héllo, tunnel');

  // A chunked upload without content-type or length, bigger than any buffer on the way.
  const data = randomBytes(5 * 1024 * 1024 + 17);
  res = await fetch(`${target.url}/echo`, {
    method: 'POST',
    body: streamOf(data, 100_000),
    duplex: 'half',
  } as RequestInit);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), null, 'no content-type in, none out');
  t.equal(res.headers.get('content-length'), null);
  t.ok(Buffer.from(await res.arrayBuffer()).equals(data), 'echoed byte for byte');

  res = await fetch(`${target.url}/echo`, { method: 'POST', body: '' });
  t.equal(res.status, 200);
  t.equal(await res.text(), '', 'empty body echoes empty');
});

t.test('POST /sink counts the body', async (t) => {
  const target = await start(t);
  const cases: Array<[string, RequestInit['body'], number]> = [
    ['empty', '', 0],
    ['text', 'hello', 5],
    ['3 MiB buffer', new Uint8Array(3 * 1024 * 1024), 3 * 1024 * 1024],
    ['chunked stream', streamOf(randomBytes(1_000_003), 4096), 1_000_003],
  ];
  for (const [name, body, bytes] of cases) {
    const res = await fetch(`${target.url}/sink`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    t.equal(res.status, 200, name);
    t.equal(res.headers.get('content-type'), 'application/json');
    t.same(await res.json(), { bytes }, name);
  }
});

t.test('GET /sse sends numbered events then the end event', async (t) => {
  const target = await start(t);
  const res = await fetch(`${target.url}/sse`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'text/event-stream');
  t.equal(res.headers.get('cache-control'), 'no-cache');
  const events = sseEvents(await res.text());
  t.same(
    events.map((e) => e.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    'ten events by default',
  );
  events.forEach((e, i) => {
    t.ok(Number.isInteger(e.t), 't is whole milliseconds');
    t.ok(e.t >= e.seq * 10, `event ${e.seq} at ${e.t}ms, not before its 10ms slot`);
    if (i > 0) t.ok(e.t >= events[i - 1]!.t, 'times do not go backwards');
  });

  const quick = await fetch(`${target.url}/sse?count=3&intervalMs=0`);
  t.same(
    sseEvents(await quick.text()).map((e) => e.seq),
    [1, 2, 3],
  );

  const none = await fetch(`${target.url}/sse?count=0`);
  t.equal(await none.text(), 'event: end\ndata: {}\n\n', 'count=0 sends only the end event');
});

t.test('GET /sse-burst sends count events at once, then the end event', async (t) => {
  const target = await start(t);
  const res = await fetch(`${target.url}/sse-burst?count=50000`);
  t.equal(res.headers.get('content-type'), 'text/event-stream');
  const frames = sseFrames(await res.text());
  const last = frames.pop();
  t.same(last, { event: 'end', data: '{}' }, 'ends with the end event');
  t.equal(frames.length, 50_000);
  t.ok(frames.every((f, i) => f.data === `{"seq":${i + 1}}`), 'numbered from 1 in order');
  t.equal(await (await fetch(`${target.url}/sse-burst?count=0`)).text(), 'event: end\ndata: {}\n\n');
  t.equal((await fetch(`${target.url}/sse-burst?count=1e3`)).status, 400);
});

t.test('GET /sse pauses once after the event that reaches gapAtMs', async (t) => {
  const target = await start(t);
  const intervalMs = 20;
  const gapAtMs = 30;
  const gapMs = 150;
  const res = await fetch(`${target.url}/sse?count=5&intervalMs=${intervalMs}&gapAtMs=${gapAtMs}&gapMs=${gapMs}`);
  const events = sseEvents(await res.text());
  t.equal(events.length, 5);
  const k = events.findIndex((e) => e.t >= gapAtMs);
  t.ok(k >= 0 && k < 4, `the gap follows event ${k + 1}`);
  t.ok(events[k + 1]!.t - events[k]!.t >= intervalMs + gapMs, `silence of ${events[k + 1]!.t - events[k]!.t}ms after the gap event`);
  // Later events keep their slots counted from the gap event; a late timer
  // may make one interval shorter, so compare with the slots, not neighbours.
  for (let i = k + 2; i < events.length; i++) {
    t.ok(events[i]!.t >= events[k]!.t + gapMs + (i - k) * intervalMs, `event ${i + 1} keeps its slot after the gap`);
    t.ok(events[i]!.t - events[i - 1]!.t < gapMs, `no second gap before event ${i + 1}`);
  }

  // A gap after the last event holds back the end marker.
  const started = performance.now();
  const last = await fetch(`${target.url}/sse?count=1&intervalMs=0&gapMs=100`);
  t.equal(sseEvents(await last.text()).length, 1);
  t.ok(performance.now() - started >= 100, 'the end event waited for the gap');
});

t.test('GET /sse rejects bad parameters', async (t) => {
  const target = await start(t);
  for (const query of ['count=-1', 'count=x', 'intervalMs=1.5', 'gapAtMs=', 'gapMs=2147483648']) {
    const res = await fetch(`${target.url}/sse?${query}`);
    t.equal(res.status, 400, query);
    t.match(await res.text(), /must be integers/);
  }
});

t.test('GET /sse clears its timer when the client disconnects', async (t) => {
  const target = await start(t);
  const baseline = handleCounts().Timeout!;
  const res = await fetch(`${target.url}/sse?count=5&intervalMs=600000`);
  t.equal(res.status, 200, 'headers arrive before the first event');
  t.ok(handleCounts().Timeout! > baseline, 'an event timer is pending');
  await res.body!.cancel();
  await waitFor('event timer to be cleared', () => handleCounts().Timeout! <= baseline);
  t.pass('event timer cleared after the client left');
});

t.test('GET /hang never answers and holds no timer', async (t) => {
  const target = await start(t);
  const seen = seeRequests(t);
  const baseline = handleCounts().Timeout!;
  const abort = new AbortController();
  const pending = tracked(fetch(`${target.url}/hang`, { signal: abort.signal }));
  const hung = await waitFor('the server to handle /hang', () => seen.find((s) => s.url === '/hang' && s.handled));
  // Anything sent synchronously by the handler would be delivered within a turn.
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(hung.res.headersSent, 'nothing sent');
  t.notOk(pending.settled(), 'no response');
  t.equal(handleCounts().Timeout, baseline, 'no timer for a hung request');

  abort.abort();
  await t.rejects(pending.promise, { name: 'AbortError' });
  await waitFor('server to see the client leave', () => hung.res.destroyed);
  const res = await fetch(`${target.url}/small`);
  t.equal(await res.text(), 'ok', 'server still serves');
});

t.test('GET /status/:code answers with that status', async (t) => {
  const target = await start(t);
  for (const code of [200, 201, 299, 302, 400, 404, 418, 500, 503, 599]) {
    const res = await fetch(`${target.url}/status/${code}`, { redirect: 'manual' });
    t.equal(res.status, code);
    t.equal(await res.text(), `status ${code}`);
  }
  for (const code of [204, 205, 304]) {
    const res = await fetch(`${target.url}/status/${code}`);
    t.equal(res.status, code);
    t.equal(await res.text(), '', `${code} has no body`);
  }
  for (const bad of ['100', '101', '199', '600', '99', '2000', '0200', 'abc', '', '200/x']) {
    const res = await fetch(`${target.url}/status/${bad}`);
    t.equal(res.status, 400, `/status/${bad}`);
    t.equal(await res.text(), 'status code must be from 200 to 599');
  }
});

t.test('GET /headers returns the request headers as JSON', async (t) => {
  const target = await start(t);
  const res = await fetch(`${target.url}/headers`, { headers: { 'x-tunnel-test': 'yes', 'X-Mixed-Case': 'Value' } });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'application/json');
  const headers = (await res.json()) as Record<string, string>;
  t.equal(headers['x-tunnel-test'], 'yes');
  t.equal(headers['x-mixed-case'], 'Value', 'names are lower-cased, values kept');
  t.equal(headers.host, `127.0.0.1:${target.port}`);
});

t.test('anything else is 404 not found', async (t) => {
  const target = await start(t);
  for (const [method, path] of [
    ['GET', '/'],
    ['GET', '/nope'],
    ['GET', '/echo'],
    ['GET', '/sink'],
    ['POST', '/small'],
    ['POST', '/bytes?n=1'],
    ['PUT', '/echo'],
    ['DELETE', '/status/200'],
    ['GET', '/small/extra'],
  ] as const) {
    const res = await fetch(`${target.url}${path}`, { method, body: method === 'GET' ? null : 'some body' });
    t.equal(res.status, 404, `${method} ${path}`);
    t.equal(res.headers.get('content-type'), 'text/plain');
    t.equal(await res.text(), 'not found');
  }
});

t.test('every route keeps the connection alive', async (t) => {
  const target = await start(t);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const calls: Array<[string, string, string | undefined, number]> = [
    ['GET', '/small', undefined, 200],
    ['GET', '/bytes?n=200000', undefined, 200],
    ['GET', '/bytes?n=nope', undefined, 400],
    ['POST', '/echo', 'x'.repeat(100_000), 200],
    ['POST', '/sink', 'y'.repeat(100_000), 200],
    ['GET', '/sse?count=2&intervalMs=0', undefined, 200],
    ['GET', '/sse?count=bad', undefined, 400],
    ['GET', '/sse-burst?count=3', undefined, 200],
    ['GET', '/status/503', undefined, 503],
    ['GET', '/status/204', undefined, 204],
    ['GET', '/status/205', undefined, 205],
    ['GET', '/status/304', undefined, 304],
    ['GET', '/status/42', undefined, 400],
    ['GET', '/headers', undefined, 200],
    ['POST', '/nope', 'z'.repeat(100_000), 404],
    ['GET', '/small', undefined, 200],
  ];
  for (const [i, [method, path, body, status]] of calls.entries()) {
    const reply = await httpRequest(agent, target.port, method, path, body);
    t.equal(reply.status, status, `${method} ${path}`);
    if (i > 0) t.ok(reply.reused, `${method} ${path} reused the connection`);
    if (path === '/bytes?n=200000') t.equal(reply.body.length, 200_000);
    if (path === '/echo') t.equal(reply.body.toString(), body);
  }
});

t.test('close() ends streams and hung requests and leaves no handles behind', async (t) => {
  const baseline = handleCounts();
  const target = await startTargetServer();
  t.teardown(() => target.close());

  const hung = tracked(fetch(`${target.url}/hang`));
  hung.promise.catch(() => {});
  const sse = await fetch(`${target.url}/sse?count=1000&intervalMs=1`);
  const frames = frameReader(sse);
  t.ok(await frames.next(), 'event stream has started');
  const slow = await fetch(`${target.url}/sse?count=5&intervalMs=600000`);
  const slowFrames = frameReader(slow);
  const big = await fetch(`${target.url}/bytes?n=${GIB}`);
  const bigReader = big.body!.getReader();
  t.ok((await bigReader.read()).value, 'download has started');

  await withDeadline('close()', target.close());
  await t.rejects(hung.promise, 'hung request fails once the server closes');
  await t.rejects(
    (async () => {
      while (await frames.next());
    })(),
    'event stream is cut off',
  );
  await t.rejects(slowFrames.next(), 'idle event stream is cut off');
  await t.rejects(readAll(bigReader), 'download is cut off');
  await t.rejects(fetch(`${target.url}/small`), 'server no longer listens');

  await waitFor('handles to be released', () => {
    const now = handleCounts();
    return Object.keys(baseline).every((k) => now[k]! <= baseline[k]!);
  }).catch((err: Error) => {
    t.fail(err.message, { baseline, now: handleCounts() });
  });
  t.pass('no server, socket or timer handles left');
  await target.close(); // closing twice is fine
});

function spawnMain(t: HasTeardown, args: string[]) {
  const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  // 'close' rather than 'exit', so all output has been read by then.
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, out, closed };
}

const LISTENING = /^target listening on (http:\/\/127\.0\.0\.1:(\d+))\n$/;

t.test('CLI prints one listening line and exits 0 on SIGTERM, cutting off open requests', async (t) => {
  const { child, out, closed } = spawnMain(t, ['--port', '0']);
  const line = await waitFor('listening line', () => LISTENING.exec(out.stdout), { timeoutMs: 10_000 });
  const base = line[1]!;

  const res = await fetch(`${base}/small`);
  t.equal(await res.text(), 'ok');

  const hung = tracked(fetch(`${base}/hang`));
  hung.promise.catch(() => {});
  const sse = await fetch(`${base}/sse?count=5&intervalMs=600000`);
  const frames = frameReader(sse);
  const nextFrame = frames.next();
  nextFrame.catch(() => {});

  child.kill('SIGTERM');
  const code = await withDeadline('child to exit', closed);
  t.equal(code, 0, 'exit code 0');
  await t.rejects(hung.promise, 'hung request is cut off');
  await t.rejects(nextFrame, 'event stream is cut off');
  t.equal(out.stdout.split('\n').filter(Boolean).length, 1, 'exactly one stdout line');
  t.equal(out.stderr, '');
});

t.test('CLI exits 0 on SIGINT and honours --host and --port', async (t) => {
  // Find a free port, then hand it to the CLI.
  const probe = await startTargetServer();
  const port = probe.port;
  await probe.close();
  const { child, out, closed } = spawnMain(t, ['--host', '127.0.0.1', '--port', String(port)]);
  await waitFor('listening line', () => LISTENING.test(out.stdout), { timeoutMs: 10_000 });
  t.equal(out.stdout, `target listening on http://127.0.0.1:${port}\n`);
  child.kill('SIGINT');
  t.equal(await withDeadline('child to exit', closed), 0, 'exit code 0');
  t.equal(out.stderr, '');
});

t.test('CLI rejects bad arguments with exit code 2', async (t) => {
  for (const args of [['--bogus'], ['--port', 'abc'], ['--port', '70000'], ['--port', '-1'], ['--host', ''], ['stray']]) {
    const { out, closed } = spawnMain(t, args);
    const code = await withDeadline('child to exit', closed);
    t.equal(code, 2, `exit 2 for ${JSON.stringify(args)}`);
    t.equal(out.stdout, '');
    t.match(out.stderr, /^target: [^\n]+\n$/, 'one-line error');
  }
});
