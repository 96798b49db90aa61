// Transport faults on a real sshd: every sshd killed and restarted, and the whole
// workspace frozen. In-flight work fails at once with a clear error, new work fails
// fast while down, and the link comes back by itself.
import t from 'tap';
import { request } from 'undici';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { createLinkDispatcher } from '../src/ssh/dispatcher.js';
import { linkTo, nextState } from './helpers/link.js';

const ws = await createWorkspace({ name: 'faulty' });
t.teardown(() => ws.close());
const hangingChat = () => JSON.stringify({ model: 'fake-model', stream: true, messages: [{ role: 'user', content: '[[fake:hang]] hello' }] });

t.test('all sshd processes killed, then restarted: the link comes back and work succeeds again', async (t) => {
  const link = linkTo(t, ws, { backoff: { baseMs: 100, capMs: 1000 } });
  link.start();
  await link.waitForUp(10_000);
  const inflight = link.exec(['sleep', '30'], { timeoutMs: 60_000 });
  inflight.catch(() => {}); // asserted below; must not count as unhandled meanwhile
  await waitFor('the exec to be in flight', () => link.snapshot().openChannels === 1, { timeoutMs: 5000 });
  const down = nextState(link, 'down', 10_000);
  t.teardown(async () => { await ws.startSshd().catch(() => {}); });
  await ws.killSshd();
  const d = await down;
  t.equal(d.error?.code, 'WARREN_ERR_LINK_LOST', 'the drop is reported as a lost link');
  await t.rejects(inflight, { code: 'WARREN_ERR_LINK_LOST' }, 'in-flight exec fails');
  const started = Date.now();
  await t.rejects(link.exec(['true']), { code: 'WARREN_ERR_LINK_DOWN' }, 'new work fails fast');
  t.ok(Date.now() - started < 1000, `at once, not after a reconnect (${Date.now() - started} ms)`);
  await waitFor('an attempt against the dead sshd to fail', () => link.snapshot().failedAttempts >= 1, { timeoutMs: 10_000 });
  t.equal(link.lastError?.code, 'WARREN_ERR_CONNECT');
  t.match(link.lastError?.message, /connection refused/);
  const restartedAt = Date.now();
  await ws.startSshd();
  await link.waitForUp(10_000);
  t.ok(Date.now() - restartedAt < 5000, `up again by itself, ${Date.now() - restartedAt} ms after sshd returned`);
  const r = await link.exec(['echo', 'back']);
  t.equal(r.stdout, 'back\n');
  t.equal(link.snapshot().reconnects, 1);
});

t.test('workspace frozen (SIGSTOP): noticed within the keepalive window, work fails fast, recovers on SIGCONT', async (t) => {
  const link = linkTo(t, ws, { backoff: { baseMs: 100, capMs: 1000 }, readyTimeoutMs: 3000 });
  link.start();
  await link.waitForUp(10_000);
  await waitFor('a keepalive round trip', () => link.snapshot().keepaliveRttMs !== null, { timeoutMs: 5000 });
  const dispatcher = createLinkDispatcher(link, { bodyTimeoutMs: 60_000, headersTimeoutMs: 60_000 });
  t.teardown(() => dispatcher.destroy());
  const modelUrl = `http://127.0.0.1:${ws.modelPort}/v1/chat/completions`;
  const inflightHttp = request(modelUrl, { method: 'POST', body: hangingChat(), headers: { 'content-type': 'application/json' }, dispatcher });
  const inflightExec = link.exec(['sleep', '30'], { timeoutMs: 60_000 });
  inflightHttp.catch(() => {});
  inflightExec.catch(() => {});
  await waitFor('both to be in flight', () => link.snapshot().openChannels >= 2, { timeoutMs: 5000 });
  const down = nextState(link, 'down', 10_000);
  const frozenAt = Date.now();
  await ws.freeze();
  t.teardown(() => ws.thaw());
  const d = await down;
  const detectMs = d.at - frozenAt;
  // The window is interval + timeout (2.8 s); the rest is timer slack on a busy machine.
  t.ok(detectMs <= 3300, `frozen peer noticed after ${detectMs} ms (default keepalive window: 2.8 s)`);
  t.match(d.error?.message, /no keepalive reply/);
  await t.rejects(inflightExec, { code: 'WARREN_ERR_LINK_LOST' }, 'in-flight exec fails');
  await t.rejects(inflightHttp, { code: 'WARREN_ERR_LINK_LOST' }, 'in-flight HTTP request fails');
  t.ok(Date.now() - d.at < 1500, `both failed when the link went down (${Date.now() - d.at} ms later)`);
  const started = Date.now();
  await t.rejects(request(`http://127.0.0.1:${ws.modelPort}/v1/models`, { dispatcher }), { code: 'WARREN_ERR_LINK_DOWN' }, 'a new HTTP request fails fast');
  await t.rejects(link.exec(['true']), { code: 'WARREN_ERR_LINK_DOWN' }, 'a new exec fails fast');
  t.ok(Date.now() - started < 1000, `at once (${Date.now() - started} ms)`);
  await ws.thaw();
  await link.waitForUp(15_000);
  const r = await request(`http://127.0.0.1:${ws.modelPort}/v1/models`, { dispatcher });
  t.match(await r.body.text(), /fake-model/, 'HTTP works again');
  t.equal(link.snapshot().reconnects, 1);
});
