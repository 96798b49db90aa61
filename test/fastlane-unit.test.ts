// The fast lane's parsers on their own: every request head the strict parser must
// refuse (request smuggling's usual shapes among them), what it takes, and where a
// response ends for each way HTTP/1.1 frames one. And the fast lane itself before an
// opencode that never answers (a stand-in workspace; gateway-fastlane.test.ts has the
// real one): a deadline, not a hang.
import net from 'node:net';
import { Duplex } from 'node:stream';
import t from 'tap';
import type { Broker } from '../src/broker/broker.js';
import { guardPolicy } from '../src/gateway/browser-guard.js';
import { FastLane } from '../src/gateway/fastlane.js';
import { createLogger } from '../src/log.js';
import { MAX_HEAD_BYTES, parseRequestHead } from '../src/gateway/head-parser.js';
import { ResponseFramer } from '../src/gateway/response-framer.js';

const ok = 'GET /v1/x HTTP/1.1\r\nHost: h\r\n';
const parse = (s: string | Buffer) => parseRequestHead(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));

t.test('a plain head is taken, with its size', async (t) => {
  const text = `${ok}Authorization: Bearer x\r\nContent-Length: 0\r\n\r\nGET /next`;
  const r = parse(text);
  t.equal(r.kind, 'head');
  if (r.kind !== 'head') return;
  t.equal(r.bytes, text.indexOf('GET /next'));
  t.same([r.head.method, r.head.target, r.head.version, r.head.contentLength, r.head.transferEncoding], ['GET', '/v1/x', '1.1', 0, false]);
  t.same(r.head.headers.map((h) => [h.lower, h.value]), [['host', 'h'], ['authorization', 'Bearer x'], ['content-length', '0']]);
  t.equal(parse(`${ok}X-A:   spaced   \r\n\r\n`).kind, 'head', 'OWS around a value');
  t.equal(parse('GET / HTTP/1.0\r\n\r\n').kind, 'head', 'HTTP/1.0 parses (the caller sends it the long way)');
  t.equal(parse(`${ok}Transfer-Encoding: chunked\r\n\r\n`).kind, 'head', 'chunked alone parses (the long way takes it)');
});

t.test('an unfinished head waits', async (t) => {
  t.equal(parse(ok).kind, 'incomplete');
  t.equal(parse('GET / HT').kind, 'incomplete');
});

const refusals: Array<[string, string | Buffer, number]> = [
  ['Content-Length and Transfer-Encoding (CL.TE smuggling)', `${ok}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
  ['Transfer-Encoding then Content-Length (TE.CL)', `${ok}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n`, 400],
  ['Content-Length twice, equal', `${ok}Content-Length: 4\r\nContent-Length: 4\r\n\r\n`, 400],
  ['Content-Length twice, different', `${ok}Content-Length: 4\r\nContent-Length: 5\r\n\r\n`, 400],
  ['Content-Length as a list', `${ok}Content-Length: 4, 4\r\n\r\n`, 400],
  ['Content-Length not a number', `${ok}Content-Length: 4x\r\n\r\n`, 400],
  ['Content-Length negative', `${ok}Content-Length: -1\r\n\r\n`, 400],
  ['Content-Length in hex', `${ok}Content-Length: 0x10\r\n\r\n`, 400],
  ['Content-Length too big', `${ok}Content-Length: 9999999999999999\r\n\r\n`, 400],
  ['obs-fold (space)', `${ok}X-A: b\r\n c\r\n\r\n`, 400],
  ['obs-fold (tab)', `${ok}X-A: b\r\n\tc\r\n\r\n`, 400],
  ['bare CR in a value', `${ok}X-A: b\rc\r\n\r\n`, 400],
  ['bare CR, head unfinished', `${ok}X-A: b\rc`, 400],
  ['bare LF line end', 'GET / HTTP/1.1\nHost: h\n\n', 400],
  ['bare LF inside a head', `${ok}X-A: b\nX-B: c\r\n\r\n`, 400],
  ['NUL in a value', `${ok}X-A: b\0c\r\n\r\n`, 400],
  ['NUL, head unfinished', `${ok}X-A: b\0`, 400],
  ['a control character in a value', `${ok}X-A: b\x01c\r\n\r\n`, 400],
  ['DEL in a value', `${ok}X-A: b\x7fc\r\n\r\n`, 400],
  ['space before the colon', `${ok}Content-Length : 4\r\n\r\n`, 400],
  ['space in a header name', `${ok}X A: b\r\n\r\n`, 400],
  ['a separator in a header name', `${ok}X(A): b\r\n\r\n`, 400],
  ['an empty header name', `${ok}: b\r\n\r\n`, 400],
  ['a header line without a colon', `${ok}Garbage\r\n\r\n`, 400],
  ['non-ASCII in a header name', Buffer.concat([Buffer.from(`${ok}X-`), Buffer.from([0xc3, 0xa9]), Buffer.from(': b\r\n\r\n')]), 400],
  ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['a target with a space', 'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['a target with non-ASCII', Buffer.concat([Buffer.from('GET /'), Buffer.from([0xff]), Buffer.from(' HTTP/1.1\r\nHost: h\r\n\r\n')]), 400],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', 400],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: h\r\n\r\n', 400],
  ['a lower-case version', 'GET / http/1.1\r\nHost: h\r\n\r\n', 400],
  ['no version (HTTP/0.9)', 'GET /\r\nHost: h\r\n\r\n', 400],
  ['a method that is not a token', 'G(T / HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['a leading empty line', `\r\n${ok}\r\n`, 400],
  ['a head past 16 KiB, finished', `${ok}X-A: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, 431],
  ['a head past 16 KiB, unfinished', `${ok}X-A: ${'a'.repeat(MAX_HEAD_BYTES)}`, 431],
];

t.test('refused heads', async (t) => {
  for (const [what, text, status] of refusals) {
    const r = parse(text);
    t.equal(r.kind, 'refused', what);
    if (r.kind === 'refused') t.equal(r.status, status, `${what}: ${status}`);
  }
});

t.test('absolute-form and authority-form parse but are not origin-form (the caller sends them the long way)', async (t) => {
  const abs = parse('GET http://h/v1/x HTTP/1.1\r\nHost: h\r\n\r\n');
  t.equal(abs.kind === 'head' && abs.head.target.startsWith('/'), false);
  const auth = parse('CONNECT h:80 HTTP/1.1\r\nHost: h\r\n\r\n');
  t.equal(auth.kind === 'head' && auth.head.target.startsWith('/'), false);
});

/** Feeds the bytes in pieces of `step` and returns where the response ended. */
function endOf(text: string, o: { head?: boolean; step?: number } = {}): { end: number; framer: ResponseFramer } {
  const b = Buffer.from(text, 'latin1');
  const f = new ResponseFramer(o.head ?? false);
  const step = o.step ?? b.length;
  let at = 0;
  for (let i = 0; i < b.length && !f.done; i += step) at = i + f.feed(b.subarray(i, Math.min(b.length, i + step)));
  return { end: f.done ? at : -1, framer: f };
}

t.test('where a response ends, byte by byte and whole', async (t) => {
  const after = 'HTTP/1.1 200 OK\r\n\r\n';
  const cases: Array<[string, string, boolean?]> = [
    ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
    ['Content-Length 0', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['204 without a body', 'HTTP/1.1 204 No Content\r\n\r\n'],
    ['304 with a length but no body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n'],
    ['HEAD: the length is not a body', 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n', true],
    ['HEAD of a chunked response', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', true],
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n'],
    ['chunked with trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n'],
    ['100 Continue before the answer', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ];
  for (const [what, text, head] of cases) {
    for (const step of [1, 3, 7, text.length]) {
      t.equal(endOf(text + after, { head: head ?? false, step }).end, text.length, `${what} (pieces of ${step})`);
    }
  }
});

t.test('close-delimited bodies and closing answers', async (t) => {
  const { end, framer } = endOf('HTTP/1.1 200 OK\r\n\r\nsome bytes');
  t.equal(end, -1, 'no end before the connection ends');
  t.ok(framer.ended(), 'the connection ending ends it');
  t.ok(framer.closeAfter);
  const cut = endOf('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort');
  t.notOk(cut.framer.ended(), 'a body cut short is not a whole response');
  t.ok(endOf('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').framer.closeAfter, 'Connection: close');
  t.ok(endOf('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').framer.closeAfter, 'HTTP/1.0');
  t.notOk(endOf('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').framer.closeAfter, 'keep-alive otherwise');
});

t.test('responses that are not HTTP/1.1 framing throw', async (t) => {
  for (const text of [
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
    'SSH-2.0-x\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\n\r\n',
  ]) {
    t.throws(() => new ResponseFramer(false).feed(Buffer.from(text, 'latin1')), { name: 'FramingError' }, JSON.stringify(text.slice(0, 40)));
  }
});

t.test('opencode sends no response head: the client gets the long way\'s 502 SERVER_HTTP in time, and the channel and lease are let go', async (t) => {
  // What opencode is sent is kept; nothing ever comes back.
  let sent = '';
  const upstream = new Duplex({ read() {}, write(chunk: Buffer, _enc, done) { sent += chunk.toString('latin1'); done(); } });
  let held = 0;
  const rt = {
    name: 'silent',
    readyNow: () => true,
    openServerSocket: async () => upstream,
    serverCredentials: () => ({ authorization: 'Basic b3BlbmNvZGU6cHc=', instance: 1, host: '127.0.0.1:4096' }),
    hold: () => { held++; return () => { held--; }; },
  };
  const broker = { has: (n: string) => n === 'silent', workspace: () => rt } as unknown as Broker;
  const shutdown = new AbortController();
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const handed: net.Socket[] = [];
  const lane = new FastLane({
    token: 'tok', policy: () => guardPolicy({ kind: 'tcp', address: '127.0.0.1', port }), broker, shutdown: shutdown.signal,
    handOver: (s) => { handed.push(s); s.destroy(); }, logger: createLogger({ level: 'silent' }),
    headersTimeoutMs: 10_000, keepAliveTimeoutMs: 30_000, responseHeadersTimeoutMs: 300,
  });
  server.on('connection', (s) => lane.accept(s));
  t.teardown(() => { shutdown.abort(); lane.shutdown(); server.close(); });
  const c = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => { c.destroy(); });
  let answer = '';
  c.on('data', (d: Buffer) => { answer += d.toString('latin1'); });
  const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
  await new Promise<void>((resolve) => c.once('connect', () => resolve()));
  const started = Date.now();
  c.write(`GET /v1/workspaces/silent/opencode/session HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer tok\r\n\r\n`);
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000))]);
  const took = Date.now() - started;
  t.match(sent, /^GET \/session HTTP\/1\.1\r\nhost: 127\.0\.0\.1:4096\r\nauthorization: Basic /, 'the request went the fast lane, with the server\'s own credentials');
  t.equal(handed.length, 0, 'not handed to Node');
  t.ok(took >= 250 && took < 5000, `answered after the response-head deadline (${took} ms)`);
  const [head, body] = answer.split('\r\n\r\n');
  t.match(head, /^HTTP\/1\.1 502 Bad Gateway\r\n/, '502');
  t.match(head, /\r\nconnection: close/i, 'and the connection closes');
  t.match(head, new RegExp(`content-length: ${Buffer.byteLength(body ?? '')}`, 'i'), 'a whole body');
  t.same(JSON.parse(body ?? ''), { error: { code: 'WARREN_ERR_SERVER_HTTP', message: 'opencode in workspace silent answered GET /session with 504: no response headers within 0.3 s' } }, 'the long way\'s error, word for word');
  t.ok(upstream.destroyed, 'the upstream channel is closed');
  t.equal(held, 0, 'the server\'s lease is released (it may stop when idle)');
});
