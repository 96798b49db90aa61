// Faults while a reply streams, on a real sshd and opencode: the whole workspace
// frozen (SIGSTOP) and thawed, the network link cut half-open (the host side of the
// veth down) and restored, every sshd killed and started again, and a model that
// streams slowly. Each fault heals within the reconnect wait, so each ends in the
// complete reply with deltas adding up to it, the history holds the message once,
// and the next message on the same session works without operator action.
// opencode killed, a hanging and a failing model are in chat-faults.test.ts and
// server-lifecycle.test.ts; faults at each step of a message in faults-steps.test.ts.
import t, { type Test } from 'tap';
import { createWorkspace, run, runOk, slotNames, waitFor } from '../container/testbed/index.js';
import type { WorkspaceRuntime } from '../src/broker/workspace.js';
import { historyOf, sharedRuntime, expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'streamfaults' });
t.teardown(() => ws.close());
// One runtime and its warm server for every test: the faults heal, and each test
// checks that they did before the next one starts.
const shared = sharedRuntime(t, ws);
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

/** Sends prompt, runs fault once a few chunks arrived; returns the outcome and what streamed. */
async function underFault(rt: WorkspaceRuntime, id: string, prompt: string, fault: () => Promise<void>) {
  const deltas: string[] = [];
  const started = Date.now();
  const pending = rt.chat(id, { text: prompt, onDelta: (d) => deltas.push(d), deadlineMs: 60_000 });
  pending.catch(() => {});
  await waitFor('a few chunks', () => deltas.length >= 3, { timeoutMs: 30_000 });
  await fault();
  const outcome = await pending.then((r) => ({ text: r.text, error: null }), (error: { code?: string; message: string }) => ({ text: null, error }));
  return { ...outcome, deltas, ms: Date.now() - started };
}

async function checkAfter(t: Test, rt: WorkspaceRuntime, id: string, prompt: string, o: { text: string | null; error: { code?: string; message: string } | null; deltas: string[]; ms: number }) {
  t.ok(o.ms < 60_000, `the caller had its answer after ${o.ms} ms`);
  // The fault healed within the reconnect wait: the caller sees only a slower reply.
  t.equal(o.error, null, `no error${o.error ? ` (got ${o.error.code}: ${o.error.message})` : ''}`);
  t.equal(o.text, `echo: ${prompt}`, 'the complete reply');
  t.equal(o.deltas.join(''), o.text, 'what streamed adds up to it: nothing lost, nothing twice');
  const next = await rt.chat(id, { text: 'and after that?', deadlineMs: 60_000 });
  t.equal(next.text, 'echo: and after that?', 'the next message on the session works');
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
  t.equal(history.filter((m) => m.text === 'and after that?').length, 1, 'the next one too');
  const replies = history.filter((m) => m.role === 'assistant').map((m) => m.text);
  t.equal(new Set(replies).size, replies.length, 'no reply twice');
  t.equal(await serverCount(), 1, 'one opencode server');
}
const serverCount = async () => Number((await ws.runAsUser(['pgrep', '-c', '-u', ws.user, '-f', 'opencode serve'])).stdout.trim());

t.test('the workspace frozen (SIGSTOP) mid-stream, then thawed: the complete reply, the message once', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const reconnectsBefore = rt.link.snapshot().reconnects;
  const s = await rt.createSession();
  const prompt = `[[fake:slow=150]] ${words(14)} end`;
  t.teardown(() => ws.thaw());
  const o = await underFault(rt, s.id, prompt, async () => {
    await ws.freeze();
    await waitFor('the keepalive to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
    await ws.thaw();
  });
  t.ok(rt.link.snapshot().reconnects > reconnectsBefore, 'the link went through a reconnect by itself');
  await checkAfter(t, rt, s.id, prompt, o);
});

t.test('the network cut half-open mid-stream (veth down), then back: the keepalive notices, and the reply completes', async (t) => {
  if (!ws.isolated) return t.plan(0, 'skipped: needs the netns test bed');
  const veth = slotNames(ws.slot).vethHost;
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const reconnectsBefore = rt.link.snapshot().reconnects;
  const s = await rt.createSession();
  const prompt = `[[fake:slow=150]] ${words(14)} end`;
  t.teardown(() => run(['ip', 'link', 'set', veth, 'up']));
  const o = await underFault(rt, s.id, prompt, async () => {
    const cutAt = Date.now();
    await runOk(['ip', 'link', 'set', veth, 'down']);
    await waitFor('the keepalive to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
    t.ok(Date.now() - cutAt < 6000, `noticed ${Date.now() - cutAt} ms after the cut (keepalive window 2.8 s)`);
    await runOk(['ip', 'link', 'set', veth, 'up']);
  });
  t.ok(rt.link.snapshot().reconnects > reconnectsBefore, 'the link went through a reconnect by itself');
  await checkAfter(t, rt, s.id, prompt, o);
});

t.test('every sshd killed mid-stream and started again: the complete reply, the message once', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const reconnectsBefore = rt.link.snapshot().reconnects;
  const s = await rt.createSession();
  const prompt = `[[fake:slow=150]] ${words(14)} end`;
  const o = await underFault(rt, s.id, prompt, async () => {
    await ws.killSshd();
    await waitFor('the link to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
    await ws.startSshd();
  });
  t.ok(rt.link.snapshot().reconnects > reconnectsBefore, 'the link went through a reconnect by itself');
  await checkAfter(t, rt, s.id, prompt, o);
});

t.test('a slow model: the reply completes although it takes longer than the progress watchdog, since deltas keep coming', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  // About 22 chunks 300 ms apart: well past the watchdog in all, far within it between two.
  const prompt = `[[fake:slow=300]] ${words(22)}`;
  const started = Date.now();
  const r = await rt.chat(s.id, { text: prompt, progressTimeoutMs: 4000, deadlineMs: 60_000 });
  const took = Date.now() - started;
  t.equal(r.text, `echo: ${prompt}`, 'the complete reply');
  t.ok(took > 4000, `it took ${took} ms, longer than the 4 s progress watchdog`);
  const history = await historyOf(ws, s.id);
  t.same(history.map((m) => m.text), [prompt, `echo: ${prompt}`]);
});

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  await shared.close();
  await expectNothingLeft(t, ws);
});
