// Reply assembly on canned event sequences: what a caller is sent is always a
// prefix of the reply and, in the end, exactly the reply, whatever order the
// events came in and wherever the stream broke.
import t from 'tap';
import type { Event, Message, Part, PermissionRequest, QuestionRequest } from '@opencode-ai/sdk/v2';
import { ReplyAssembler, type HistoryEntry, type ToolEvent } from '../src/opencode/reply.js';

const SID = 'ses_0000000000000000000000000a';
const MID = 'msg_user';
const AID = 'msg_assistant';

function assembler() {
  const deltas: string[] = [];
  const tools: ToolEvent[] = [];
  const permissions: PermissionRequest[] = [];
  const questions: QuestionRequest[] = [];
  const r = new ReplyAssembler(SID, MID, {
    delta: (d) => deltas.push(d), tool: (x) => tools.push(x),
    permission: (p) => permissions.push(p), question: (q) => questions.push(q),
  });
  return { r, deltas, tools, permissions, questions, sent: () => deltas.join('') };
}

function assistantInfo(o: { id?: string; completed?: boolean; error?: string; parentID?: string; sessionID?: string } = {}): Message {
  return {
    id: o.id ?? AID, sessionID: o.sessionID ?? SID, role: 'assistant', parentID: o.parentID ?? MID,
    time: { created: 1, ...(o.completed ? { completed: 2 } : {}) },
    ...(o.error ? { error: { name: 'APIError', data: { message: o.error, isRetryable: false } } } : {}),
    modelID: 'm', providerID: 'p', mode: 'build', agent: 'build', path: { cwd: '/', root: '/' }, cost: 0,
    tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } },
  } as unknown as Message;
}
function userInfo(id = MID): Message {
  return { id, sessionID: SID, role: 'user', time: { created: 1 }, agent: 'build', model: { providerID: 'p', modelID: 'm' } } as unknown as Message;
}
const updated = (info: Message): Event => ({ id: 'e', type: 'message.updated', properties: { sessionID: info.sessionID, info } } as unknown as Event);
const delta = (d: string, partID = 'prt_1', messageID = AID, sessionID = SID): Event =>
  ({ id: 'e', type: 'message.part.delta', properties: { sessionID, messageID, partID, field: 'text', delta: d } } as Event);
const textPart = (text: string, id = 'prt_1', messageID = AID): Part => ({ id, sessionID: SID, messageID, type: 'text', text } as Part);
const partUpdated = (part: Part): Event => ({ id: 'e', type: 'message.part.updated', properties: { sessionID: SID, part, time: 1 } } as unknown as Event);
const status = (type: 'busy' | 'idle', sessionID = SID): Event => ({ id: 'e', type: 'session.status', properties: { sessionID, status: { type } } } as Event);
const history = (...entries: HistoryEntry[]): HistoryEntry[] => entries;

t.test('deltas stream as they come, and the final history read adds nothing when all arrived', async (t) => {
  const { r, deltas, sent } = assembler();
  t.equal(r.event(status('busy')), 'progress');
  r.event(updated(assistantInfo()));
  r.event(partUpdated(textPart('')));
  for (const d of ['Hel', 'lo, ', 'wörld ', '日本語 👩‍👩‍👧']) r.event(delta(d));
  t.equal(r.event(status('idle')), 'idle', 'idle after the run began ends it');
  const text = r.final(history({ info: userInfo(), parts: [] }, { info: assistantInfo({ completed: true }), parts: [textPart('Hello, wörld 日本語 👩‍👩‍👧')] }));
  t.equal(text, 'Hello, wörld 日本語 👩‍👩‍👧');
  t.equal(sent(), text, 'the deltas add up to the reply');
  t.equal(deltas.length, 4, 'nothing sent twice');
  t.ok(r.modelCalled, 'a part of the reply means the model was called');
});

t.test('deltas that arrive before their message is known are held, then sent in order once it answers ours', async (t) => {
  const { r, sent } = assembler();
  r.event(delta('one '));
  r.event(delta('two '));
  t.equal(sent(), '', 'nothing before we know whose message it is');
  r.event(updated(assistantInfo()));
  t.equal(sent(), '', 'nor before we know the part is text');
  r.event(partUpdated(textPart('')));
  r.event(delta('three'));
  t.equal(sent(), 'one two three');
});

t.test('deltas of another message, session or a reply to another prompt never reach the caller', async (t) => {
  const { r, sent } = assembler();
  r.event(updated(assistantInfo({ id: 'msg_other', parentID: 'msg_someone_else' })));
  r.event(delta('not ours', 'prt_x', 'msg_other'));
  t.equal(r.event(delta('other session', 'prt_y', AID, 'ses_other')), 'other');
  t.equal(r.event(status('idle', 'ses_other')), 'other');
  t.equal(sent(), '');
});

t.test('idle before the run began (the idle of the previous message) does not end the run', async (t) => {
  const { r } = assembler();
  t.equal(r.event(status('idle')), 'progress');
  t.equal(r.event({ id: 'e', type: 'session.idle', properties: { sessionID: SID } } as Event), 'progress');
  r.event(status('busy'));
  t.equal(r.event({ id: 'e', type: 'session.idle', properties: { sessionID: SID } } as Event), 'idle');
});

t.test('a stream that broke mid-reply: the history supplies the missed text, and late deltas are not sent twice', async (t) => {
  const { r, sent } = assembler();
  r.event(updated(assistantInfo()));
  r.event(partUpdated(textPart('')));
  r.event(delta('The quick '));
  r.streamBroken();
  r.event(delta('fox ')); // after a lost 'brown ': must not be appended
  t.equal(sent(), 'The quick ', 'a delta after a gap is dropped');
  const arrived = r.resync(history({ info: userInfo(), parts: [] }, { info: assistantInfo(), parts: [textPart('The quick brown ')] }));
  t.ok(arrived, 'the prompt is in the history');
  t.equal(sent(), 'The quick brown ', 'the history filled the gap');
  r.event(delta('brown ')); // in flight before the history read: a repeat
  t.equal(sent(), 'The quick brown ', 'deltas that may repeat the history are not trusted');
  r.event(partUpdated(textPart('The quick brown fox')));
  t.equal(sent(), 'The quick brown fox', 'the next full text sends only what is new');
  r.event(delta(' jumps'));
  t.equal(sent(), 'The quick brown fox jumps', 'after a full text, deltas are trusted again');
  const text = r.final(history({ info: assistantInfo({ completed: true }), parts: [textPart('The quick brown fox jumps.')] }));
  t.equal(sent(), text, 'the deltas add up to the reply');
});

t.test('resync says when the prompt never arrived, and finishedIn when the reply finished unseen', async (t) => {
  const { r } = assembler();
  t.notOk(r.resync(history({ info: userInfo('msg_earlier'), parts: [] })), 'not in the history');
  t.notOk(r.finishedIn(history({ info: userInfo(), parts: [] })), 'no reply yet');
  t.notOk(r.finishedIn(history({ info: userInfo(), parts: [] }, { info: assistantInfo(), parts: [] })), 'a reply still running');
  t.ok(r.finishedIn(history({ info: userInfo(), parts: [] }, { info: assistantInfo({ completed: true }), parts: [] })), 'a completed reply');
  t.ok(r.finishedIn(history({ info: userInfo(), parts: [] }, { info: assistantInfo({ error: 'boom' }), parts: [] })), 'a failed reply');
});

t.test('a reply over several assistant messages (tool steps): text in order, tools reported', async (t) => {
  const { r, sent, tools } = assembler();
  r.event(updated(assistantInfo({ id: 'msg_a1' })));
  r.event(partUpdated(textPart('', 'prt_a', 'msg_a1')));
  r.event(delta('Let me look. ', 'prt_a', 'msg_a1'));
  r.event(partUpdated({ id: 'prt_t', sessionID: SID, messageID: 'msg_a1', type: 'tool', callID: 'c1', tool: 'bash', state: { status: 'running', input: {}, time: { start: 1 } } } as Part));
  r.event(updated(assistantInfo({ id: 'msg_a2' })));
  r.event(partUpdated(textPart('', 'prt_b', 'msg_a2')));
  r.event(delta('Done.', 'prt_b', 'msg_a2'));
  t.same(tools, [{ name: 'bash', status: 'running', callID: 'c1' }]);
  const text = r.final(history(
    { info: assistantInfo({ id: 'msg_a1', completed: true }), parts: [textPart('Let me look. ', 'prt_a', 'msg_a1')] },
    { info: assistantInfo({ id: 'msg_a2', completed: true }), parts: [textPart('Done.', 'prt_b', 'msg_a2')] },
  ));
  t.equal(text, 'Let me look. Done.');
  t.equal(sent(), text);
});

t.test('an error on the reply or the session is kept, with opencode\'s message', async (t) => {
  const a = assembler();
  a.r.event(updated(assistantInfo({ error: 'rate limited' })));
  t.equal(a.r.error, 'rate limited');
  const b = assembler();
  b.r.event({ id: 'e', type: 'session.error', properties: { sessionID: SID, error: { name: 'UnknownError', data: { message: 'disk full' } } } } as Event);
  t.equal(b.r.error, 'disk full');
  t.ok(b.r.started, 'an error means the run began');
});

t.test('every other event about our session counts as a sign of life; others do not', async (t) => {
  const { r } = assembler();
  t.equal(r.event({ id: 'e', type: 'message.part.delta', properties: { sessionID: SID, messageID: AID, partID: 'p', field: 'reasoning', delta: 'hmm' } } as Event), 'progress', 'reasoning');
  t.equal(r.event({ id: 'e', type: 'session.diff', properties: { sessionID: SID, diff: [] } } as unknown as Event), 'progress', 'a diff');
  t.equal(r.event({ id: 'e', type: 'server.heartbeat', properties: {} } as unknown as Event), 'other', 'a heartbeat is life of the server, not of the run');
  t.equal(r.event(updated(userInfo())), 'progress', 'our own prompt being stored');
});

t.test('the final read completes a reply whose deltas were cut off, without resending', async (t) => {
  const { r, sent, deltas } = assembler();
  r.event(updated(assistantInfo()));
  r.event(partUpdated(textPart('')));
  r.event(delta('日本'));
  const text = r.final(history({ info: assistantInfo({ completed: true }), parts: [textPart('日本語のテキスト')] }));
  t.equal(sent(), text);
  t.same(deltas, ['日本', '語のテキスト']);
});

t.test('reasoning streams as field "text" too, but never reaches the caller: the deltas still add up to the reply', async (t) => {
  const { r, sent } = assembler();
  r.event(updated(assistantInfo()));
  r.event(delta('thinking… ', 'prt_r'));
  r.event(partUpdated({ id: 'prt_r', sessionID: SID, messageID: AID, type: 'reasoning', text: '', time: { start: 1 } } as Part));
  r.event(delta('still thinking', 'prt_r'));
  r.event(partUpdated(textPart('', 'prt_t')));
  r.event(delta('The answer.', 'prt_t'));
  t.equal(sent(), 'The answer.', 'only the text part streamed');
  const text = r.final(history({ info: assistantInfo({ completed: true }), parts: [
    { id: 'prt_r', sessionID: SID, messageID: AID, type: 'reasoning', text: 'thinking… still thinking', time: { start: 1 } } as Part,
    textPart('The answer.', 'prt_t'),
  ] }));
  t.equal(text, 'The answer.');
  t.equal(sent(), text);
});

t.test('the model counts as called once opencode goes busy with a reply of ours, and a retry says when the next attempt is', async (t) => {
  const { r } = assembler();
  r.event(status('busy'));
  t.notOk(r.modelCalled, 'busy before the reply exists is the run starting, not the model call');
  r.event(updated(assistantInfo()));
  t.notOk(r.modelCalled, 'the reply message alone is not the call either');
  r.event({ id: 'e', type: 'session.status', properties: { sessionID: SID, status: { type: 'retry', attempt: 1, message: 'overloaded', next: 12345 } } } as Event);
  t.ok(r.modelCalled, 'busy or retry with the reply there is');
  t.equal(r.retryAt, 12345, 'the next attempt');
  r.event(status('busy'));
  t.equal(r.retryAt, null, 'cleared once it runs again');
});

// ---- permissions and questions: the events exactly as opencode 1.18.33 sends them ----

const CHILD = 'ses_0000000000000000000000000c';
function permissionRequest(id = 'per_1', sessionID = SID, messageID = AID): PermissionRequest {
  return {
    id, sessionID, permission: 'bash', patterns: ['echo ran-it > ran.txt', 'echo hello-from-bash'],
    metadata: { command: 'echo ran-it > ran.txt; echo hello-from-bash' }, always: ['echo *'],
    tool: { messageID, callID: 'call_fake_chatcmpl-fake-2' },
  };
}
function questionRequest(id = 'que_1', sessionID = SID, messageID = AID): QuestionRequest {
  return {
    id, sessionID,
    questions: [{ question: 'Which color?', header: 'Color', options: [{ label: 'red', description: 'warm' }, { label: 'blue', description: 'cool' }] }],
    tool: { messageID, callID: 'call_fake_chatcmpl-fake-16' },
  };
}
const permissionAsked = (p: PermissionRequest): Event => ({ id: 'e', type: 'permission.asked', properties: p } as Event);
const questionAsked = (q: QuestionRequest): Event => ({ id: 'e', type: 'question.asked', properties: q } as Event);
const permissionReplied = (requestID: string, reply: 'once' | 'always' | 'reject' = 'once', sessionID = SID): Event =>
  ({ id: 'e', type: 'permission.replied', properties: { sessionID, requestID, reply } } as Event);
const questionReplied = (requestID: string, answers: string[][], sessionID = SID): Event =>
  ({ id: 'e', type: 'question.replied', properties: { sessionID, requestID, answers } } as Event);
const questionRejected = (requestID: string, sessionID = SID): Event => ({ id: 'e', type: 'question.rejected', properties: { sessionID, requestID } } as Event);
const sessionCreated = (id: string, parentID?: string): Event => ({
  id: 'e', type: 'session.created',
  properties: { sessionID: id, info: { id, slug: 's', projectID: 'global', directory: '/d', title: 't', version: '1.18.33', time: { created: 1, updated: 1 }, ...(parentID ? { parentID } : {}) } },
} as unknown as Event);

t.test('a permission asked: the caller gets the request once, and the run waits for a person until it is answered', async (t) => {
  const { r, permissions, sent } = assembler();
  r.event(status('busy'));
  r.event(updated(assistantInfo()));
  t.notOk(r.waitingForPerson, 'nobody asked yet');
  t.equal(r.event(permissionAsked(permissionRequest())), 'progress', 'asking is a sign of life');
  t.same(permissions, [permissionRequest()], 'the request as opencode sent it: id, permission, patterns, metadata, always, tool');
  t.ok(r.waitingForPerson);
  t.same(r.pendingAsks(), [{ id: 'per_1', kind: 'permission', sessionID: SID }]);
  r.event(permissionAsked(permissionRequest()));
  t.equal(permissions.length, 1, 'a repeated event is not sent again');
  t.equal(r.event(permissionReplied('per_1', 'once')), 'progress');
  t.notOk(r.waitingForPerson, 'answered');
  t.same(r.pendingAsks(), []);
  t.equal(sent(), '', 'no text came of it');
});

t.test('a question asked, then answered or dismissed', async (t) => {
  const a = assembler();
  a.r.event(updated(assistantInfo()));
  a.r.event(questionAsked(questionRequest()));
  t.same(a.questions, [questionRequest()], 'the request: id and questions (and the tool call)');
  t.ok(a.r.waitingForPerson);
  a.r.event(questionReplied('que_1', [['blue']]));
  t.notOk(a.r.waitingForPerson, 'answered');

  const b = assembler();
  b.r.event(updated(assistantInfo()));
  b.r.event(questionAsked(questionRequest()));
  t.equal(b.r.event(questionRejected('que_1')), 'progress');
  t.notOk(b.r.waitingForPerson, 'dismissed');
  t.same(b.permissions, [], 'a question is not a permission');
});

t.test('two requests at once: the run waits until both are answered', async (t) => {
  const { r } = assembler();
  r.event(updated(assistantInfo()));
  r.event(permissionAsked(permissionRequest('per_1')));
  r.event(questionAsked(questionRequest('que_1')));
  r.event(questionReplied('que_1', [['red']]));
  t.ok(r.waitingForPerson, 'the permission still waits');
  r.event(permissionReplied('per_1', 'reject'));
  t.notOk(r.waitingForPerson);
});

t.test('requests of other sessions never reach the caller', async (t) => {
  const { r, permissions, questions } = assembler();
  t.equal(r.event(permissionAsked(permissionRequest('per_x', 'ses_other'))), 'other');
  t.equal(r.event(questionAsked(questionRequest('que_x', 'ses_other'))), 'other');
  t.equal(r.event(permissionReplied('per_x', 'once', 'ses_other')), 'other');
  t.same([permissions, questions], [[], []]);
  t.notOk(r.waitingForPerson);
  t.equal(r.event(sessionCreated('ses_unrelated', 'ses_other')), 'other', 'nor does a child of another session become ours');
  t.equal(r.event(permissionAsked(permissionRequest('per_y', 'ses_unrelated'))), 'other');
});

t.test('a subagent asks: its session is ours, its requests reach the caller, its events are life but never text', async (t) => {
  const { r, permissions, sent } = assembler();
  r.event(updated(assistantInfo()));
  t.equal(r.event(sessionCreated(CHILD, SID)), 'progress', 'a child session of ours');
  t.equal(r.event(updated(assistantInfo({ id: 'msg_child', sessionID: CHILD, parentID: 'msg_child_user' }))), 'progress', 'its work is a sign of life of the run');
  t.equal(r.event(delta('child text', 'prt_c', 'msg_child', CHILD)), 'progress');
  t.equal(r.event(status('idle', CHILD)), 'progress', 'its idle is not ours');
  t.equal(sent(), '', 'its text is not the reply');
  r.event(permissionAsked(permissionRequest('per_c', CHILD, 'msg_child')));
  t.same(permissions.map((p) => [p.id, p.sessionID]), [['per_c', CHILD]]);
  t.ok(r.waitingForPerson);
  r.event(permissionReplied('per_c', 'once', CHILD));
  t.notOk(r.waitingForPerson);
});

t.test('after a broken stream, opencode\'s pending lists supply what was missed, once', async (t) => {
  const { r, permissions, questions } = assembler();
  r.event(updated(assistantInfo()));
  r.event(permissionAsked(permissionRequest('per_seen')));
  r.streamBroken();
  // During the drop: per_seen was answered, a second step of the reply (msg_a2, known
  // only from the history) asked que_new, the previous (aborted) run of the session
  // left a request opencode still lists, and another session asks too. chat.ts reads
  // the lists, then the history, and hands over the history first.
  r.resync(history({ info: userInfo(), parts: [] }, { info: assistantInfo(), parts: [] }, { info: assistantInfo({ id: 'msg_a2' }), parts: [] }));
  r.resyncAsks(
    [permissionRequest('per_stale', SID, 'msg_previous_reply'), permissionRequest('per_other', 'ses_other')],
    [questionRequest('que_new', SID, 'msg_a2')],
  );
  t.same(questions.map((q) => q.id), ['que_new'], 'the missed question is sent');
  t.same(permissions.map((p) => p.id), ['per_seen'], 'nothing stale, nothing of others, nothing twice');
  t.same(r.pendingAsks().map((a) => a.id), ['que_new'], 'the answered one is no longer pending');
  r.event(questionAsked(questionRequest('que_new', SID, 'msg_a2')));
  t.equal(questions.length, 1, 'the live event after the resync is not sent again');
});

t.test('an answer seen live is not undone by a pending list read before it', async (t) => {
  const { r, permissions } = assembler();
  r.event(updated(assistantInfo()));
  r.event(permissionAsked(permissionRequest('per_1')));
  r.event(permissionReplied('per_1', 'once'));
  r.resyncAsks([permissionRequest('per_1')], []);
  t.notOk(r.waitingForPerson);
  t.equal(permissions.length, 1);
});

t.test('a subagent made during a drop is found through its task call in the history', async (t) => {
  const { r, permissions } = assembler();
  r.event(updated(assistantInfo()));
  r.streamBroken();
  const task = { id: 'prt_task', sessionID: SID, messageID: AID, type: 'tool', callID: 'c', tool: 'task', state: { status: 'running', input: {}, title: 'sub', metadata: { sessionId: CHILD }, time: { start: 1 } } } as unknown as Part;
  r.resync(history({ info: userInfo(), parts: [] }, { info: assistantInfo(), parts: [task] }));
  r.resyncAsks([permissionRequest('per_c', CHILD, 'msg_child')], []);
  t.same(permissions.map((p) => p.id), ['per_c']);
  t.equal(r.event(status('idle', CHILD)), 'progress', 'and its events are life of the run');
});

t.test('a sink without the ask callbacks still tracks what waits', async (t) => {
  const r = new ReplyAssembler(SID, MID, { delta: () => {}, tool: () => {} });
  r.event(updated(assistantInfo()));
  r.event(permissionAsked(permissionRequest()));
  t.ok(r.waitingForPerson);
});
