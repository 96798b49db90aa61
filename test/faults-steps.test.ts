// A link fault at each step of a message, on a real sshd and opencode: during the
// session lookup, the create, the subscription, just before the prompt is sent,
// while the prompt is in flight, and during the final history read. Each fault
// heals within the reconnect wait, so the caller must get the complete reply, with
// deltas adding up to it, and the history must hold the message once. Also here:
// the no-event watchdog, two messages at once on one session, and an idle stop
// racing the messages that keep a server alive.
import t, { type Test } from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';
import { callServer } from '../src/opencode/api.js';
import type { StepHook } from '../src/opencode/chat.js';
import { historyOf, runtimeFor, workspaceConfig, expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'stepfaults' });
t.teardown(() => ws.close());

type Step = Parameters<StepHook>[0];

/** A runtime whose first pass through `step` runs `fault` there. */
function runtimeWithFault(t: Test, step: Step, fault: (rt: WorkspaceRuntime) => Promise<void>, o: Parameters<typeof workspaceConfig>[1] = {}) {
  let armed = false;
  let fired = 0;
  const rt: WorkspaceRuntime = new WorkspaceRuntime(workspaceConfig(ws, o), {
    onStep: async (s) => {
      if (!armed || s !== step) return;
      armed = false;
      fired++;
      await fault(rt);
    },
  });
  t.teardown(() => rt.close({ stopServer: true }));
  rt.start();
  return { rt, arm: () => { armed = true; }, fired: () => fired };
}

/** sshd killed; the link is down before the step goes on; sshd back a moment later. */
async function killSshd(rt: WorkspaceRuntime): Promise<void> {
  await ws.killSshd();
  await waitFor('the link to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
  setTimeout(() => { void ws.startSshd(); }, 800);
}

/** The workspace frozen and the step let go on into it; thawed after the keepalive noticed. */
async function freezeAround(rt: WorkspaceRuntime): Promise<void> {
  await ws.freeze();
  void (async () => {
    await waitFor('the keepalive to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 }).catch(() => {});
    await ws.thaw();
  })();
}

async function expectWhole(t: Test, rt: WorkspaceRuntime, id: string, prompt: string, started: number) {
  const deltas: string[] = [];
  const r = await rt.chat(id, { text: prompt, onDelta: (d) => deltas.push(d), deadlineMs: 90_000 });
  t.equal(r.text, `echo: ${prompt}`, 'the complete reply');
  t.equal(deltas.join(''), r.text, 'the deltas add up to it');
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
  t.equal(history.filter((m) => m.role === 'assistant' && m.text === r.text).length, 1, 'its reply once');
  t.ok(rt.link.snapshot().reconnects >= 1, `the link went through a reconnect (${Date.now() - started} ms in all)`);
}

t.test('the link drops during the session lookup: the message waits for it and completes', async (t) => {
  const made = runtimeFor(t, ws);
  await made.link.waitForUp(10_000);
  const s = await made.createSession();
  const { rt, arm, fired } = runtimeWithFault(t, 'locate', killSshd);
  await rt.link.waitForUp(10_000);
  arm();
  await expectWhole(t, rt, s.id, 'found across a drop', Date.now());
  t.equal(fired(), 1, 'the fault was injected');
});

t.test('the link drops during the create: one session is made, not two', async (t) => {
  const { rt, arm, fired } = runtimeWithFault(t, 'create', killSshd);
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();
  const title = `made across a drop ${Date.now()}`;
  arm();
  const s = await rt.createSession({ title });
  t.equal(fired(), 1, 'the fault was injected');
  const all = await rt.sessions();
  t.equal(all.filter((x) => x.title === title).length, 1, 'one session with that title');
  t.equal(all.find((x) => x.title === title)?.id, s.id, 'and it is the one returned');
});

const midMessage: Array<{ step: Step; fault: (rt: WorkspaceRuntime) => Promise<void>; title: string; prompt: string }> = [
  { step: 'prompt', fault: killSshd, title: 'the link drops just before the prompt is sent: it is sent once, and the reply completes', prompt: '[[fake:slow=50]] sent after a drop' },
  { step: 'prompt', fault: freezeAround, title: 'the workspace freezes while the prompt is in flight: whether it landed is checked, never sent twice', prompt: '[[fake:slow=50]] in flight during a freeze' },
  { step: 'subscribe', fault: killSshd, title: 'the link drops as the event stream is opened: the message still completes', prompt: 'subscribed across a drop' },
  { step: 'reply', fault: killSshd, title: 'the link drops before the final history read: the reply that finished is not reported as failed', prompt: 'read back across a drop' },
];

for (const c of midMessage) {
  t.test(c.title, async (t) => {
    const { rt, arm, fired } = runtimeWithFault(t, c.step, c.fault);
    t.teardown(() => ws.thaw());
    await rt.link.waitForUp(10_000);
    const s = await rt.createSession();
    arm();
    await expectWhole(t, rt, s.id, c.prompt, Date.now());
    t.equal(fired(), 1, 'the fault was injected');
  });
}

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
