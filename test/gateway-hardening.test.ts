// The gateway against requests a browser or SDK would never send, written byte for
// byte on a raw socket: path traversal out of the pass-through (plain, encoded,
// double-encoded, backslashes, absolute-form targets), wrong methods on every route,
// huge and endless bodies, malformed JSON, header floods. Each is a quick 4xx that
// reaches neither another route nor the other workspace, never a 5xx, and afterwards
// the daemon answers normally with its memory where it was.
import t from 'tap';
import { LINGER } from '../src/gateway/linger.js';
import net from 'node:net';
import { createWorkspaces } from '../container/testbed/index.js';
import { startDaemon, expectMemorySettled, rssOf } from './helpers/daemon.js';

const [alpha, beta] = await createWorkspaces(2, { namePrefix: 'gh' });
t.teardown(() => Promise.all([alpha!.close(), beta!.close()]));
const d = await startDaemon(t, [alpha!, beta!]);
const A = alpha!.name;
const B = beta!.name;
const port = Number(new URL(d.base).port);
const AUTH = `Authorization: Bearer ${d.token}\r\n`;

interface Raw { status: number; head: string; body: string; closed: boolean; ms: number }

/** Writes a request as given and reads until the server closes or the reply is complete. */
function raw(request: string | Buffer, o: { waitMs?: number; keepSending?: boolean } = {}): Promise<Raw> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let out = Buffer.alloc(0);
    let pump: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      clearInterval(pump);
      sock.destroy();
      const text = out.toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      const head = i < 0 ? text : text.slice(0, i);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: i < 0 ? '' : Buffer.from(text.slice(i + 4), 'latin1').toString('utf8'), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), o.waitMs ?? 10_000);
    sock.on('data', (c: Buffer) => { out = Buffer.concat([out, c]); });
    sock.on('close', () => finish(true));
    sock.on('error', () => {});
    sock.write(request);
    // A client that keeps sending after the answer: the server must not keep reading
    // (past a short, bounded linger: linger.ts).
    if (o.keepSending) pump = setInterval(() => { if (sock.writable) sock.write(Buffer.alloc(64 * 1024, 'a')); }, 5);
  });
}

const statuses: number[] = [];
async function req(method: string, target: string, extra = '', body = ''): Promise<Raw> {
  const r = await raw(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${AUTH}${extra}${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}Connection: close\r\n\r\n${body}`);
  statuses.push(r.status);
  return r;
}

const rssOfDaemon = () => rssOf(d);
let betaSession = '';
let rssBefore = 0;

t.before(async () => {
  const res = await fetch(`${d.base}/v1/workspaces/${B}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ title: 'beta only' }) });
  betaSession = (await res.json() as { id: string }).id;
  t.equal((await fetch(`${d.base}/v1/workspaces/${A}/opencode/global/health`, { headers: d.headers() })).status, 200);
  rssBefore = rssOfDaemon();
});

t.test('path traversal out of the pass-through: refused, or still inside that workspace\'s opencode', async (t) => {
  const pre = `/v1/workspaces/${A}/opencode`;
  const climbs = [
    `${pre}/../../${B}/opencode/session/${betaSession}`,
    `${pre}/../../../metrics`,
    `${pre}/%2e%2e/%2e%2e/${B}/opencode/session/${betaSession}`,
    `${pre}/%2E%2E%2F%2E%2E%2F${B}%2Fopencode%2Fsession%2F${betaSession}`,
    `${pre}/..%2f..%2f..%2fmetrics`,
    `${pre}/.%2e/.%2e/.%2e/metrics`,
    `${pre}/./session`,
    `${pre}/..\\..\\${B}\\opencode\\session\\${betaSession}`,
    `${pre}/session\\..\\..\\metrics`,
    `${pre}/%5c..%5c..%5cmetrics`,
    `${pre}/global\\health`,
    `${pre}/a%00b`,
    `${pre}/%zz`,
    `/v1/workspaces/${A}%2f..%2f${B}/opencode/session/${betaSession}`,
    `/v1/workspaces/..%2f${B}/sessions`,
  ];
  for (const target of climbs) {
    const r = await req('GET', target);
    t.equal(r.status, 400, `400: ${target}`);
    t.match(JSON.parse(r.body), { error: { code: 'WARREN_ERR_BAD_REQUEST' } });
    t.ok(r.ms < 5000, `quickly (${r.ms} ms)`);
  }
  // Decoded once, these are no dot segments: they go to alpha's opencode as they are,
  // which has no such route; beta's session and warren's own routes stay out of reach.
  for (const target of [`${pre}/%252e%252e/%252e%252e/${B}/opencode/session/${betaSession}`, `${pre}//${B}/opencode/session/${betaSession}`, `${pre}/session/${betaSession}`]) {
    const r = await req('GET', target);
    t.notMatch(r.body, /beta only/, `beta's session is not visible through alpha: ${target}`);
    t.notMatch(r.head, /WARREN_ERR|text\/plain; version=0\.0\.4/, 'nor a warren route');
  }
  // The same session through beta's own prefix: the difference is the workspace, not the lookup.
  const own = await req('GET', `/v1/workspaces/${B}/opencode/session/${betaSession}`);
  t.equal(own.status, 200);
  t.match(own.body, /beta only/);
});

t.test('absolute-form and odd request targets route on the path alone', async (t) => {
  const abs = await req('GET', `http://evil.example/v1/workspaces/${A}/opencode/global/health`);
  t.equal(abs.status, 200, 'the host in the target is ignored: this is alpha\'s own opencode');
  t.match(abs.body, /"healthy":true/);
  const star = await req('OPTIONS', '*');
  t.equal(star.status, 404);
  const none = await req('GET', '/v1/workspaces/%');
  t.equal(none.status, 400, 'undecodable percent-encoding');
});

t.test('wrong methods: 405 with Allow on every route; the pass-through takes only what opencode uses', async (t) => {
  const routes: Array<[string, string]> = [
    ['/v1/workspaces', 'GET'],
    [`/v1/workspaces/${A}/sessions`, 'GET, POST'],
    [`/v1/workspaces/${A}/sessions/${betaSession}/messages`, 'POST'],
    ['/metrics', 'GET'],
  ];
  for (const [path, allow] of routes) {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND']) {
      if (allow.split(', ').includes(method)) continue;
      const r = await req(method, path);
      t.equal(r.status, 405, `${method} ${path}`);
      t.match(r.head, new RegExp(`^allow: ${allow}$`, 'mi'), 'with Allow');
    }
  }
  for (const method of ['TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE']) {
    const r = await req(method, `/v1/workspaces/${A}/opencode/global/health`);
    t.equal(r.status, 405, `${method} on the pass-through`);
    t.match(r.head, /^allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS$/mi);
  }
  const connect = await raw(`CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n${AUTH}\r\n`);
  t.ok(connect.closed && connect.status === 0, 'CONNECT: the connection is closed, nothing tunnelled');
  const unknown = await req('FROB', '/v1/workspaces');
  t.equal(unknown.status, 400, 'a method HTTP does not know');
});

t.test('huge bodies: 413 at once and the connection closed, however much the client keeps sending', async (t) => {
  const huge = (path: string, auth = AUTH) => raw(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"text":"`, { keepSending: true, waitMs: LINGER.TOTAL_MS + 10_000 });
  // At once: each is held for the server's whole linger bound, since it never stops.
  const cases = [
    [`/v1/workspaces/${A}/sessions/${betaSession}/messages`, 413, AUTH],
    [`/v1/workspaces/${A}/sessions`, 413, AUTH],
    [`/v1/workspaces/${A}/opencode/session`, 413, AUTH],
    [`/v1/workspaces/${A}/sessions`, 401, ''],
  ] as const;
  const answers = await Promise.all(cases.map(([path, , auth]) => huge(path, auth)));
  cases.forEach(([path, status, auth], i) => {
    const r = answers[i]!;
    t.equal(r.status, status, `${status}: ${path}${auth ? '' : ' without the token (its body is not read either)'}`);
    t.ok(r.closed, 'the server closed the connection');
    t.ok(r.ms < LINGER.TOTAL_MS + 3000, `in ${r.ms} ms`);
    statuses.push(r.status);
  });
  // Chunked: no length declared, cut off at the limit while reading.
  const chunk = Buffer.alloc(256 * 1024, 'a');
  const chunked = await raw(Buffer.concat([
    Buffer.from(`POST /v1/workspaces/${A}/sessions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${AUTH}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`),
    ...Array.from({ length: 8 }, () => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])),
  ]), { keepSending: false });
  t.equal(chunked.status, 413, 'a chunked body over the limit');
  statuses.push(chunked.status);
});

t.test('malformed JSON and wrong shapes: 400 with a clear message', async (t) => {
  const bodies = ['{', '{"text":', '[]', 'null', '"text"', '42', '{"text":"a"}}', '\u0000', '{"text":"\\ud800"', `${'['.repeat(30_000)}${']'.repeat(30_000)}`, '{"__proto__":{"text":"x"}}'];
  for (const body of bodies) {
    for (const path of [`/v1/workspaces/${A}/sessions`, `/v1/workspaces/${A}/sessions/${betaSession}/messages`]) {
      const r = await req('POST', path, 'Content-Type: application/json\r\n', body);
      t.equal(r.status, 400, `${JSON.stringify(body.slice(0, 20))} to ${path.split('/').pop()}`);
      const e = JSON.parse(r.body) as { error: { code: string; message: string } };
      t.equal(e.error.code, 'WARREN_ERR_BAD_REQUEST');
      t.notMatch(e.error.message, /\n/, e.error.message);
    }
  }
  const bad = Buffer.concat([Buffer.from(`POST /v1/workspaces/${A}/sessions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${AUTH}Content-Length: 4\r\nConnection: close\r\n\r\n`), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]);
  const r = await raw(bad);
  t.equal(r.status, 400, 'bytes that are not UTF-8');
  for (const body of ['{"directory":5}', '{"title":{}}', '{"directory":"/x","extra":1}']) {
    const s = await req('POST', `/v1/workspaces/${A}/sessions`, 'Content-Type: application/json\r\n', body);
    t.equal(s.status, 400, body);
  }
});

t.test('header floods: 431 for too much, and many small headers are fine', async (t) => {
  const big = await req('GET', '/v1/workspaces', `X-Big: ${'a'.repeat(20_000)}\r\n`);
  t.equal(big.status, 431, 'one huge header');
  const many = await req('GET', '/v1/workspaces', Array.from({ length: 3000 }, (_, i) => `X-${i}: 1\r\n`).join(''));
  t.equal(many.status, 431, 'thousands of headers');
  const some = await req('GET', '/v1/workspaces', Array.from({ length: 200 }, (_, i) => `X-${i}: 1\r\n`).join(''));
  t.equal(some.status, 200, 'two hundred small ones are an ordinary request');
  const longUrl = await req('GET', `/v1/workspaces/${A}/opencode/session?x=${'a'.repeat(20_000)}`);
  t.equal(longUrl.status, 431, 'a request line past the header limit');
  const smuggle = await raw(`POST /v1/workspaces/${A}/sessions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${AUTH}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
  t.equal(smuggle.status, 400, 'Content-Length together with chunked (request smuggling)');
  const garbage = await raw('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n');
  t.equal(garbage.status, 400, 'a TLS hello or other garbage');
});

t.test('many junk connections at once leave the daemon serving', async (t) => {
  const junk = await Promise.all(Array.from({ length: 100 }, (_, i) => raw(i % 2 ? `GET /v1/workspaces/${A}/opencode/%2e%2e HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${AUTH}Connection: close\r\n\r\n` : 'NOT HTTP AT ALL\r\n\r\n')));
  t.ok(junk.every((r) => r.status === 400), 'each one a 400');
});

t.test('afterwards: no 5xx anywhere, both workspaces answer, memory did not balloon', async (t) => {
  t.notOk(statuses.some((s) => s >= 500), `no 5xx among ${statuses.length} answers`);
  t.notMatch(d.log(), /gateway request failed/, 'no unexpected error in the daemon log');
  for (const name of [A, B]) {
    const r = await fetch(`${d.base}/v1/workspaces/${name}/opencode/global/health`, { headers: d.headers() });
    t.equal(r.status, 200, `${name} answers`);
  }
  const status = await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json() as { workspaces: Array<{ tunnel: { state: string; reconnects: number } }> };
  t.ok(status.workspaces.every((w) => w.tunnel.state === 'up' && w.tunnel.reconnects === 0), 'no tunnel was disturbed');
  // Bodies were refused without being buffered: 1 GB was offered several times.
  await expectMemorySettled(t, d, rssBefore);
});
