// A run that asks a person, through a real `warren daemon`: the message stream shows
// the `permission` or `question` event with what a UI needs, the answer routes forward
// the answer to opencode, and the run ends as opencode does with it. Unknown requests
// are 404, malformed answers 400. Real sshd and opencode; the fake model's bash= and
// question= directives, and a project opencode.json that makes bash ask.
import t from 'tap';
import { createWorkspace } from '../container/testbed/index.js';
import { ending, readEvents, startDaemon } from './helpers/daemon.js';
import { askingDir, expectNothingLeft } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'gwask' });
t.teardown(() => ws.close());
const d = await startDaemon(t, [ws]);
const base = `${d.base}/v1/workspaces/${ws.name}`;
const json = (body: unknown) => ({ method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });

async function sessionIn(name: string): Promise<string> {
  const dir = await askingDir(ws, name);
  return ((await (await fetch(`${base}/sessions`, json({ directory: dir }))).json()) as { id: string }).id;
}

/** Posts the message; answers the first permission or question event with `answer`; reads to the end. */
async function askedAndAnswered(id: string, text: string, answer: (e: { event: string; data: Record<string, unknown> }) => Promise<Response>) {
  const answers: Response[] = [];
  const events = await readEvents(await fetch(`${base}/sessions/${id}/messages`, json({ text })), (e) => {
    if (e.event === 'permission' || e.event === 'question') void answer(e).then((r) => answers.push(r));
  });
  return { events, answers };
}

t.test('a permission through the gateway: the event says what is asked, "once" runs the command and the reply follows', async (t) => {
  const id = await sessionIn('gw-once');
  const prompt = '[[fake:bash=echo out-gw]] run it';
  const { events, answers } = await askedAndAnswered(id, prompt, (e) => fetch(`${base}/sessions/${id}/permissions/${String(e.data.id)}`, json({ reply: 'once' })));
  const asked = events.find((e) => e.event === 'permission');
  t.match(asked?.data, { id: /^per_/, permission: 'bash', patterns: ['echo out-gw'], metadata: { command: 'echo out-gw' } }, 'what a UI needs to ask');
  t.equal(answers[0]?.status, 200);
  t.same(await answers[0]?.json(), { answered: true });
  t.same(ending(events), { event: 'done', data: { sessionID: id, text: `echo: ${prompt}\ntool said: out-gw` } }, 'the command ran, the model answered after it');
});

t.test('a permission rejected through the gateway: the tool does not run and the run ends', async (t) => {
  const id = await sessionIn('gw-reject');
  const { events, answers } = await askedAndAnswered(id, '[[fake:bash=touch never.txt]] try', (e) => fetch(`${base}/sessions/${id}/permissions/${String(e.data.id)}`, json({ reply: 'reject' })));
  t.equal(answers[0]?.status, 200);
  t.equal(ending(events).event, 'done', 'the run ends');
  t.equal((await ws.runAsUser(['test', '-e', `${ws.home}/projects/gw-reject/never.txt`])).code, 1, 'the command never ran');
});

t.test('a question through the gateway: its options in the event, the chosen label reaches the model', async (t) => {
  const id = await sessionIn('gw-question');
  const prompt = '[[fake:question=Which color?|red|blue]] pick';
  const { events, answers } = await askedAndAnswered(id, prompt, (e) => fetch(`${base}/sessions/${id}/questions/${String(e.data.id)}`, json({ answers: [['blue']] })));
  const asked = events.find((e) => e.event === 'question');
  t.match(asked?.data, { id: /^que_/, questions: [{ question: 'Which color?', options: [{ label: 'red' }, { label: 'blue' }] }] });
  t.equal(answers[0]?.status, 200);
  t.equal(ending(events).event, 'done');
  t.match(String(ending(events).data.text), /blue/, 'the answer reached the model');
});

t.test('a question dismissed through the gateway ends the run', async (t) => {
  const id = await sessionIn('gw-dismiss');
  const { events, answers } = await askedAndAnswered(id, '[[fake:question=Go on?|yes|no]] ask me', (e) => fetch(`${base}/sessions/${id}/questions/${String(e.data.id)}`, json({ reject: true })));
  t.equal(answers[0]?.status, 200);
  t.equal(ending(events).event, 'done');
});

t.test('unknown requests are 404, malformed answers 400, wrong methods 405', async (t) => {
  const id = await sessionIn('gw-bad');
  const unknown = await fetch(`${base}/sessions/${id}/permissions/per_000000000000AAAAAAAAAAAAAA`, json({ reply: 'once' }));
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { error: { code: 'WARREN_ERR_REQUEST_NOT_FOUND' } });
  t.equal((await fetch(`${base}/sessions/${id}/permissions/per_x`, json({ reply: 'yes please' }))).status, 400);
  t.equal((await fetch(`${base}/sessions/${id}/questions/que_x`, json({ answers: 'blue' }))).status, 400);
  t.equal((await fetch(`${base}/sessions/${id}/questions/que_x`, json({ color: 'blue' }))).status, 400);
  t.equal((await fetch(`${base}/sessions/${id}/permissions/per_x`, { headers: d.headers() })).status, 405);
});

t.test('afterwards nothing is left running, and closing leaves nothing', async (t) => {
  await d.stop();
  await expectNothingLeft(t, ws, 20_000);
});
