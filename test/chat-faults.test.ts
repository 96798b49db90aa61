// A message under faults: the model hangs, errors, or streams slowly while the
// tunnel drops; the caller goes away. The caller always gets either the complete
// reply or one clear error within its deadline, and the history holds the
// message exactly once.
import t from 'tap';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { callServer } from '../src/opencode/api.js';
import { expectNothingLeft, historyOf, sharedRuntime } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'chatfaults' });
t.teardown(() => ws.close());
// One runtime and its warm server for every test: each makes its own session, and
// what they check is a run's end, not a server's start.
const shared = sharedRuntime(t, ws);

async function idle(rt: ReturnType<typeof shared.get>, id: string, directory: string): Promise<boolean> {
  const r = await callServer<Record<string, { type: string }>>(rt.server, ws.name, '/session/status', { directory });
  const s = r.body[id];
  return !s || s.type === 'idle';
}

t.test('the model hangs: the progress watchdog gives a clear error and the run is aborted', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const started = Date.now();
  await t.rejects(rt.chat(s.id, { text: '[[fake:hang]] are you there?', progressTimeoutMs: 3000 }), {
    code: 'WARREN_ERR_CHAT_STALLED', message: /no progress from the model for 3 s; the run was aborted/,
  });
  // The message names the watchdog that fired (3 s without progress, not the 30 s
  // heartbeat one, not the deadline); this bound only says the caller was not left
  // hanging. It counts from the run's last sign of life (opencode's own start-up work
  // included), and opencode takes about 3 s to wind an aborted run down: 12.5 s on a
  // quiet run here, 21 s on one loaded far past its cores.
  t.ok(Date.now() - started < 60_000, `gave up after ${Date.now() - started} ms`);
  await waitFor('opencode to stop the run', () => idle(rt, s.id, s.directory), { timeoutMs: 60_000 });
  t.pass('the session is idle again');
  const next = await rt.chat(s.id, { text: 'and now?' });
  t.equal(next.text, 'echo: and now?', 'the session works afterwards');
});

t.test('the overall deadline holds even while events keep coming', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  // The server's first prompt loads its code (seconds on a loaded machine, where no
  // text came before a 6 s deadline): paid first, so the deadline falls mid-reply.
  t.equal((await rt.chat(s.id, { text: 'warm up' })).text, 'echo: warm up');
  // ~46 chunks at 400 ms each: the reply would stream for 18 s, and every chunk is an
  // event that resets the progress watchdog. Only the deadline can end it first, and
  // CHAT_TIMEOUT is the deadline's error; text already streaming shows the events came.
  // (No timed assertion: how long the abort takes on a loaded machine is not the point.)
  let streamed = '';
  const text = `[[fake:slow=400]] ${'slow words '.repeat(30)}`;
  await t.rejects(rt.chat(s.id, { text, deadlineMs: 8000, onDelta: (d) => { streamed += d; } }), { code: 'WARREN_ERR_CHAT_TIMEOUT' });
  t.ok(streamed.length > 0, 'the reply was streaming when the deadline ended the run');
  t.ok(`echo: ${text.trim()}`.startsWith(streamed) && streamed.length < `echo: ${text.trim()}`.length, 'and was cut short');
});

t.test('the model answers with an error: reported with its message', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  await t.rejects(rt.chat(s.id, { text: '[[fake:error=400]] please fail', deadlineMs: 60_000 }), {
    code: 'WARREN_ERR_CHAT_FAILED', message: /fake model error/,
  });
  const next = await rt.chat(s.id, { text: 'and now?' });
  t.equal(next.text, 'echo: and now?', 'the session works afterwards');
  const history = await historyOf(ws, s.id);
  t.equal(history.filter((m) => m.text === '[[fake:error=400]] please fail').length, 1, 'the failed message is in the history once');
});

t.test('the caller goes away: the run is aborted', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const s = await rt.createSession();
  const ac = new AbortController();
  let got = '';
  const pending = rt.chat(s.id, { text: `[[fake:slow=200]] ${'never read to the end '.repeat(5)}`, signal: ac.signal, onDelta: (d) => { got += d; } });
  await waitFor('the reply to start', () => got.length > 0, { timeoutMs: 30_000 });
  ac.abort();
  await t.rejects(pending, { code: 'WARREN_ERR_CHAT_ABORTED' });
  await waitFor('opencode to stop the run', () => idle(rt, s.id, s.directory), { timeoutMs: 30_000 });
  t.pass('the run stopped');
});

t.test('the tunnel drops mid-stream: the complete reply, nothing repeated, the message once', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const reconnectsBefore = rt.link.snapshot().reconnects;
  const s = await rt.createSession();
  // Long enough (about 5 s) that the drop lands mid-reply even on a loaded machine.
  const prompt = `[[fake:slow=120]] ${Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ')} end`;
  const deltas: string[] = [];
  const pending = rt.chat(s.id, { text: prompt, onDelta: (d) => deltas.push(d), deadlineMs: 60_000 });
  pending.catch(() => {});
  await waitFor('a few chunks', () => deltas.length >= 3, { timeoutMs: 30_000 });
  await ws.killSshd();
  const beforeDrop = deltas.join('').length;
  t.teardown(async () => { await ws.startSshd().catch(() => {}); });
  await waitFor('the link to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
  await ws.startSshd();
  const result = await pending;
  t.equal(result.text, `echo: ${prompt}`, 'the complete reply');
  t.ok(beforeDrop < result.text.length, `the drop came mid-reply (${beforeDrop} of ${result.text.length} characters had arrived)`);
  t.equal(deltas.join(''), result.text, 'what streamed adds up to it exactly: nothing lost, nothing twice');
  await rt.link.waitForUp(20_000);
  t.ok(rt.link.snapshot().reconnects > reconnectsBefore, 'it went through a reconnect');
  const history = await historyOf(ws, s.id);
  t.equal(history.filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
  t.equal(history.filter((m) => m.role === 'assistant').length, 1, 'one reply');
  const next = await rt.chat(s.id, { text: 'after the drop' });
  t.equal(next.text, 'echo: after the drop', 'the next message on the session works, nobody stepped in');
});

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  await shared.close();
  await expectNothingLeft(t, ws);
});
