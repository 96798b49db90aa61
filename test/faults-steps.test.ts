// A link fault at each step of a message, on a real sshd and opencode: during the
// session lookup, the create, the subscription, just before the prompt is sent,
// while the prompt is in flight, and during the final history read. Each fault
// heals within the reconnect wait, so the caller must get the complete reply, with
// deltas adding up to it, and the history must hold the message once. What ends a
// run for good (watchdogs, a drop that outlasts the wait) is in faults-run.test.ts.
import t, { type Test } from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';
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

/**
 * One runtime for the tests after the first, its server kept warm: `arm(step, fault)`
 * runs the fault at the next pass through that step. Each test checks its own
 * reconnect against the count before it.
 */
function sharedFaultyRuntime() {
  let armed: { step: Step; fault: (rt: WorkspaceRuntime) => Promise<void> } | null = null;
  let fired = 0;
  let rt: WorkspaceRuntime | undefined;
  const get = () => {
    if (rt) return rt;
    rt = new WorkspaceRuntime(workspaceConfig(ws), {
      onStep: async (s) => {
        if (!armed || s !== armed.step) return;
        const { fault } = armed;
        armed = null;
        fired++;
        await fault(rt!);
      },
    });
    rt.start();
    return rt;
  };
  return {
    get,
    arm: (step: Step, fault: (rt: WorkspaceRuntime) => Promise<void>) => { armed = { step, fault }; },
    fired: () => fired,
    close: async () => { armed = null; await rt?.close({ stopServer: true }); rt = undefined; },
  };
}
const shared = sharedFaultyRuntime();
t.teardown(() => shared.close());

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

async function expectWhole(t: Test, rt: WorkspaceRuntime, id: string, prompt: string, started: number, reconnectsBefore: number) {
  const deltas: string[] = [];
  const r = await rt.chat(id, { text: prompt, onDelta: (d) => deltas.push(d), deadlineMs: 90_000 });
  t.equal(r.text, `echo: ${prompt}`, 'the complete reply');
  t.equal(deltas.join(''), r.text, 'the deltas add up to it');
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
  t.equal(history.filter((m) => m.role === 'assistant' && m.text === r.text).length, 1, 'its reply once');
  t.ok(rt.link.snapshot().reconnects > reconnectsBefore, `the link went through a reconnect (${Date.now() - started} ms in all)`);
}

t.test('the link drops during the session lookup: the message waits for it and completes', async (t) => {
  const made = runtimeFor(t, ws);
  await made.link.waitForUp(10_000);
  const s = await made.createSession();
  const { rt, arm, fired } = runtimeWithFault(t, 'locate', killSshd);
  await rt.link.waitForUp(10_000);
  arm();
  await expectWhole(t, rt, s.id, 'found across a drop', Date.now(), 0);
  t.equal(fired(), 1, 'the fault was injected');
});

t.test('the link drops during the create: one session is made, not two', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  await rt.server.ensureRunning();
  const title = `made across a drop ${Date.now()}`;
  const firedBefore = shared.fired();
  shared.arm('create', killSshd);
  const s = await rt.createSession({ title });
  t.equal(shared.fired() - firedBefore, 1, 'the fault was injected');
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
    const rt = shared.get();
    t.teardown(() => ws.thaw());
    await rt.link.waitForUp(10_000);
    const s = await rt.createSession();
    const [firedBefore, reconnectsBefore] = [shared.fired(), rt.link.snapshot().reconnects];
    shared.arm(c.step, c.fault);
    await expectWhole(t, rt, s.id, c.prompt, Date.now(), reconnectsBefore);
    t.equal(shared.fired() - firedBefore, 1, 'the fault was injected');
  });
}

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  await shared.close();
  await expectNothingLeft(t, ws, 20_000);
});
