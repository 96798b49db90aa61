// Runs that outlive their caller, through a real `warren daemon`, sshd and opencode:
// every event numbered from `accepted`; a caller cut off mid-reply comes back with
// Last-Event-ID (or ?after=N) and gets exactly the rest; a finished run replays; a
// retried POST with the same Idempotency-Key, one after another, at once, and after
// the daemon was killed and started again, sends the prompt once; a daemon killed
// mid-run answers the message from the history; abort ends a run with
// WARREN_ERR_ABORTED; an unknown message is a 404; many finished runs do not grow
// the daemon without bound.
import t from 'tap';
import { createWorkspace, run, waitFor } from '../container/testbed/index.js';
import { ending, expectMemorySettled, readEvents, rssOf, startDaemon } from './helpers/daemon.js';
import { historyOf } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'gwruns' });
t.teardown(() => ws.close());
let d = await startDaemon(t, [ws]);
/** The file's own tap, for a daemon started inside a test that must outlive it. */
const file = t;
const stateDir = `${d.dir}/state`;
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
type Ev = Awaited<ReturnType<typeof readEvents>>[number];

const base = () => `${d.base}/v1/workspaces/${ws.name}`;
async function newSession(): Promise<string> {
  const r = await fetch(`${base()}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' });
  return ((await r.json()) as { id: string }).id;
}
const post = (id: string, text: string, extra: Record<string, string> = {}, signal?: AbortSignal) => fetch(`${base()}/sessions/${id}/messages`, {
  method: 'POST', headers: d.headers({ 'content-type': 'application/json', ...extra }), body: JSON.stringify({ text }), ...(signal ? { signal } : {}),
});
const eventsUrl = (id: string, messageID: string) => `${base()}/sessions/${id}/messages/${messageID}/events`;
const deltas = (events: Ev[]) => events.filter((e) => e.event === 'text').map((e) => String(e.data.delta)).join('');

/** Reads a stream until `stopAfter` text events, then goes away; returns what it saw. */
async function readThenLeave(res: Response, ac: AbortController, stopAfter: number): Promise<Ev[]> {
  const seen: Ev[] = [];
  await readEvents(res, (e) => {
    seen.push(e);
    if (seen.filter((x) => x.event === 'text').length === stopAfter) ac.abort();
  }).catch(() => {});
  return seen;
}

t.test('every event is numbered from accepted, and the response says where the run lives', async (t) => {
  const id = await newSession();
  const res = await post(id, 'numbered events');
  const events = await readEvents(res);
  t.equal(events[0]?.event, 'accepted', 'accepted first');
  const messageID = String(events[0]?.data.messageID);
  t.match(messageID, /^msg_/);
  t.same(events[0]?.data, { sessionID: id, messageID });
  t.equal(res.headers.get('location'), `/v1/workspaces/${ws.name}/sessions/${id}/messages/${messageID}/events`);
  t.same(events.map((e) => e.id), events.map((_, i) => String(i + 1)), 'ids 1, 2, 3, ...');
  t.same(ending(events), { event: 'done', data: { sessionID: id, text: 'echo: numbered events' } });
  t.equal(events.at(-1)?.data.messageID, messageID);
});

t.test('a caller cut off mid-reply comes back with Last-Event-ID and gets exactly the rest', async (t) => {
  const id = await newSession();
  const prompt = `[[fake:slow=100]] ${words(20)}`;
  const ac = new AbortController();
  const first = await readThenLeave(await post(id, prompt, {}, ac.signal), ac, 3);
  const messageID = String(first[0]?.data.messageID);
  const lastId = first.at(-1)!.id!;
  const rest = await readEvents(await fetch(eventsUrl(id, messageID), { headers: d.headers({ 'last-event-id': lastId }) }));
  t.equal(rest[0]?.id, String(Number(lastId) + 1), 'from the next event on');
  t.equal(rest.at(-1)?.event, 'done');
  t.equal(deltas(first) + deltas(rest), `echo: ${prompt}`, 'before + after = the reply, nothing twice');
  t.equal(rest.at(-1)?.data.text, `echo: ${prompt}`);
  const again = await readEvents(await fetch(`${eventsUrl(id, messageID)}?after=0`, { headers: d.headers() }));
  t.same(again.map((e) => e.id), again.map((_, i) => String(i + 1)), 'a finished run replays whole with ?after=0');
  t.equal(deltas(again), `echo: ${prompt}`);
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === `echo: ${prompt}`).length, 1, 'the reply is in the history once: the run was not sent twice');
});

t.test('the same Idempotency-Key again, after, and at once: one prompt, the first run replayed', async (t) => {
  const id = await newSession();
  const key = { 'idempotency-key': `retry-${Date.now()}` };
  const one = await readEvents(await post(id, 'only once', key));
  const two = await readEvents(await post(id, 'only once', key));
  t.equal(two[0]?.data.messageID, one[0]?.data.messageID, 'the same message');
  t.same(two.map((e) => [e.id, e.event]), one.map((e) => [e.id, e.event]), 'replayed from its start');
  const key2 = { 'idempotency-key': `race-${Date.now()}` };
  const [a, b] = await Promise.all([post(id, 'raced', key2).then(readEvents), post(id, 'raced', key2).then(readEvents)]);
  t.equal(a[0]?.data.messageID, b[0]?.data.messageID, 'concurrent duplicates race to one run');
  t.same(ending(a), ending(b));
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === 'only once').length, 1, 'the first prompt once in the history');
  t.equal(history.filter((m) => m.text === 'raced').length, 1, 'the raced one once');
  const bad = await post(id, 'x', { 'idempotency-key': 'has space' });
  t.equal(bad.status, 400, 'a malformed key is a 400');
});

t.test('the daemon killed -9 mid-run and started again: the message is answered from the history, a retried key sends nothing', async (t) => {
  const id = await newSession();
  const prompt = `[[fake:slow=100]] ${words(25)}`;
  const key = { 'idempotency-key': `across-restart-${Date.now()}` };
  const ac = new AbortController();
  const first = await readThenLeave(await post(id, prompt, key, ac.signal), ac, 2);
  const messageID = String(first[0]?.data.messageID);
  d.child.kill('SIGKILL');
  await d.stop();
  d = await startDaemon(file, [ws], { gateway: { stateDir } });
  const rest = await readEvents(await fetch(eventsUrl(id, messageID), { headers: d.headers({ 'last-event-id': '1' }) }));
  t.same(ending(rest), { event: 'done', data: { sessionID: id, text: `echo: ${prompt}` } }, 'the reply finished in the workspace; the new daemon answers done');
  t.equal(rest.at(-1)?.data.messageID, messageID);
  const retried = await readEvents(await post(id, prompt, key));
  t.equal(retried[0]?.data.messageID, messageID, 'the key survived the restart: the same message');
  t.same(ending(retried), { event: 'done', data: { sessionID: id, text: `echo: ${prompt}` } });
  const history = await historyOf(ws, id);
  t.equal(history.filter((m) => m.text === prompt).length, 1, 'the prompt once');
  t.equal(history.filter((m) => m.text === `echo: ${prompt}`).length, 1, 'the reply once');
});

t.test('abort ends a running run with WARREN_ERR_ABORTED; the session works afterwards', async (t) => {
  const id = await newSession();
  const res = await post(id, `[[fake:slow=150]] ${words(40)}`);
  let messageID = '';
  let aborted: Promise<Response> | null = null;
  const events = await readEvents(res, (e) => {
    if (e.event === 'accepted') messageID = String(e.data.messageID);
    if (e.event === 'text' && !aborted) aborted = fetch(`${base()}/sessions/${id}/messages/${messageID}/abort`, { method: 'POST', headers: d.headers() });
  });
  t.equal((await aborted!)?.status, 202);
  t.match(events.at(-1), { event: 'error', data: { code: 'WARREN_ERR_ABORTED' } });
  const again = await fetch(`${base()}/sessions/${id}/messages/${messageID}/abort`, { method: 'POST', headers: d.headers() });
  t.equal(again.status, 409, 'a finished run: nothing to abort');
  t.match(await again.json(), { error: { code: 'WARREN_ERR_RUN_FINISHED' } });
  await waitFor('opencode to wind the run down', async () => {
    const r = await readEvents(await post(id, 'after the abort')).catch(() => []);
    return ending(r).event === 'done' || undefined;
  }, { timeoutMs: 30_000, intervalMs: 500 });
  t.pass('the next message gets its reply');
});

t.test('an unknown message is a 404, a malformed id a 400', async (t) => {
  const id = await newSession();
  const unknown = await fetch(eventsUrl(id, 'msg_000000000000AAAAAAAAAAAAAA'), { headers: d.headers() });
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { error: { code: 'WARREN_ERR_MESSAGE_NOT_FOUND' } });
  const bad = await fetch(eventsUrl(id, 'not-a-message'), { headers: d.headers() });
  t.equal(bad.status, 400);
  const badAfter = await fetch(`${eventsUrl(id, 'msg_000000000000AAAAAAAAAAAAAA')}?after=-1`, { headers: d.headers() });
  t.equal(badAfter.status, 400);
});

t.test('100 finished runs held: the daemon\'s memory stays bounded', async (t) => {
  const sessions = await Promise.all([1, 2, 3, 4].map(() => newSession()));
  const before = rssOf(d);
  let done = 0;
  await Promise.all(sessions.map(async (id, s) => {
    for (let i = 0; i < 25; i++) {
      const events = await readEvents(await post(id, `run ${s}-${i} ${words(30)}`));
      if (ending(events).event === 'done') done++;
    }
  }));
  t.equal(done, 100, '100 runs finished');
  const r = await run([process.execPath, 'dist/src/cli/main.js', 'status', '--json', '--socket', d.socket], { timeoutMs: 15_000 });
  const status = JSON.parse(r.stdout) as { daemon?: { runs: { running: number; finished: number; finishedBytes: number } } };
  const runs = status.daemon?.runs;
  t.ok(runs && runs.running === 0 && runs.finished >= 100 && runs.finished <= 1000, `held: ${JSON.stringify(runs)}`);
  t.ok(runs && runs.finishedBytes / runs.finished < 16 * 1024, `${Math.round((runs?.finishedBytes ?? 0) / (runs?.finished ?? 1))} bytes of events per finished run (a reply of about 200 characters)`);
  await expectMemorySettled(t, d, before);
});

t.test('afterwards the daemon stops and nothing of the workspace is left', async (t) => {
  await d.stop();
  await waitFor('no live process of the workspace user', async () => {
    const r = await ws.runInside(['pgrep', '-u', ws.user]);
    return r.stdout.trim() === '' || undefined;
  }, { timeoutMs: 20_000 });
  await ws.close();
  t.same(ws.leftovers(), []);
});
