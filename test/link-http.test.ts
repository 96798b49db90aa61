// HTTP over the link with undici: many requests on one SSH connection, keep-alive
// reuse, long event streams, undici's own timeout errors, the SDK, and the
// optional local listener.
import t from 'tap';
import { request, type Dispatcher } from 'undici';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { createLinkDispatcher } from '../src/ssh/dispatcher.js';
import { opencodeClientOverLink } from '../src/opencode/client.js';
import { startLocalForward } from '../src/ssh/local-forward.js';
import { linkTo } from './helpers/link.js';

const ws = await createWorkspace({ name: 'http' });
t.teardown(() => ws.close());
const target = await ws.startTarget();
const base = `http://127.0.0.1:${target.port}`;

function dispatcherFor(t: { teardown(fn: () => unknown): void }, d: Dispatcher): Dispatcher {
  t.teardown(() => d.destroy());
  return d;
}

t.test('over one link', async (t) => {
  const link = linkTo(t, ws);
  link.start();
  await link.waitForUp(10_000);

  t.test('500 concurrent requests all succeed', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link));
    const bodies = await Promise.all(Array.from({ length: 500 }, async () => {
      const r = await request(`${base}/small`, { dispatcher });
      return r.body.text();
    }));
    t.equal(bodies.filter((b) => b === 'ok').length, 500);
    t.equal(link.state, 'up');
  });

  t.test('sequential requests reuse one kept-alive channel', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link));
    // undici opens a second connection for the second request, over plain TCP too
    // (measured): warm up past that, then count.
    for (let i = 0; i < 2; i++) await (await request(`${base}/small`, { dispatcher })).body.text();
    const before = link.snapshot().channelsOpened;
    for (let i = 0; i < 20; i++) await (await request(`${base}/small`, { dispatcher })).body.text();
    t.equal(link.snapshot().channelsOpened - before, 0, 'twenty more requests opened no new channel');
  });

  t.test('bodies both ways arrive intact', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link));
    const big = await request(`${base}/bytes?n=${8 * 1024 * 1024}`, { dispatcher });
    t.equal((await big.body.arrayBuffer()).byteLength, 8 * 1024 * 1024, '8 MiB down');
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    const echo = await request(`${base}/echo`, { method: 'POST', body: payload, dispatcher });
    t.ok(Buffer.from(await echo.body.arrayBuffer()).equals(payload), '3 MiB up and back');
  });

  t.test('an event stream longer than the body timeout is not cut while events flow', async (t) => {
    // Several minutes of opencode's 10 s heartbeats, compressed: 400 events over ~6 s,
    // with the body timeout at 1 s; only a gap longer than it may end the stream.
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link, { bodyTimeoutMs: 1000 }));
    const r = await request(`${base}/sse?count=400&intervalMs=15`, { dispatcher });
    t.match(r.headers['content-type'], /text\/event-stream/);
    const text = await r.body.text();
    const seqs = [...text.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
    t.same(seqs, Array.from({ length: 400 }, (_, i) => i + 1), 'every event, in order');
    t.match(text, /event: end/, 'to the end');
  });

  t.test('a silence longer than the body timeout is undici\'s own BodyTimeoutError', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link, { bodyTimeoutMs: 500 }));
    const r = await request(`${base}/sse?count=5&intervalMs=10&gapAtMs=20&gapMs=3000`, { dispatcher });
    await t.rejects(r.body.text(), { code: 'UND_ERR_BODY_TIMEOUT' });
  });

  t.test('no response headers in time is undici\'s own HeadersTimeoutError', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link, { headersTimeoutMs: 500 }));
    const started = Date.now();
    await t.rejects(request(`${base}/hang`, { dispatcher }), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    t.ok(Date.now() - started < 2000);
    await waitFor('the timed-out channel to close', () => link.snapshot().openChannels === 0, { timeoutMs: 5000 });
    t.pass('its channel was closed');
  });

  t.test('a request to a port nothing listens on fails with warren\'s code; the link stays up', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link));
    await t.rejects(request('http://127.0.0.1:1/', { dispatcher }), { code: 'WARREN_ERR_CHANNEL_REFUSED' });
    t.equal(link.state, 'up');
  });

  t.test('the fixed target option sends every origin to one place', async (t) => {
    const dispatcher = dispatcherFor(t, createLinkDispatcher(link, { target: { host: '127.0.0.1', port: target.port } }));
    const r = await request('http://opencode.invalid/small', { dispatcher });
    t.equal(await r.body.text(), 'ok');
  });

  t.test('the local listener, ssh -L style, on 127.0.0.1', async (t) => {
    const fwd = await startLocalForward(link, { host: '127.0.0.1', port: target.port });
    t.teardown(() => fwd.close());
    t.equal(fwd.host, '127.0.0.1');
    const r = await fetch(`http://127.0.0.1:${fwd.port}/small`);
    t.equal(await r.text(), 'ok');
    await fwd.close();
    await t.rejects(fetch(`http://127.0.0.1:${fwd.port}/small`), 'closed with close()');
  });
});

t.test('the @opencode-ai/sdk v2 client over the link, against real opencode', async (t) => {
  const serve = ws.spawnAsUser(['opencode', 'serve', '--port', '4096', '--hostname', '127.0.0.1']);
  t.teardown(() => { serve.kill('SIGKILL'); });
  let out = '';
  serve.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor('opencode serve to listen', () => out.includes('listening on http://127.0.0.1:4096'), { timeoutMs: 30_000 });
  const link = linkTo(t, ws);
  link.start();
  await link.waitForUp(10_000);
  const { client, dispatcher } = opencodeClientOverLink(link, { directory: `${ws.home}/projects` });
  t.teardown(() => dispatcher.destroy());
  const health = await client.global.health();
  t.match(health.data, { healthy: true }, 'health answered through the tunnel');
  const created = await client.session.create({ title: 'over the link' });
  t.ok(created.data?.id, `session ${created.data?.id} created`);
  const got = await client.session.get({ sessionID: created.data!.id });
  t.equal(got.data?.title, 'over the link');
});
