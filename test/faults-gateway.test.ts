// The gateway's message stream under transport faults, through a real `warren
// daemon`: the workspace frozen, the network cut half-open, every sshd killed, each
// mid-reply and each healing within the reconnect wait. The caller of the SSE
// stream sees only a slower reply: the complete text in `done`, the `text` deltas
// adding up to it exactly, the message once in the history. And a 100 KB reply of
// multi-byte text (CJK, emoji, combining marks) whose deltas are byte-identical to
// `done.text`, however the SSH packets cut its characters.
import t, { type Test } from 'tap';
import { createWorkspace, run, runOk, slotNames, waitFor } from '../container/testbed/index.js';
import { readEvents, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { historyOf } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'gwfaults' });
t.teardown(() => ws.close());
const d = await startDaemon(t, [ws]);
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

async function tunnel(d: RunningDaemon): Promise<{ state: string; reconnects: number }> {
  const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() });
  const body = await r.json() as { workspaces: Array<{ tunnel: { state: string; reconnects: number } }> };
  return body.workspaces[0]!.tunnel;
}

async function newSession(): Promise<string> {
  const r = await fetch(`${d.base}/v1/workspaces/${ws.name}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' });
  return ((await r.json()) as { id: string }).id;
}

/** Posts the message, runs `fault` once a few deltas arrived, and reads the stream to its end. */
async function underFault(id: string, text: string, fault: () => Promise<void>) {
  const res = await fetch(`${d.base}/v1/workspaces/${ws.name}/sessions/${id}/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text }),
  });
  let deltas = 0;
  let injected: Promise<void> | null = null;
  const events = await readEvents(res, (e) => {
    if (e.event === 'text' && ++deltas === 3) injected = fault();
  });
  if (injected) await injected;
  return { status: res.status, events, faulted: injected !== null };
}

async function expectWhole(t: Test, id: string, prompt: string, o: Awaited<ReturnType<typeof underFault>>, reconnectsBefore: number) {
  t.equal(o.status, 200);
  t.ok(o.faulted, 'the fault struck mid-reply');
  const last = o.events.at(-1);
  t.equal(last?.event, 'done', `the stream ends in done${last?.event === 'error' ? ` (got error ${JSON.stringify(last.data)})` : ''}`);
  t.equal(last?.data.text, `echo: ${prompt}`, 'the complete reply');
  const streamed = o.events.filter((e) => e.event === 'text').map((e) => e.data.delta).join('');
  t.equal(streamed, last?.data.text, 'the deltas add up to it exactly');
  t.equal(o.events.filter((e) => e.event === 'error').length, 0, 'no error event');
  t.ok((await tunnel(d)).reconnects > reconnectsBefore, 'the tunnel went through a reconnect');
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
  t.equal(history.filter((m) => m.role === 'assistant' && m.text === `echo: ${prompt}`).length, 1, 'its reply once');
}

const notUp = async () => (await tunnel(d)).state !== 'up';

t.test('through the gateway, the workspace frozen mid-reply and thawed: done with the complete reply', async (t) => {
  const id = await newSession();
  const prompt = `[[fake:slow=120]] ${words(16)} frozen`;
  const before = (await tunnel(d)).reconnects;
  t.teardown(() => ws.thaw());
  const o = await underFault(id, prompt, async () => {
    await ws.freeze();
    await waitFor('the keepalive to notice', notUp, { timeoutMs: 10_000 });
    await ws.thaw();
  });
  await expectWhole(t, id, prompt, o, before);
});

t.test('through the gateway, the network cut half-open mid-reply and restored: done with the complete reply', async (t) => {
  if (!ws.isolated) return t.plan(0, 'skipped: needs the netns test bed');
  const veth = slotNames(ws.slot).vethHost;
  t.teardown(() => run(['ip', 'link', 'set', veth, 'up']));
  const id = await newSession();
  const prompt = `[[fake:slow=120]] ${words(16)} cut`;
  const before = (await tunnel(d)).reconnects;
  const o = await underFault(id, prompt, async () => {
    await runOk(['ip', 'link', 'set', veth, 'down']);
    await waitFor('the keepalive to notice', notUp, { timeoutMs: 10_000 });
    await runOk(['ip', 'link', 'set', veth, 'up']);
  });
  await expectWhole(t, id, prompt, o, before);
});

t.test('through the gateway, every sshd killed mid-reply and started again: done with the complete reply', async (t) => {
  const id = await newSession();
  const prompt = `[[fake:slow=120]] ${words(16)} killed`;
  const before = (await tunnel(d)).reconnects;
  const o = await underFault(id, prompt, async () => {
    await ws.killSshd();
    await waitFor('the daemon to notice', notUp, { timeoutMs: 10_000 });
    await ws.startSshd();
  });
  await expectWhole(t, id, prompt, o, before);
});

t.test('a 100 KB reply of multi-byte text streams through the gateway byte for byte', async (t) => {
  const id = await newSession();
  const pieces = ['日本語のテキスト', '👩‍👩‍👧', 'e\u0301', 'Ωμέγα', '🇯🇵', 'ﷺ', 'x\u0327\u0301', ' '];
  let prompt = '';
  for (let i = 0; Buffer.byteLength(prompt) < 100 * 1024; i++) prompt += pieces[i % pieces.length];
  const res = await fetch(`${d.base}/v1/workspaces/${ws.name}/sessions/${id}/messages`, {
    method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text: prompt }),
  });
  const events = await readEvents(res);
  const done = events.at(-1);
  t.equal(done?.event, 'done');
  const text = done?.data.text as string;
  t.ok(Buffer.from(text).equals(Buffer.from(`echo: ${prompt}`)), `done.text is the reply, ${Buffer.byteLength(text)} bytes`);
  const streamed = events.filter((e) => e.event === 'text').map((e) => e.data.delta).join('');
  t.ok(Buffer.from(streamed).equals(Buffer.from(text)), 'the deltas are byte-identical to it');
  t.notOk(streamed.includes('\uFFFD'), 'no replacement character anywhere');
});

t.test('afterwards the daemon runs one opencode, and closing leaves nothing', async (t) => {
  const pgrep = await ws.runAsUser(['pgrep', '-c', '-u', ws.user, '-f', 'opencode serve']);
  t.equal(pgrep.stdout.trim(), '1', 'one opencode server');
  await d.stop();
  await waitFor('no live process of the workspace user', async () => {
    const ps = await run(['ps', '-u', ws.user, '-o', 'stat=,args=']);
    return ps.stdout.split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z')).length === 0;
  }, { timeoutMs: 20_000 });
  await ws.close();
  t.same(ws.leftovers(), []);
});
