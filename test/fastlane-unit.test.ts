// The fast lane's parsers on their own: every request head the strict parser must
// refuse (request smuggling's usual shapes among them), what it takes, and where a
// response ends for each way HTTP/1.1 frames one.
import t from 'tap';
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
