// The SSE reader: whatever way the bytes are cut into packets, the same events come
// out, characters intact, following the WHATWG event-stream rules.
import http from 'node:http';
import type net from 'node:net';
import t from 'tap';
import { Agent, request } from 'undici';
import { readSse, SseParser, type SseEvent } from '../src/opencode/sse-reader.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function parseAll(chunks: Uint8Array[]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  events.push(...parser.end());
  return { events, parser };
}
const parse = (chunks: Uint8Array[]): SseEvent[] => parseAll(chunks).events;

const payload = '{"delta":"日本語 👩‍👩‍👧 e\u0301 ok"}';

// A BOM, comments, retry, every kind of line end, multi-line data, an id with NUL,
// a block without data, and an unterminated event at the end.
const STREAM = [
  '\ufeff: hello, a comment\r\n',
  'retry: 3000\n',
  'event: server.connected\r',
  'data: {"type":"server.connected"}\r\n',
  'id: 1\n',
  '\r\n',
  'data: first line\n',
  'data:second line, no space\r',
  'data:  two spaces\n',
  'Data: field names are case-sensitive\n',
  'foo: unknown field\n',
  '\n',
  'event: delta\r\n',
  'id: 2\r\n',
  `data: ${payload}\r\n`,
  ': a comment inside an event\r',
  '\r',
  'data\n',
  '\n',
  'id: bad\u0000id\n',
  'event: tail\n',
  'data: x\n',
  '\r',
  'event: no data, so nothing\n',
  'id: 3\n',
  '\n',
  'data: after the empty block\n',
  '\n',
  'event: cut\n',
  'data: incomplete',
].join('');

const EXPECTED: SseEvent[] = [
  { event: 'server.connected', data: '{"type":"server.connected"}', id: '1' },
  { event: 'message', data: 'first line\nsecond line, no space\n two spaces', id: '1' },
  { event: 'delta', data: '{"delta":"日本語 👩‍👩‍👧 e\u0301 ok"}', id: '2' },
  { event: 'message', data: '', id: '2' },
  { event: 'tail', data: 'x', id: '2' },
  { event: 'message', data: 'after the empty block', id: '3' },
];

// Short enough to try every pair of cuts.
const SHORT = '\ufeffid: 7\nevent: é\r\ndata: 日👩\u200d👧e\u0301\r\rdata:x\r\n\r\n';
const SHORT_EXPECTED: SseEvent[] = [
  { event: 'é', data: '日👩\u200d👧e\u0301', id: '7' },
  { event: 'message', data: 'x', id: '7' },
];

t.test('the canned stream, fed whole, gives the events written out by hand', async (t) => {
  const { events, parser } = parseAll([enc(STREAM)]);
  t.same(events, EXPECTED);
  t.equal(parser.retry, 3000, 'retry: is kept on the parser');
  t.same(JSON.parse(events[2]!.data), { delta: '日本語 👩‍👩‍👧 e\u0301 ok' }, 'the JSON payload parses, characters intact');
  t.same(parse([enc(SHORT)]), SHORT_EXPECTED);
});

t.test('cut into two packets at every byte offset, the same events come out, never U+FFFD', async (t) => {
  for (const [name, s, expected] of [['long', STREAM, EXPECTED], ['short', SHORT, SHORT_EXPECTED]] as const) {
    const b = enc(s);
    let bad = 0;
    for (let i = 0; i <= b.length; i++) {
      const got = parse([b.subarray(0, i), b.subarray(i)]);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        if (bad++ === 0) t.same(got, expected, `${name}: first differing cut at byte ${i}`);
      }
    }
    t.equal(bad, 0, `${name}: all ${b.length + 1} cuts agree`);
  }
});

t.test('fed one byte at a time, the same events come out', async (t) => {
  for (const [s, expected] of [[STREAM, EXPECTED], [SHORT, SHORT_EXPECTED]] as const) {
    const b = enc(s);
    t.same(parse(Array.from(b, (x) => Uint8Array.of(x))), expected);
  }
});

t.test('cut into three packets at every pair of offsets, the same events come out', async (t) => {
  const b = enc(SHORT);
  const want = JSON.stringify(SHORT_EXPECTED);
  let bad = 0;
  let tried = 0;
  for (let i = 0; i <= b.length; i++) {
    for (let j = i; j <= b.length; j++) {
      tried++;
      const got = parse([b.subarray(0, i), b.subarray(i, j), b.subarray(j)]);
      if (JSON.stringify(got) !== want && bad++ === 0) t.same(got, SHORT_EXPECTED, `first differing cuts at ${i}, ${j}`);
    }
  }
  t.equal(bad, 0, `all ${tried} pairs of cuts agree`);
});

t.test('a CR ending one packet and an LF opening the next are one line end, not two', async (t) => {
  // Two line ends would make a blank line, dispatching "a" and "b" apart.
  t.same(parse([enc('data: a\r'), enc('\ndata: b\n\n')]), [{ event: 'message', data: 'a\nb', id: null }]);
  t.same(parse([enc('data: a\r'), new Uint8Array(0), enc('\ndata: b\n\n')]), [{ event: 'message', data: 'a\nb', id: null }], 'an empty packet between changes nothing');
  t.same(parse([enc('data: a\r'), enc('\n'), enc('\r'), enc('\n')]), [{ event: 'message', data: 'a', id: null }], 'CRLF CRLF cut everywhere');
  t.same(parse([enc('data: a\r\r\ndata: b\n\n')]), [{ event: 'message', data: 'a', id: null }, { event: 'message', data: 'b', id: null }], 'CR then CRLF is two line ends');
});

t.test('an event ended by a CR is delivered with that packet, without waiting for the next', async (t) => {
  const p = new SseParser();
  t.same(p.push(enc('data: now\r\r')), [{ event: 'message', data: 'now', id: null }]);
  t.same(p.push(enc('\n')), [], 'the LF that may follow is swallowed');
});

t.test('a block without data lines dispatches nothing, and forgets its event name', async (t) => {
  t.same(parse([enc('event: ping\n\n\n\ndata: later\n\n')]), [{ event: 'message', data: 'later', id: null }]);
  t.same(parse([enc(': keep-alive\n\n: keep-alive\n\n')]), []);
  t.same(parse([enc('data:\n\n')]), [{ event: 'message', data: '', id: null }], 'an empty data line is data: the event comes out with ""');
  t.same(parse([enc('data\ndata\n\n')]), [{ event: 'message', data: '\n', id: null }], 'a line without a colon is a field with an empty value');
  t.same(parse([enc('event:\ndata: x\n\n')]), [{ event: 'message', data: 'x', id: null }], 'an empty event name means message');
});

t.test('an event not closed by a blank line before the stream ends is not delivered', async (t) => {
  t.same(parse([enc('data: whole\n\ndata: cut short\n')]), [{ event: 'message', data: 'whole', id: null }]);
  t.same(parse([enc('data: whole\n\ndata: cut sho')]), [{ event: 'message', data: 'whole', id: null }]);
  const p = new SseParser();
  t.same(p.push(enc('id: 5\ndata: half\n')), []);
  t.same(p.end(), [], 'end() drops it');
  t.same(p.push(enc('data: reconnected\n\n')), [{ event: 'message', data: 'reconnected', id: '5' }], 'after end() the parser reads a new stream, keeping the last id');
});

t.test('an id containing NUL is ignored; an empty id resets it', async (t) => {
  t.same(parse([enc('id: 1\ndata: a\n\nid: 2\u0000\ndata: b\n\nid\ndata: c\n\n')]), [
    { event: 'message', data: 'a', id: '1' },
    { event: 'message', data: 'b', id: '1' },
    { event: 'message', data: 'c', id: '' },
  ]);
  t.same(parse([enc('id: 9\n\ndata: later\n\n')]), [{ event: 'message', data: 'later', id: '9' }], 'an id in a block without data still counts');
});

t.test('only one space after the colon is stripped', async (t) => {
  t.same(parse([enc('data:none\n\ndata: one\n\ndata:  two\n\ndata:\ttab\n\ndata: a:b: c\n\n')]).map((e) => e.data), ['none', 'one', ' two', '\ttab', 'a:b: c']);
  t.same(parse([enc('event:  spaced\ndata: x\n\n')]), [{ event: ' spaced', data: 'x', id: null }]);
});

t.test('retry: takes digits only', async (t) => {
  const p = parseAll([enc('retry: 1500\n\nretry: 2s\n\nretry:\n\nretry: -1\n\n')]).parser;
  t.equal(p.retry, 1500);
  t.equal(new SseParser().retry, undefined, 'none until the server says');
});

t.test('one BOM at the very start is dropped, even cut, but not a second one or a later one', async (t) => {
  const bom = '\ufeff';
  for (const s of [`${bom}data: a\n\n`, `${bom}${bom}data: a\n\n`]) {
    const whole = parse([enc(s)]);
    t.same(parse(Array.from(enc(s), (x) => Uint8Array.of(x))), whole);
  }
  t.same(parse([enc(`${bom}data: a\n\n`)]), [{ event: 'message', data: 'a', id: null }]);
  t.same(parse([enc(`${bom}${bom}data: a\n\n`)]), [], 'the second BOM makes the field name "\\ufeffdata", unknown');
  t.same(parse([enc(`data: ${bom}a\n\n`)]), [{ event: 'message', data: `${bom}a`, id: null }]);
});

t.test('a character cut at the very end of the stream does not invent a line', async (t) => {
  const b = enc('data: a\n\ndata: 日');
  t.same(parse([b.subarray(0, b.length - 1)]), [{ event: 'message', data: 'a', id: null }]);
});

t.test('readSse yields the events of an async iterable of chunks, in order', async (t) => {
  const b = enc(STREAM);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < b.length; i += 5) {
      await new Promise((r) => setImmediate(r));
      yield Buffer.from(b.subarray(i, i + 5)); // undici's body yields Buffers
    }
  }
  const got: SseEvent[] = [];
  for await (const ev of readSse(chunks())) got.push(ev);
  t.same(got, EXPECTED);

  let closed = false;
  async function* endless(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; ; i++) yield enc(`data: ${i}\n\n`);
    } finally {
      closed = true;
    }
  }
  const first: string[] = [];
  for await (const ev of readSse(endless())) {
    first.push(ev.data);
    if (first.length === 3) break;
  }
  t.same(first, ['0', '1', '2']);
  t.ok(closed, 'stopping early closes the body');
});

t.test('readSse over an undici response body, characters cut between writes', async (t) => {
  const body = enc(`event: a\ndata: ${payload}\n\ndata: 👩‍👩‍👧\r\n\r\n`);
  const srv = http.createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < body.length; i += 7) {
      res.write(body.subarray(i, i + 7));
      await new Promise((r) => setTimeout(r, 1));
    }
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const dispatcher = new Agent();
  t.teardown(async () => {
    await dispatcher.destroy();
    await new Promise((r) => srv.close(r));
  });
  const res = await request(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/event`, { dispatcher });
  const got: SseEvent[] = [];
  for await (const ev of readSse(res.body)) got.push(ev);
  t.same(got, [
    { event: 'a', data: payload, id: null },
    { event: 'message', data: '👩‍👩‍👧', id: null },
  ]);
});

t.test('a 1 MB event in 1000-byte packets comes out whole', async (t) => {
  // Multi-byte characters of every length, so cuts fall inside them.
  const unit = 'aé日👩';
  const big = unit.repeat(Math.ceil(1_000_000 / enc(unit).length));
  const b = enc(`id: big\ndata: ${big}\ndata: ${big}\n\ndata: next\n\n`);
  t.ok(b.length > 2_000_000);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += 1000) chunks.push(b.subarray(i, i + 1000));
  const got = parse(chunks);
  t.equal(got.length, 2);
  t.ok(got[0]!.data === `${big}\n${big}`, 'the data is exact');
  t.same(got[1], { event: 'message', data: 'next', id: 'big' });
});

t.test('many small events in small packets all come out', async (t) => {
  const n = 20_000;
  const b = enc(Array.from({ length: n }, (_, i) => `id: ${i}\r\ndata: ${i} 日\r\n\r\n`).join(''));
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += 7) chunks.push(b.subarray(i, i + 7));
  const got = parse(chunks);
  t.equal(got.length, n);
  t.ok(got.every((e, i) => e.id === String(i) && e.data === `${i} 日`), 'each in order, intact');
});
