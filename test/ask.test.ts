// A run that asks a person (issue 11): opencode asks for a permission (its config
// says "bash": "ask") or asks a question (its question tool), and waits. The caller
// gets the request, no watchdog ends the run while it waits, and the answer (once,
// always, reject; labels or a dismissal) ends the run as opencode does. Real sshd,
// real opencode, the fake model's bash= and question= directives.
import t from 'tap';
import { setTimeout as delay } from 'node:timers/promises';
import type { PermissionRequest, QuestionRequest } from '@opencode-ai/sdk/v2';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { createBroker, type WarrenConfig } from '../src/index.js';
import { callServer } from '../src/opencode/api.js';
import type { HistoryEntry } from '../src/opencode/reply.js';
import { askingDir as askingDirIn, capturingLogger, expectNothingLeft, historyOf, sharedRuntime, workspaceConfig } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'ask' });
t.teardown(() => ws.close());

const askingDir = (name: string) => askingDirIn(ws, name);

// The tests after the first share one runtime and its warm server: each works in its
// own asking directory and session, and what they check is the asking, not a start.
// Its log is kept, for the test that watches the run resubscribe.
const { logger: sharedLogger, lines: sharedLines } = capturingLogger();
const shared = sharedRuntime(t, ws, {}, sharedLogger);

/**
 * The progress watchdog of the runs here: short, so that waiting past it shows a run
 * waiting for a person is not ended by it. Once answered, the run works again under
 * it, and a loaded machine had opencode quiet for more than 2 s between the answer
 * and the model's next words (a run ended CHAT_STALLED after its answer).
 */
const WATCHDOG_MS = 4000;

async function exists(path: string): Promise<boolean> {
  return (await ws.runAsUser(['test', '-e', path])).code === 0;
}

/** A promise's outcome, readable without awaiting it. */
function tracked<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean; outcome: () => string } {
  let outcome: string | null = null;
  p.then(() => { outcome = 'it resolved'; }, (err: unknown) => { outcome = `it failed: ${(err as Error).message}`; });
  return { promise: p, settled: () => outcome !== null, outcome: () => outcome ?? 'pending' };
}

type Runtime = ReturnType<typeof shared.get>;

async function toolParts(rt: Runtime, id: string, directory: string): Promise<Array<{ tool: string; status: string; output?: string; error?: string }>> {
  const r = await callServer<HistoryEntry[]>(rt.server, ws.name, `/session/${id}/message`, { directory });
  return r.body.flatMap((e) => e.parts).flatMap((p) => p.type === 'tool'
    ? [{ tool: p.tool, status: p.state.status, ...('output' in p.state ? { output: p.state.output } : {}), ...('error' in p.state ? { error: p.state.error } : {}) }]
    : []);
}

async function pendingIn(rt: Runtime, directory: string): Promise<unknown[]> {
  const [p, q] = await Promise.all([
    callServer<unknown[]>(rt.server, ws.name, '/permission', { directory }),
    callServer<unknown[]>(rt.server, ws.name, '/question', { directory }),
  ]);
  return [...p.body, ...q.body];
}

async function idle(rt: Runtime, id: string, directory: string): Promise<boolean> {
  const r = await callServer<Record<string, { type: string }>>(rt.server, ws.name, '/session/status', { directory });
  return (r.body[id]?.type ?? 'idle') === 'idle';
}

t.test('a permission answered once, through the broker: the caller sees it, no watchdog fires while it waits, the command runs', async (t) => {
  const config: WarrenConfig = {
    workspaces: new Map([[ws.name, workspaceConfig(ws)]]), gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'info', path: null,
  };
  const broker = createBroker(config);
  t.teardown(() => broker.close());
  // The server's first prompt and first tool call load their code (4-5 s here, far
  // more on a loaded machine): paid first, so the run timed below spends its budget
  // on the question, not on loading, and the ask comes well before the deadline.
  const warm = await broker.createSession(ws.name, {});
  t.equal((await broker.sendMessage(ws.name, warm.id, { text: '[[fake:bash=true]] warm up' })).text, 'echo: [[fake:bash=true]] warm up\ntool said: (no output)', 'a tool call outside the asking directory runs unasked');
  const dir = await askingDir('once');
  const s = await broker.createSession(ws.name, { directory: dir });
  const prompt = '[[fake:bash=echo ran > once.txt; echo out-once]] run it';
  const asked: PermissionRequest[] = [];
  let streamed = '';
  const started = Date.now();
  const run = tracked(broker.sendMessage(ws.name, s.id, {
    text: prompt, onPermission: (p) => asked.push(p), onDelta: (d) => { streamed += d; },
    // Both far shorter than the wait below: neither may end a run that waits for a person.
    progressTimeoutMs: WATCHDOG_MS, deadlineMs: 20_000,
  }));
  run.promise.catch(() => {});
  const p = await waitFor('the permission event', () => asked[0], { timeoutMs: 60_000 });
  const askedAfter = Date.now() - started;
  t.match(p, {
    id: /^per_/, sessionID: s.id, permission: 'bash', patterns: ['echo ran > once.txt', 'echo out-once'],
    metadata: { command: 'echo ran > once.txt; echo out-once' }, always: ['echo *'],
  }, 'what a UI shows: which permission, for what');
  t.notOk(await exists(`${dir}/once.txt`), 'nothing ran before the answer');
  // Waiting for a person is the point here: well past the progress watchdog (WATCHDOG_MS), and
  // past the run's deadline (20 s) counted from its start.
  await delay(Math.max(WATCHDOG_MS + 2000, 21_000 - (Date.now() - started)));
  t.notOk(run.settled(), `the run still waits after ${Math.round((Date.now() - started) / 1000)} s (asked after ${askedAfter} ms; ${run.outcome()})`);
  await broker.answerPermission(ws.name, s.id, p.id, 'once');
  const r = await run.promise;
  t.equal(r.text, `echo: ${prompt}\ntool said: out-once`, 'the command ran and the model answered after it');
  t.equal(streamed, r.text, 'the deltas add up to the reply');
  t.ok(await exists(`${dir}/once.txt`));
  t.equal(asked.length, 1, 'asked once');
  t.equal((await historyOf(ws, s.id)).filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
  await t.rejects(broker.answerPermission(ws.name, s.id, p.id, 'once'), { code: 'WARREN_ERR_REQUEST_NOT_FOUND' }, 'a second answer finds nothing to answer');
});

t.test('a permission answered always: the next call of its kind runs without asking', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('always');
  const s = await rt.createSession({ directory: dir });
  const asked: PermissionRequest[] = [];
  const first = rt.chat(s.id, { text: '[[fake:bash=touch always-1.txt]] first', onPermission: (p) => asked.push(p) });
  const p = await waitFor('the permission event', () => asked[0], { timeoutMs: 60_000 });
  t.same(p.always, ['touch *'], 'always would allow every touch');
  await rt.answerPermission(s.id, p.id, 'always');
  t.equal((await first).text, 'echo: [[fake:bash=touch always-1.txt]] first\ntool said: (no output)');
  const second = await rt.chat(s.id, { text: '[[fake:bash=touch always-2.txt]] second', onPermission: (q) => asked.push(q) });
  t.equal(asked.length, 1, 'no second question');
  t.match(second.text, /^echo: \[\[fake:bash=touch always-2.txt\]\] second\ntool said:/);
  t.ok(await exists(`${dir}/always-1.txt`) && await exists(`${dir}/always-2.txt`), 'both ran');
});

t.test('a permission rejected: the command does not run and the run ends, as in opencode, with no reply text', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('reject');
  const s = await rt.createSession({ directory: dir });
  const asked: PermissionRequest[] = [];
  const run = rt.chat(s.id, { text: '[[fake:bash=touch rejected.txt]] try', onPermission: (p) => asked.push(p), progressTimeoutMs: WATCHDOG_MS });
  const p = await waitFor('the permission event', () => asked[0], { timeoutMs: 60_000 });
  await rt.answerPermission(s.id, p.id, 'reject');
  const r = await run;
  t.equal(r.text, '', 'opencode stops after a rejection: the model is not called again');
  t.notOk(await exists(`${dir}/rejected.txt`), 'the command never ran');
  t.match(await toolParts(rt, s.id, dir), [{ tool: 'bash', status: 'error', error: /rejected permission/ }], 'the history says the tool was refused');
  const next = await rt.chat(s.id, { text: 'and now?' });
  t.equal(next.text, 'echo: and now?', 'the session works afterwards');
});

t.test('a question answered: the caller sees the question and options, the model gets the answer', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('question');
  const s = await rt.createSession({ directory: dir });
  const other = await rt.createSession({ directory: dir });
  const prompt = '[[fake:question=Which colour?|red|blue]] pick one';
  const asked: QuestionRequest[] = [];
  const run = tracked(rt.chat(s.id, { text: prompt, onQuestion: (q) => asked.push(q), progressTimeoutMs: WATCHDOG_MS }));
  const q = await waitFor('the question event', () => asked[0], { timeoutMs: 60_000 });
  t.match(q, {
    id: /^que_/, sessionID: s.id,
    questions: [{ question: 'Which colour?', header: 'Which colour?', options: [{ label: 'red', description: 'red' }, { label: 'blue', description: 'blue' }] }],
  });

  // What is no answer to it: each a clear error, and the question still waits.
  await t.rejects(rt.answerQuestion(other.id, q.id, [['blue']]), { code: 'WARREN_ERR_REQUEST_NOT_FOUND' }, 'through another session');
  await t.rejects(rt.answerPermission(s.id, q.id, 'once'), { code: 'WARREN_ERR_REQUEST_NOT_FOUND' }, 'as if it were a permission');
  await t.rejects(rt.answerQuestion(s.id, 'que_0000000000000000000000000', [['blue']]), { code: 'WARREN_ERR_REQUEST_NOT_FOUND', message: /no pending question request "que_0+"/ }, 'an unknown id');
  await t.rejects(rt.answerQuestion(s.id, '../../session', [['blue']]), { code: 'WARREN_ERR_REQUEST_NOT_FOUND' }, 'a path is no id');
  await t.rejects(rt.answerQuestion(s.id, q.id, [['blue'], ['red']]), { code: 'WARREN_ERR_BAD_REQUEST', message: /asks 1 question/ }, 'one answer per question');
  await t.rejects(rt.answerQuestion(s.id, q.id, ['blue'] as unknown as string[][]), { code: 'WARREN_ERR_BAD_REQUEST' }, 'lists of labels');
  await t.rejects(rt.answerPermission(s.id, 'per_x', 'sometimes' as 'once'), { code: 'WARREN_ERR_BAD_REQUEST' }, 'a permission reply that is none');
  t.notOk(run.settled(), 'the question still waits');

  await rt.answerQuestion(s.id, q.id, [['blue']]);
  const r = await run.promise;
  t.equal(r.text, `echo: ${prompt}\ntool said: User has answered your questions: "Which colour?"="blue". You can now continue with the user's answers in mind.`);
  t.equal((await historyOf(ws, s.id)).filter((m) => m.text === prompt).length, 1, 'the message is in the history once');
});

t.test('a question dismissed: the run ends, as in opencode, with no reply text', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('dismiss');
  const s = await rt.createSession({ directory: dir });
  const asked: QuestionRequest[] = [];
  const run = rt.chat(s.id, { text: '[[fake:question=Go on?|yes|no]] ask', onQuestion: (q) => asked.push(q) });
  const q = await waitFor('the question event', () => asked[0], { timeoutMs: 60_000 });
  await rt.answerQuestion(s.id, q.id, 'reject');
  t.equal((await run).text, '');
  t.match(await toolParts(rt, s.id, dir), [{ tool: 'question', status: 'error', error: /dismissed/ }]);
});

t.test('nobody answers: ASK_TIMEOUT, the run is aborted and opencode holds no request any more', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('timeout');
  const s = await rt.createSession({ directory: dir });
  const asked: PermissionRequest[] = [];
  const started = Date.now();
  await t.rejects(rt.chat(s.id, { text: '[[fake:bash=touch never.txt]] wait', onPermission: (p) => asked.push(p), askTimeoutMs: 3000, progressTimeoutMs: 1000 }), {
    code: 'WARREN_ERR_ASK_TIMEOUT', message: /asked for a permission .* nobody answered within 3 s; the run was aborted/,
  });
  t.equal(asked.length, 1, 'the caller was asked');
  t.ok(Date.now() - started < 60_000);
  await waitFor('opencode to stop the run', () => idle(rt, s.id, dir), { timeoutMs: 30_000 });
  t.same(await pendingIn(rt, dir), [], 'the request was cleared, not left for an attached TUI to show');
  await t.rejects(rt.answerPermission(s.id, asked[0]!.id, 'once'), { code: 'WARREN_ERR_REQUEST_NOT_FOUND' }, 'too late to answer');
  t.notOk(await exists(`${dir}/never.txt`));
  const next = await rt.chat(s.id, { text: 'still there?' });
  t.equal(next.text, 'echo: still there?', 'the session works afterwards');
});

t.test('a subagent asks: the caller gets its request and answers it through the run\'s session', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('subagent');
  const s = await rt.createSession({ directory: dir });
  const prompt = '[[fake:tool=task:{"description":"sub","prompt":"[[fake:bash=touch sub.txt]] child","subagent_type":"general"}]] delegate';
  const asked: PermissionRequest[] = [];
  const run = tracked(rt.chat(s.id, { text: prompt, onPermission: (p) => asked.push(p), progressTimeoutMs: WATCHDOG_MS }));
  const p = await waitFor('the subagent\'s permission event', () => asked[0], { timeoutMs: 60_000 });
  t.not(p.sessionID, s.id, 'asked in the subagent\'s own session');
  await delay(WATCHDOG_MS + 2000); // past the progress watchdog: the subagent waits for a person, so does the run
  t.notOk(run.settled(), 'the run waits with it');
  await rt.answerPermission(s.id, p.id, 'once');
  t.equal((await run.promise).text, `echo: ${prompt}`);
  t.ok(await exists(`${dir}/sub.txt`), 'the subagent\'s command ran');
});

t.test('the link drops while a permission waits: the run resubscribes, still waits (asked once), and the answer completes it', async (t) => {
  const lines = sharedLines;
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('drop-wait');
  const s = await rt.createSession({ directory: dir });
  const prompt = '[[fake:bash=echo after-the-drop]] across a drop';
  const asked: PermissionRequest[] = [];
  const run = tracked(rt.chat(s.id, { text: prompt, onPermission: (p) => asked.push(p), progressTimeoutMs: WATCHDOG_MS, deadlineMs: 60_000 }));
  const p = await waitFor('the permission event', () => asked[0], { timeoutMs: 60_000 });
  t.teardown(() => ws.startSshd().catch(() => {}));
  await ws.killSshd();
  await waitFor('the link to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
  const before = lines.length;
  await ws.startSshd();
  await waitFor('the run to stream again', () => lines.slice(before).some((l) => l.includes('"to":"streaming"')), { timeoutMs: 30_000 });
  await delay(WATCHDOG_MS + 2000); // past the progress watchdog once more, on the new stream
  t.notOk(run.settled(), 'the run still waits for the person');
  t.equal(asked.length, 1, 'the request the caller has was not sent again');
  await rt.answerPermission(s.id, p.id, 'once');
  t.equal((await run.promise).text, `echo: ${prompt}\ntool said: after-the-drop`);
});

t.test('answered while the link is down (by an attached TUI, say): the run completes, and a late answer finds nothing', async (t) => {
  const rt = shared.get();
  await rt.link.waitForUp(10_000);
  const dir = await askingDir('drop-answered');
  const s = await rt.createSession({ directory: dir });
  const prompt = '[[fake:bash=echo answered-elsewhere]] during a drop';
  const asked: PermissionRequest[] = [];
  const run = rt.chat(s.id, { text: prompt, onPermission: (p) => asked.push(p), progressTimeoutMs: WATCHDOG_MS, deadlineMs: 60_000 });
  run.catch(() => {});
  const p = await waitFor('the permission event', () => asked[0], { timeoutMs: 60_000 });
  t.teardown(() => ws.startSshd().catch(() => {}));
  await ws.killSshd();
  await waitFor('the link to notice', () => rt.link.state !== 'up', { timeoutMs: 10_000 });
  // Inside the workspace, straight to opencode: what an attached TUI's answer is.
  const port = rt.config.opencode.port;
  const answer = await ws.runAsUser(['sh', '-c',
    'curl -sf -u "opencode:$(cat "$HOME/.local/state/warren/opencode-$1.password")" -H "content-type: application/json" -d \'{"reply":"once"}\' "http://127.0.0.1:$1/permission/$2/reply?directory=$3"',
    'x', String(port), p.id, dir]);
  t.equal(answer.stdout.trim(), 'true', 'opencode took the answer');
  await ws.startSshd();
  t.equal((await run).text, `echo: ${prompt}\ntool said: answered-elsewhere`, 'the run completed across the drop');
  t.equal(asked.length, 1);
  await t.rejects(rt.answerPermission(s.id, p.id, 'once'), { code: 'WARREN_ERR_REQUEST_NOT_FOUND' });
});

t.test('nothing is left behind', async (t) => {
  await shared.close();
  await expectNothingLeft(t, ws);
});
