// What ends a run, and what must not, on a real sshd and opencode: opencode frozen
// with the link up (the no-event watchdog, at its default 30 s), a drop that outlasts
// the reconnect wait, two messages at once on one session, and an idle stop racing
// the messages that keep a server alive. Faults that heal are in faults-steps.test.ts.
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { callServer } from '../src/opencode/api.js';
import { expectNothingLeft, historyOf, runtimeFor } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'runends' });
t.teardown(() => ws.close());

t.test('opencode frozen with the link up: the no-event watchdog ends the run at its default 30 s, with a clear error', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const pids = async () => (await ws.runAsUser(['pgrep', '-u', ws.user, '-f', 'opencode serve'])).stdout.trim().split('\n').filter(Boolean);
  const deltas: string[] = [];
  const started = Date.now();
  const pending = rt.chat(s.id, { text: `[[fake:slow=200]] ${'on and on '.repeat(30)}`, onDelta: (d) => deltas.push(d), progressTimeoutMs: 120_000 });
  pending.catch(() => {});
  await waitFor('the reply to stream', () => deltas.length >= 2, { timeoutMs: 30_000 });
  const frozen = await pids();
  t.teardown(() => ws.runInside(['kill', '-CONT', ...frozen]));
  await ws.runInside(['kill', '-STOP', ...frozen]);
  const frozenAt = Date.now();
  await t.rejects(pending, { code: 'WARREN_ERR_CHAT_STALLED', message: /no event from opencode for 30 s/ });
  const after = Date.now() - frozenAt;
  t.ok(after >= 29_000 && after < 45_000, `ended ${after} ms after opencode froze (${Date.now() - started} ms in all)`);
  t.equal(rt.link.state, 'up', 'the link stayed up: this was opencode, not the tunnel');
  await ws.runInside(['kill', '-CONT', ...frozen]);
  const next = await rt.chat(s.id, { text: 'awake again?', deadlineMs: 60_000 });
  t.equal(next.text, 'echo: awake again?', 'the next message works once opencode runs again');
});

t.test('two messages on one session at once: the second is refused at once with SESSION_BUSY, the first completes', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const first = rt.chat(s.id, { text: '[[fake:slow=100]] first of two' });
  const before = Date.now();
  await t.rejects(rt.chat(s.id, { text: 'second of two' }), { code: 'WARREN_ERR_SESSION_BUSY', message: /still answering a message/ });
  t.ok(Date.now() - before < 1000, 'refused at once');
  t.equal((await first).text, 'echo: [[fake:slow=100]] first of two');
  t.equal((await rt.chat(s.id, { text: 'second, now' })).text, 'echo: second, now', 'once the first is done, the next goes through');
  const history = await historyOf(ws, s.id);
  t.equal(history.filter((m) => m.text === 'second of two').length, 0, 'the refused one never reached opencode');
});

t.test('an idle stop never cuts a reply, and a message racing the idle stop gets its reply', async (t) => {
  const idleTimeoutMs = 1500;
  const rt = runtimeFor(t, ws, { opencode: { port: 4096, command: 'opencode', idleTimeoutMs, startTimeoutMs: 60_000 } });
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const prompt = `[[fake:slow=200]] ${'long '.repeat(20)}end`;
  const long = await rt.chat(s.id, { text: prompt });
  t.equal(long.text, `echo: ${prompt}`, 'a reply longer than the idle timeout completes');
  // Messages sent around the moment the idle timer fires: each must get its reply.
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, idleTimeoutMs - 150 + i * 60));
    const r = await rt.chat(s.id, { text: `race ${i}`, deadlineMs: 90_000 });
    t.equal(r.text, `echo: race ${i}`, `message ${i}, ${idleTimeoutMs - 150 + i * 60} ms after the last`);
  }
  await waitFor('the idle stop', () => rt.server.state === 'stopped', { timeoutMs: 15_000 });
  t.pass('the server stopped when idle');
});

t.test('a drop that outlasts the reconnect wait: WAIT_UP_TIMEOUT once the wait is over, never a hang', async (t) => {
  const rt = runtimeFor(t, ws);
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const deltas: string[] = [];
  const pending = rt.chat(s.id, { text: `[[fake:slow=150]] ${'outlasted '.repeat(20)}end`, onDelta: (d) => deltas.push(d), reconnectWaitMs: 3000 });
  pending.catch(() => {});
  await waitFor('the reply to stream', () => deltas.length >= 2, { timeoutMs: 30_000 });
  let restarted = false;
  t.teardown(async () => { if (!restarted) await ws.startSshd(); });
  await ws.killSshd();
  const killedAt = Date.now();
  await t.rejects(pending, { code: 'WARREN_ERR_WAIT_UP_TIMEOUT', message: /did not come up within 3000 ms/ });
  const after = Date.now() - killedAt;
  t.ok(after < 10_000, `the caller had its error ${after} ms after the drop (wait 3 s)`);
  await ws.startSshd();
  restarted = true;
  await rt.link.waitForUp(30_000);
  await waitFor('opencode to finish the run nobody waits for', async () => {
    const r = await callServer<Record<string, { type: string }>>(rt.server, ws.name, '/session/status', { directory: s.directory });
    return (r.body[s.id]?.type ?? 'idle') === 'idle';
  }, { timeoutMs: 30_000 });
  t.equal((await rt.chat(s.id, { text: 'after the long drop' })).text, 'echo: after the long drop', 'the next message works');
});

t.test('afterwards nothing is left running, and closing leaves nothing', (t) => expectNothingLeft(t, ws, 20_000));
