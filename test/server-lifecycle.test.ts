// opencode serve's lifecycle in a real workspace: cold start, one server for many
// first messages, idle stop and restart, a killed server, adoption after a restart
// of warren, a port held by something else, and the password kept out of sight.
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { capturingLogger, historyOf, runtimeFor } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'lifecycle' });
t.teardown(() => ws.close());

async function serverPids(): Promise<string[]> {
  // Per user: the test bed's workspaces share one PID namespace.
  const r = await ws.runAsUser(['pgrep', '-u', ws.user, '-f', 'opencode serve']);
  return r.stdout.split('\n').filter(Boolean);
}

t.test('cold start: states, version, and the password nowhere in argv or logs', async (t) => {
  const { logger, lines } = capturingLogger();
  const rt = runtimeFor(t, ws, {}, logger);
  const states: string[] = [];
  rt.server.on('state', (s: { to: string }) => states.push(s.to));
  await rt.link.waitForUp(10_000);
  t.equal(rt.server.state, 'stopped');
  const session = await rt.createSession({ title: 'cold' });
  t.same(states, ['starting', 'running']);
  const snap = rt.server.snapshot();
  t.match(snap, { state: 'running', version: '1.18.33', startedHere: true, starts: 1, port: 4096 });
  const result = await rt.chat(session.id, { text: 'cold hello' });
  t.equal(result.text, 'echo: cold hello');
  const auth = rt.server.authorization();
  const password = Buffer.from(auth.slice(6), 'base64').toString().split(':')[1]!;
  t.ok(password.length >= 24, 'a long random password');
  const ps = await ws.runInside(['ps', '-eo', 'args']);
  t.notMatch(ps.stdout, password, 'not in any command line in the workspace');
  t.notMatch(lines.join(''), password, 'not in the logs');
  const env = await ws.runAsUser(['sh', '-c', 'for p in $(pgrep -u "$(id -u)"); do [ "$p" = "$1" ] || tr "\\0" "\\n" < /proc/$p/environ 2>/dev/null; done', 'x', String(snap.pid)]);
  t.notMatch(env.stdout, password, "not in the environment of the workspace's other processes");
});

t.test('10 concurrent first messages start exactly one server', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const results = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    const s = await rt.createSession({ title: `first ${i}` });
    return rt.chat(s.id, { text: `first message ${i}` });
  }));
  t.same(results.map((r) => r.text), Array.from({ length: 10 }, (_, i) => `echo: first message ${i}`));
  t.equal(rt.server.snapshot().starts, 1, 'one start');
  t.equal((await serverPids()).length, 1, 'one opencode serve process');
});

t.test('idle stop, and the next message starts it again', async (t) => {
  const rt = runtimeFor(t, ws, { opencode: { idleTimeoutMs: 1500 } });
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  await rt.chat(s.id, { text: 'before idle' });
  await waitFor('the idle stop', () => rt.server.state === 'stopped', { timeoutMs: 15_000 });
  await waitFor('no server process', async () => (await serverPids()).length === 0, { timeoutMs: 10_000 });
  t.pass('stopped after 1.5 s without use, process gone');
  const again = await rt.chat(s.id, { text: 'after idle' });
  t.equal(again.text, 'echo: after idle');
  t.match(rt.server.snapshot(), { state: 'running', starts: 2, restarts: 1 });
});

t.test('opencode killed mid-stream: a clear error, and the next message works', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  let first = '';
  const pending = rt.chat(s.id, {
    text: `[[fake:slow=150]] ${'a long answer that streams slowly '.repeat(4)}`,
    onDelta: (d) => { first += d; },
  });
  pending.catch(() => {});
  await waitFor('the reply to start streaming', () => first.length > 0, { timeoutMs: 30_000 });
  const started = Date.now();
  await ws.runAsUser(['pkill', '-KILL', '-f', 'opencode serve']);
  await t.rejects(pending, { code: 'WARREN_ERR_SERVER_GONE', message: /stopped \(it exited or was killed\); it starts again on the next message/ });
  t.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms, no hang`);
  const next = await rt.chat(s.id, { text: 'after the crash' });
  t.equal(next.text, 'echo: after the crash');
  t.equal(rt.server.snapshot().restarts, 1, 'restarted');
  t.equal((await serverPids()).length, 1, 'one server, the new one');
  const history = await historyOf(ws, s.id);
  t.equal(history.filter((m) => m.role === 'user' && m.text.includes('a long answer that streams slowly')).length, 1, 'the interrupted message is in the history once');
  t.equal(history.filter((m) => m.text === 'after the crash').length, 1, 'the next one too');
  t.equal(history.filter((m) => m.text === 'echo: after the crash').length, 1, 'and its reply once');
});

t.test('opencode killed while idle: the restart does not trip over connections to the dead server', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  t.equal((await rt.chat(s.id, { text: 'before the kill' })).text, 'echo: before the kill');
  await ws.runAsUser(['pkill', '-KILL', '-u', ws.user, '-f', 'opencode serve']);
  await waitFor('nothing listening on the port', async () => (await ws.runInside(['ss', '-ltnH', 'sport = :4096'])).stdout.trim() === '', { timeoutMs: 10_000 });
  // As a request that found nothing listening would; the channels pooled before stay.
  rt.server.markGone('killed by the test');
  const next = await rt.chat(s.id, { text: 'after the kill' });
  t.equal(next.text, 'echo: after the kill', 'the first message after it starts a new server and gets its reply');
  t.equal(rt.server.snapshot().restarts, 1);
});

t.test('a server warren started before is adopted, not started twice', async (t) => {
  const first = runtimeFor(t, ws);
  await first.link.waitForUp(10_000);
  await first.server.ensureRunning();
  const pid = first.server.snapshot().pid;
  await first.close({ stopServer: false }); // warren exits; the server stays
  const second = runtimeFor(t, ws);
  await second.link.waitForUp(10_000);
  const s = await second.createSession();
  const r = await second.chat(s.id, { text: 'adopted' });
  t.equal(r.text, 'echo: adopted');
  t.match(second.server.snapshot(), { adoptions: 1, starts: 0, pid, startedHere: false, version: '1.18.33' });
  t.equal((await serverPids()).length, 1, 'still one server');
  await second.server.stop();
  await waitFor('no server process', async () => (await serverPids()).length === 0, { timeoutMs: 10_000 });
});

t.test('a port held by something else is a clear error', async (t) => {
  const squatter = await ws.startTarget(4096);
  t.teardown(() => squatter.stop());
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  await t.rejects(rt.server.ensureRunning(), { code: 'WARREN_ERR_PORT_BUSY', message: /port 4096 in workspace lifecycle is held by something warren did not start/ });
  t.match(rt.server.snapshot(), { state: 'failed', lastFailure: { message: /port 4096/ } });
});
