// OpenCode's own one-shot client and the official SDK, through the gateway's
// pass-through, with no port of the workspace exposed: `opencode run --attach
// <gateway>/v1/workspaces/<ws>/opencode -p <token> -s <id>` gets the fake model's
// whole reply for a session the CLI made in another directory and for one that
// lives only in an importFrom data directory; `@opencode-ai/sdk/v2` with the
// gateway as baseUrl reads, prompts and follows a session. Real sshd, real opencode
// on both sides.
import t from 'tap';
import { createOpencodeClient } from '@opencode-ai/sdk/v2';
import { createWorkspace, run } from '../container/testbed/index.js';
import { startDaemon } from './helpers/daemon.js';
import { cliSession, expectNothingLeft, historyOf } from './helpers/runtime.js';
import { hostClient } from './helpers/clients.js';

const ws = await createWorkspace({ name: 'attachrun' });
t.teardown(() => ws.close());
const other = `${ws.home}/other-data`;
const d = await startDaemon(t, [ws], { workspace: { importFrom: [other] } });
const client = await hostClient(t);
const url = `${d.base}/v1/workspaces/${ws.name}/opencode`;

/** `opencode run --attach` on the host, as a person would type it. */
const runAttach = (args: string[]) => run([client.bin, 'run', '--attach', url, '-p', d.token!, ...args], { env: client.env, cwd: client.home, timeoutMs: 120_000 });

t.test('opencode run --attach -s: a session the CLI made in another directory gets the whole reply, in that directory', async (t) => {
  const dir = `${ws.home}/projects/made-by-cli`;
  const id = await cliSession(ws, dir, 'first, from the CLI');
  const r = await runAttach(['-s', id, 'second, through warren']);
  t.equal(r.code, 0, `opencode run exits 0 (stderr: ${r.stderr.trim().slice(-200)})`);
  t.match(r.stdout, /echo: "?second, through warren"?/, 'the fake model\'s reply is printed');
  const history = await historyOf(ws, id);
  t.same(history.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'one more exchange in the same session');
  const info = await fetch(`${url}/session/${id}`, { headers: d.headers() }).then((res) => res.json()) as { directory: string };
  t.equal(info.directory, dir, 'still in the CLI\'s directory');
});

t.test('opencode run --attach -s: a session only in an importFrom data directory is imported and answered', async (t) => {
  const dir = `${ws.home}/projects/elsewhere`;
  const id = await cliSession(ws, dir, 'made under another data home', { XDG_DATA_HOME: other });
  const before = await fetch(`${d.base}/v1/workspaces/${ws.name}/sessions`, { headers: d.headers() }).then((res) => res.json()) as { sessions: Array<{ id: string }> };
  const r = await runAttach(['-s', id, 'resumed through warren']);
  t.equal(r.code, 0, `opencode run exits 0 (stderr: ${r.stderr.trim().slice(-200)})`);
  t.match(r.stdout, /echo: "?resumed through warren"?/);
  t.ok(before.sessions.some((s) => s.id === id), 'warren listed it before (from importFrom)');
  const answered = await fetch(`${url}/session/${id}/message`, { headers: d.headers() }).then((res) => res.json()) as Array<{ info: { role: string } }>;
  t.same(answered.map((m) => m.info.role), ['user', 'assistant', 'user', 'assistant'], 'the serving database has the whole conversation');
});

t.test('opencode run --attach, a new session: the reply is printed every time (the response waits for the event stream)', async (t) => {
  // Without the wait, opencode run exits on the prompt's response before its event
  // stream has delivered the text: half of these printed nothing. Two at a time, as
  // two people would: each waits on both event streams, and neither may lose its reply.
  for (let i = 0; i < 8; i += 2) {
    const rs = await Promise.all([i, i + 1].map((n) => runAttach([`round ${n}`])));
    rs.forEach((r, k) => {
      t.equal(r.code, 0, `round ${i + k}: opencode run exits 0`);
      t.match(r.stdout, new RegExp(`echo: "?round ${i + k}"?`), `round ${i + k}: the reply`);
    });
  }
});

t.test('a wrong password gets nothing: opencode run fails, and no session is made', async (t) => {
  const count = async () => (await fetch(`${url}/session`, { headers: d.headers() }).then((res) => res.json()) as unknown[]).length;
  const before = await count();
  const r = await run([client.bin, 'run', '--attach', url, '-p', 'wrong-password', 'hello'], { env: client.env, cwd: client.home, timeoutMs: 60_000 });
  t.equal(r.code, 1, 'opencode run fails');
  t.notMatch(r.stdout, /echo:/, 'no reply');
  t.equal(await count(), before, 'no session was made');
});

t.test('@opencode-ai/sdk/v2 with the gateway as baseUrl: reads, prompts and follows a session', async (t) => {
  const dir = `${ws.home}/projects/sdk`;
  const id = await cliSession(ws, dir, 'made for the SDK');
  const sdk = createOpencodeClient({ baseUrl: url, headers: { authorization: `Bearer ${d.token}` }, directory: dir });
  const got = await sdk.session.get({ sessionID: id });
  t.equal(got.data?.id, id);
  t.equal(got.data?.directory, dir);
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const events = await sdk.event.subscribe({}, { signal: abort.signal });
  const seen: string[] = [];
  let text = '';
  const idle = (async () => {
    for await (const ev of events.stream) {
      seen.push(ev.type);
      if (ev.type === 'message.part.updated' && ev.properties.part.sessionID === id && ev.properties.part.type === 'text' && ev.properties.part.time?.end) text = ev.properties.part.text;
      if (ev.type === 'session.idle' && ev.properties.sessionID === id && text) return;
    }
  })();
  const answer = await sdk.session.prompt({ sessionID: id, parts: [{ type: 'text', text: 'hello from the SDK' }] });
  t.equal(answer.data?.info.role, 'assistant');
  t.match(answer.data?.parts.find((p) => p.type === 'text'), { text: /echo: "?hello from the SDK"?/ }, 'the prompt\'s answer');
  await Promise.race([idle, new Promise((_, reject) => setTimeout(() => reject(new Error('no session.idle within 30 s')), 30_000).unref())]);
  abort.abort();
  t.match(text, /echo: "?hello from the SDK"?/, 'the same text arrived on the event stream');
  t.ok(seen.includes('session.status'), 'and the session\'s status events');
  const messages = await sdk.session.messages({ sessionID: id });
  t.equal(messages.data?.length, 4, 'the history holds both exchanges');
});

t.test('afterwards nothing is left running', async (t) => {
  await d.stop();
  await expectNothingLeft(t, ws, 20_000);
});
