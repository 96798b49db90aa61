// The link drops while opencode is starting: warren never hears "ready", but the
// server it spawned (in its own session, to outlive link drops) starts anyway.
// Found by the soak (bench/chaos.ts): close({ stopServer: true }) left that server
// running, because warren only stopped servers it knew to be running.
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { runtimeFor } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'startcut' });
t.teardown(() => ws.close());

const servers = async () => (await ws.runAsUser(['pgrep', '-u', ws.user, '-f', 'serve --port 4096'])).stdout.split('\n').filter(Boolean);

// Its own log line, not an open port: opencode 1.18 opens the port a few hundred ms
// before it is ready, and a request in that window is never answered.
const orphanReady = () => waitFor('the orphaned server to be ready', async () =>
  (await ws.runAsUser(['grep', '-q', 'listening on', `${ws.home}/.local/state/warren/opencode-4096.log`])).code === 0, { timeoutMs: 30_000 });

t.test('a start cut off by a link drop leaves no server behind after close', async (t) => {
  // opencode that takes a few seconds to listen, so the drop lands mid-start.
  const slow = `${ws.home}/.local/bin/slow-opencode`;
  await ws.runAsUser(['sh', '-c', 'printf "#!/bin/sh\\nsleep 3\\nexec opencode \\"\\$@\\"\\n" > "$1" && chmod +x "$1"', 'x', slow]);
  const rt = runtimeFor(t, ws, { opencode: { command: slow } });
  await rt.link.waitForUp(10_000);
  const starting = rt.server.ensureRunning();
  starting.catch(() => {});
  // The script has spawned the server and written its pid file: the point of no return.
  await waitFor('the server process and its pid file', async () => (await servers()).length > 0
    && (await ws.runAsUser(['test', '-s', `${ws.home}/.local/state/warren/opencode-4096.pid`])).code === 0, { timeoutMs: 15_000 });
  await ws.killSshd();
  t.teardown(async () => { await ws.startSshd().catch(() => {}); });
  await t.rejects(starting, 'warren was not told the start succeeded');
  t.equal(rt.server.state, 'failed');
  await ws.startSshd();
  await rt.link.waitForUp(20_000);
  await orphanReady();
  await rt.close({ stopServer: true });
  const left = await waitFor('no server left', async () => (await servers()).length === 0, { timeoutMs: 15_000 }).then(() => [], () => servers());
  t.same(left, [], 'close stopped the server whose start it never heard back from');
});

t.test('a new start replaces a cut-off one still coming up, instead of leaving it holding the port', async (t) => {
  // Slow enough that the link is back before the first server listens.
  const slower = `${ws.home}/.local/bin/slower-opencode`;
  await ws.runAsUser(['sh', '-c', 'printf "#!/bin/sh\\nsleep 5\\nexec opencode \\"\\$@\\"\\n" > "$1" && chmod +x "$1"', 'x', slower]);
  const rt = runtimeFor(t, ws, { opencode: { command: slower } });
  await rt.link.waitForUp(10_000);
  const starting = rt.server.ensureRunning();
  starting.catch(() => {});
  await waitFor('the server process and its pid file', async () => (await servers()).length > 0
    && (await ws.runAsUser(['test', '-s', `${ws.home}/.local/state/warren/opencode-4096.pid`])).code === 0, { timeoutMs: 15_000 });
  const first = await servers();
  await ws.killSshd();
  t.teardown(async () => { await ws.startSshd().catch(() => {}); });
  await t.rejects(starting);
  await ws.startSshd();
  await rt.link.waitForUp(20_000);
  // Without the replacement, the first server keeps the port with a password warren
  // no longer has: this start fails, and every later one is WARREN_ERR_PORT_BUSY.
  const s = await rt.createSession();
  t.equal((await rt.chat(s.id, { text: 'after the second start' }, s)).text, 'echo: after the second start');
  const now = await servers();
  t.equal(now.length, 1, 'one server');
  t.not(now[0], first[0], 'the first one was replaced');
});
