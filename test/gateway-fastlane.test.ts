// The gateway's fast lane (src/gateway/fastlane.ts) through a real `warren daemon`
// and real opencode: keep-alive connections mixing fast-lane and long-way requests,
// pipelining, HEAD, malformed heads refused, a client that leaves mid-response
// releasing its channel, a client that stops reading holding the channel back, and
// the link dropping under a kept connection. A response
// that came the fast lane carries opencode's own head; one that came through Node's
// HTTP server carries Node's `keep-alive: timeout=30`.
import net from 'node:net';
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { startDaemon } from './helpers/daemon.js';
import { get, RawConnection, type RawResponse } from './helpers/raw-http.js';

const ws = await createWorkspace({ name: 'gwfast' });
t.teardown(() => ws.close());
const d = await startDaemon(t, [ws], { env: { WARREN_GATEWAY_FASTLANE: '1' } });
const host = new URL(d.base).host;
const auth = { host, authorization: `Bearer ${d.token}` };
const P = `/v1/workspaces/${ws.name}/opencode`;
const viaNode = (r: RawResponse) => /^keep-alive: timeout=/im.test(r.head);

async function tunnel(): Promise<{ state: string; openChannels: number; bytesIn: number }> {
  const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() });
  return ((await r.json()) as { workspaces: Array<{ tunnel: { state: string; openChannels: number; bytesIn: number } }> }).workspaces[0]!.tunnel;
}

// The first request starts the server: the long way (it waits); the fast lane takes the rest.
const first = await fetch(`${d.base}${P}/global/health`, { headers: d.headers() });
t.equal(first.status, 200, 'the server started');
await first.arrayBuffer();

t.test('keep-alive: many requests on one connection, fast lane then the long way', async (t) => {
  const c = await RawConnection.open(d.base);
  t.teardown(() => c.close());
  for (let i = 0; i < 20; i++) {
    c.send(get(`${P}/global/health`, auth));
    const r = await c.response();
    t.equal(r.status, 200);
    t.match(JSON.parse(r.body.toString()), { healthy: true });
    if (i === 0) t.notOk(viaNode(r), 'came the fast lane');
  }
  c.send(get(`${P}/session`, auth));
  const sessions = await c.response();
  t.equal(sessions.status, 200, 'another pass-through route');
  t.ok(Array.isArray(JSON.parse(sessions.body.toString())));
  // Not a pass-through: Node takes the connection at this request's start, and keeps it.
  c.send(get('/v1/workspaces', auth));
  const status = await c.response();
  t.equal(status.status, 200);
  t.ok(viaNode(status), 'answered by Node\'s HTTP server');
  c.send(get(`${P}/global/health`, auth));
  const after = await c.response();
  t.equal(after.status, 200, 'the pass-through still answers on the handed-over connection');
  t.ok(viaNode(after), 'now the long way: a connection handed over stays there');
});

t.test('errors take the long way and read as they always did', async (t) => {
  const c = await RawConnection.open(d.base);
  t.teardown(() => c.close());
  c.send(get(`${P}/global/health`, { host, authorization: 'Bearer wrong' }));
  const r = await c.response();
  t.equal(r.status, 401);
  t.match(JSON.parse(r.body.toString()), { error: { code: 'WARREN_ERR_UNAUTHORIZED' } });
  const c2 = await RawConnection.open(d.base);
  t.teardown(() => c2.close());
  c2.send(get(`${P}/global/health`, { host: 'evil.example:80', authorization: `Bearer ${d.token}` }));
  t.equal((await c2.response()).status, 403, 'a rebound Host');
  const c3 = await RawConnection.open(d.base);
  t.teardown(() => c3.close());
  c3.send(get(`${P}/%2e%2e/x`, auth));
  t.equal((await c3.response()).status, 400, 'a dot segment');
  const c4 = await RawConnection.open(d.base);
  t.teardown(() => c4.close());
  c4.send(get('/v1/workspaces/nope/opencode/global/health', auth));
  const unknown = await c4.response();
  t.equal(unknown.status, 404);
  t.match(JSON.parse(unknown.body.toString()), { error: { code: 'WARREN_ERR_UNKNOWN_WORKSPACE' } });
});

t.test('pipelined requests are answered in order, fast lane and long way mixed', async (t) => {
  const c = await RawConnection.open(d.base);
  t.teardown(() => c.close());
  c.send(get(`${P}/global/health`, auth) + get(`${P}/global/health`, auth, 'HEAD') + get(`${P}/session`, auth) + get('/v1/workspaces', auth) + get(`${P}/global/health`, auth));
  const a = await c.response();
  t.equal(a.status, 200);
  t.notOk(viaNode(a), 'the first came the fast lane');
  const h = await c.response({ head: true });
  t.equal(h.status, 200, 'HEAD');
  t.equal(h.body.length, 0, 'no body after a HEAD');
  const s = await c.response();
  t.equal(s.status, 200);
  t.ok(Array.isArray(JSON.parse(s.body.toString())), 'the session list, whole');
  const w = await c.response();
  t.equal(w.status, 200);
  t.ok(Array.isArray((JSON.parse(w.body.toString()) as { workspaces: unknown[] }).workspaces), 'then Node answered its own route');
  t.equal((await c.response()).status, 200, 'and the last one');
});

t.test('connection: close is kept', async (t) => {
  const c = await RawConnection.open(d.base);
  t.teardown(() => c.close());
  c.send(get(`${P}/global/health`, { ...auth, connection: 'close' }));
  const r = await c.response();
  t.equal(r.status, 200);
  t.notOk(viaNode(r), 'the fast lane');
  await c.closed();
  t.pass('the gateway closed the connection after the response');
});

t.test('malformed heads: 400 and close, nothing passed on', async (t) => {
  const bad = [
    `GET ${P}/global/health HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${d.token}\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    `GET ${P}/global/health HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${d.token}\r\ncontent-length: 0\r\ncontent-length: 0\r\n\r\n`,
    `GET ${P}/global/health HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${d.token}\r\nx-a: b\r\n c\r\n\r\n`,
    `GET ${P}/global/health HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${d.token}\r\nx-a: b\rc\r\n\r\n`,
  ];
  for (const text of bad) {
    const c = await RawConnection.open(d.base);
    c.send(text);
    const r = await c.response();
    t.equal(r.status, 400, JSON.stringify(text.split('\r\n').slice(2, 5)));
    await c.closed();
    c.close();
  }
  // A fast-lane request first, then a smuggling attempt on the same connection.
  const c = await RawConnection.open(d.base);
  t.teardown(() => c.close());
  c.send(get(`${P}/global/health`, auth));
  t.equal((await c.response()).status, 200);
  c.send(`GET ${P}/global/health HTTP/1.1\r\nhost: ${host}\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n`);
  t.equal((await c.response()).status, 400);
  await c.closed();
});

t.test('a client that leaves mid-response releases the upstream channel', async (t) => {
  const before = (await tunnel()).openChannels;
  const conns: RawConnection[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await RawConnection.open(d.base);
    conns.push(c);
    // The provider list: large (models and their prices), so it is still coming when the client leaves.
    c.send(get(`${P}/config/providers`, auth));
    await waitFor('the response to start', () => c.sock.bytesRead > 0 || c.ended, { timeoutMs: 30_000, intervalMs: 5 });
  }
  t.ok((await tunnel()).openChannels >= before + 5, 'one upstream channel per client connection');
  for (const c of conns) c.close();
  await waitFor('every channel of those connections to be closed', async () => (await tunnel()).openChannels <= before, { timeoutMs: 10_000 });
  t.pass(`open channels back to ${before} or fewer`);
});

t.test('a client that stops reading a 64 MiB response holds back the channel, then gets every byte', async (t) => {
  const size = 64 * 1024 * 1024;
  const mk = await ws.runAsUser(['sh', '-c', 'head -c "$1" /dev/zero | tr "\\0" a > "$HOME/big.txt"', 'mk', String(size)]);
  t.equal(mk.code, 0, mk.stderr);
  const before = (await tunnel()).bytesIn;
  const u = new URL(d.base);
  // No 'data' listener: the socket reads nothing until one is added.
  const sock = net.connect({ host: u.hostname, port: Number(u.port) });
  t.teardown(() => { sock.destroy(); });
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.write(get(`${P}/file/content?path=big.txt`, auth));
  // What came through the tunnel while the client read nothing: it must level off.
  let last = -1;
  let same = 0;
  await waitFor('the bytes through the tunnel to level off', async () => {
    const now = (await tunnel()).bytesIn - before;
    same = now === last && now > 0 ? same + 1 : 0;
    last = now;
    return same >= 4;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  t.ok(last < size / 2, `held back at ${(last / 2 ** 20).toFixed(1)} MiB of a ${size / 2 ** 20} MiB answer while the client read nothing`);
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  await waitFor('the whole response', () => {
    const all = Buffer.concat(chunks);
    const h = all.indexOf('\r\n\r\n');
    const m = /content-length: (\d+)/i.exec(all.toString('latin1', 0, Math.max(0, h)));
    return h > 0 && m !== null && all.length - h - 4 >= Number(m[1]);
  }, { timeoutMs: 60_000, intervalMs: 100 });
  const all = Buffer.concat(chunks);
  const h = all.indexOf('\r\n\r\n');
  const head = all.toString('latin1', 0, h);
  t.match(head, /^HTTP\/1\.1 200 /, 'a 200');
  t.notOk(/^keep-alive: timeout=/im.test(head), 'the fast lane');
  const body = JSON.parse(all.toString('utf8', h + 4)) as { content: string };
  t.equal(body.content.length, size, 'every byte of the file');
  t.ok(/^a+$/.test(body.content), 'and nothing else');
  sock.destroy();
  await ws.runAsUser(['rm', '-f', `${ws.home}/big.txt`]);
});

t.test('the link drops under a kept connection: the same 503 as the long way, then it heals', async (t) => {
  const c = await RawConnection.open(d.base);
  t.teardown(() => c.close());
  c.send(get(`${P}/global/health`, auth));
  t.equal((await c.response()).status, 200);
  await ws.killSshd();
  await waitFor('the tunnel to be down', async () => (await tunnel()).state !== 'up', { timeoutMs: 10_000 });
  c.send(get(`${P}/global/health`, auth));
  const r = await c.response();
  t.equal(r.status, 503);
  t.match(JSON.parse(r.body.toString()), { error: { code: 'WARREN_ERR_LINK_DOWN' } });
  t.equal(r.headers['retry-after'], '1');
  await ws.startSshd();
  await waitFor('the tunnel to be up again', async () => (await tunnel()).state === 'up', { timeoutMs: 30_000 });
  const again = await fetch(`${d.base}${P}/global/health`, { headers: d.headers() });
  t.equal(again.status, 200, 'answers again');
  await again.arrayBuffer();
});
