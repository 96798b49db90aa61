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

t.test('a server of ours that has opened its port but does not answer yet is adopted, not refused as busy', async (t) => {
  // Stands in for opencode's first moments: the port is open and requests sent now
  // are never answered; once the test says so it answers (and prints its listening
  // line). Real opencode's window is a few hundred ms, too short to hit on purpose.
  const bin = `${ws.home}/.local/bin`;
  const fake = `${bin}/late-answer.mjs`;
  const cmd = `${bin}/late-opencode`;
  const held = `${ws.home}/late.held`;
  const go = `${ws.home}/late.go`;
  const script = `import http from 'node:http';
import fs from 'node:fs';
const a = process.argv.slice(2);
const port = Number(a[a.indexOf('--port') + 1]);
const expected = 'Basic ' + Buffer.from('opencode:' + (process.env.OPENCODE_SERVER_PASSWORD ?? '')).toString('base64');
let ready = false;
http.createServer((req, res) => {
  if (!ready) return void fs.appendFileSync(${JSON.stringify(held)}, 'held\\n');
  if (req.headers.authorization !== expected) return void res.writeHead(401).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ healthy: true, version: 'late-fake' }));
}).listen(port, '127.0.0.1', () => {
  const timer = setInterval(() => {
    if (!fs.existsSync(${JSON.stringify(go)})) return;
    clearInterval(timer);
    ready = true;
    console.log('opencode server listening on http://127.0.0.1:' + port);
  }, 50);
});
process.on('SIGTERM', () => process.exit(0));
`;
  await ws.runAsUser(['sh', '-c', 'rm -f "$5" "$6"; printf "%s" "$1" > "$2" && printf "#!/bin/sh\\nexec %s %s \\"\\$@\\"\\n" "$3" "$2" > "$4" && chmod +x "$4"', 'x', script, fake, process.execPath, cmd, held, go]);
  const first = runtimeFor(t, ws, { opencode: { command: cmd } });
  await first.link.waitForUp(10_000);
  const starting = first.server.ensureRunning();
  starting.catch(() => {});
  await waitFor('the port to be open', async () => (await ws.runAsUser([process.execPath, '-e',
    'require("net").connect(4096, "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))'])).code === 0, { timeoutMs: 15_000 });
  // Another warren (a daemon restarted while the first one was starting) finds it.
  const second = runtimeFor(t, ws, { opencode: { command: cmd } });
  await second.link.waitForUp(10_000);
  let settled = false;
  const adopting = second.server.ensureRunning().finally(() => { settled = true; });
  adopting.catch(() => {});
  // Two health probes went unanswered: it keeps asking rather than calling the port busy.
  const heldCount = async () => (await ws.runAsUser(['sh', '-c', 'cat "$1" 2>/dev/null || true', 'x', held])).stdout.split('\n').filter(Boolean).length;
  await waitFor('a second unanswered probe, or the adoption to give up', async () => settled || await heldCount() >= 2, { timeoutMs: 30_000 });
  await ws.runAsUser(['touch', go]);
  await adopting;
  t.match(second.server.snapshot(), { adoptions: 1, starts: 0, version: 'late-fake' }, 'adopted once it answered');
  await starting;
  t.equal((await servers()).length, 1, 'one server');
});
