import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  readFakeModelLog,
  replyAfterTool,
  replyFor,
  toolCallFor,
  startFakeModel,
  type FakeModel,
  type FakeModelLogEntry,
  type FakeModelOptions,
} from '../container/fake-model/server.js';

interface HasTeardown {
  teardown(fn: () => unknown): void;
}

interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{ index: number; delta: { role?: string; content?: string }; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const MAIN_JS = fileURLToPath(new URL('../container/fake-model/main.js', import.meta.url));

// Polls a condition until it holds or the deadline passes.
async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function withDeadline<T>(what: string, promise: Promise<T>, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function tempDir(t: HasTeardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-model-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(t: HasTeardown, opts: FakeModelOptions = {}): Promise<FakeModel> {
  const model = await startFakeModel(opts);
  t.teardown(() => model.close());
  return model;
}

function chat(model: FakeModel, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${model.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
}

function userChat(prompt: string, extra: object = {}) {
  return { model: 'test-model', stream: true, messages: [{ role: 'user', content: prompt }], ...extra };
}

// Splits a complete SSE body into its data payloads, checking the framing.
function sseData(text: string): string[] {
  if (!text.endsWith('\n\n')) throw new Error(`SSE body does not end with a blank line: ${JSON.stringify(text)}`);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((frame) => {
      if (!frame.startsWith('data: ')) throw new Error(`bad SSE frame: ${JSON.stringify(frame)}`);
      return frame.slice('data: '.length);
    });
}

function contentOf(chunks: Chunk[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}

async function streamReply(res: Response): Promise<{ chunks: Chunk[]; text: string }> {
  const data = sseData(await res.text());
  if (data.at(-1) !== '[DONE]') throw new Error('stream did not end with [DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
  return { chunks, text: contentOf(chunks) };
}

// Reads SSE frames one at a time from a live response.
function frameReader(res: Response): { next: () => Promise<string | undefined>; cancel: () => Promise<void> } {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const next = async () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return frame.replace(/^data: /, '');
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  return { next, cancel: () => reader.cancel() };
}

function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = { TCPServerWrap: 0, TCPSocketWrap: 0, Timeout: 0 };
  for (const name of process.getActiveResourcesInfo()) if (name in counts) counts[name]! += 1;
  return counts;
}

t.test('replyFor echoes the trimmed prompt', async (t) => {
  t.equal(replyFor('  hello world \n'), 'echo: hello world');
  t.equal(replyFor('hello'), replyFor('hello'));
  t.not(replyFor('a'), replyFor('b'));
});

t.test('GET /v1/models lists the fake model', async (t) => {
  const model = await start(t);
  t.match(model.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  t.ok(model.port > 0);
  const res = await fetch(`${model.url}/models`);
  t.equal(res.status, 200);
  t.same(await res.json(), { object: 'list', data: [{ id: 'fake-model', object: 'model' }] });
});

t.test('unknown routes answer 404 JSON', async (t) => {
  const model = await start(t);
  for (const [method, path] of [
    ['GET', '/v1/nope'],
    ['GET', '/v1/chat/completions'],
    ['POST', '/v1/models'],
  ] as const) {
    const res = await fetch(`http://127.0.0.1:${model.port}${path}`, { method, body: method === 'POST' ? '{}' : null });
    t.equal(res.status, 404, `${method} ${path}`);
    t.match(res.headers.get('content-type'), /application\/json/);
    t.match(await res.json(), { error: { code: 404 } });
  }
});

t.test('streams the echo of the last user message in small chunks', async (t) => {
  const model = await start(t);
  const prompt = '  Please summarise the üñíçødé text in this message 😀 thoroughly ';
  const res = await chat(model, {
    model: 'some/model-id',
    stream: true,
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'an earlier question' },
      { role: 'assistant', content: 'an earlier answer' },
      { role: 'user', content: prompt },
    ],
  });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const { chunks, text } = await streamReply(res);
  t.equal(text, replyFor(prompt));

  const first = chunks[0]!;
  t.match(first, { object: 'chat.completion.chunk', model: 'some/model-id' });
  t.same(first.choices, [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);

  const content = chunks.slice(1, -1);
  t.ok(content.length > 1, 'reply is split into several chunks');
  for (const c of content) {
    t.equal(c.choices[0]!.finish_reason, null);
    t.ok([...c.choices[0]!.delta.content!].length <= 8, 'chunk has at most 8 characters');
  }

  const last = chunks.at(-1)!;
  t.same(last.choices, [{ index: 0, delta: {}, finish_reason: 'stop' }]);
  const usage = last.usage!;
  t.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0);
  t.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens > 0);
  t.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

  const ids = new Set(chunks.map((c) => c.id));
  t.equal(ids.size, 1, 'all chunks share one id');
  t.ok(chunks.every((c) => Number.isInteger(c.created)));
});

t.test('a 100 KB prompt streams back whole (12,800 chunks), and the model keeps serving', async (t) => {
  const model = await start(t);
  const prompt = `${'x'.repeat(100 * 1024)} 😀`;
  const { chunks, text } = await streamReply(await chat(model, userChat(prompt)));
  t.equal(text, replyFor(prompt));
  t.ok(chunks.length > 12_000, `${chunks.length} chunks`);
  const again = await streamReply(await chat(model, userChat('still here')));
  t.equal(again.text, 'echo: still here');
});

t.test('joins text parts of an array content with newlines', async (t) => {
  const model = await start(t);
  const res = await chat(model, {
    model: 'm',
    stream: true,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'first part' },
          { type: 'image_url', image_url: { url: 'data:,' } },
          { type: 'text', text: 'second part' },
        ],
      },
    ],
  });
  t.equal((await streamReply(res)).text, replyFor('first part\nsecond part'));
});

t.test('answers a plain chat.completion when stream is false', async (t) => {
  const model = await start(t);
  const res = await chat(model, userChat('no streaming please', { stream: false }));
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  t.match(body, {
    object: 'chat.completion',
    model: 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content: replyFor('no streaming please') }, finish_reason: 'stop' }],
    usage: { prompt_tokens: Number, completion_tokens: Number, total_tokens: Number },
  });
});

t.test('title requests get a title and ignore every fault mode', async (t) => {
  const dir = tempDir(t);
  const modeFile = join(dir, 'mode.json');
  const logFile = join(dir, 'log.jsonl');
  writeFileSync(modeFile, JSON.stringify({ hang: true }));
  const model = await start(t, { modeFile, logFile });
  const prompt = 'Refactor the login flow [[fake:error=500]] [[fake:hang]] now';
  const res = await chat(model, {
    model: 'small-model',
    stream: true,
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'You are a title generator. You output ONLY a thread title.' }] },
      { role: 'user', content: 'Generate a title for this conversation:' },
      { role: 'user', content: prompt },
    ],
  });
  t.equal(res.status, 200);
  t.equal((await streamReply(res)).text, 'Title: Refactor the login flow [[fake:error=500]]');
  t.match(readFakeModelLog(logFile), [{ kind: 'title', prompt, mode: 'normal', model: 'small-model' }]);
});

interface ToolCallChunk { choices: Array<{ delta: { tool_calls?: Array<{ index: number; id?: string; type?: string; function: { name?: string; arguments: string } }> }; finish_reason: string | null }> }

// The streamed tool call put back together, as an OpenAI client does.
function toolCallOf(chunks: Chunk[]): { id: string; name: string; arguments: string; finish: string | null } {
  let id = '';
  let name = '';
  let args = '';
  for (const c of chunks as unknown as ToolCallChunk[]) {
    for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
      id ||= tc.id ?? '';
      name ||= tc.function.name ?? '';
      args += tc.function.arguments;
    }
  }
  return { id, name, arguments: args, finish: chunks.at(-1)!.choices[0]!.finish_reason };
}

// The conversation opencode sends back once the tool ran: the tool call, then its result.
function afterTool(prompt: string, callId: string, name: string, args: string, result: string) {
  return {
    model: 'test-model',
    stream: true,
    messages: [
      { role: 'system', content: 'You are opencode.' },
      { role: 'user', content: prompt },
      { role: 'assistant', content: '', tool_calls: [{ id: callId, type: 'function', function: { name, arguments: args } }] },
      { role: 'tool', tool_call_id: callId, content: result },
    ],
  };
}

t.test('toolCallFor reads the tool directives; the first one in the prompt wins', async (t) => {
  t.equal(toolCallFor('no directive here'), null);
  t.same(toolCallFor('[[fake:tool=read:{"filePath":"/x"}]] read'), { name: 'read', arguments: '{"filePath":"/x"}', echoResult: false });
  t.same(toolCallFor('run [[fake:bash=echo "a]b" > f; ls -1]] now'), { name: 'bash', arguments: JSON.stringify({ command: 'echo "a]b" > f; ls -1' }), echoResult: true });
  t.same(JSON.parse(toolCallFor('[[fake:question=Which colour do you like?|red | blue]]')!.arguments), {
    questions: [{ question: 'Which colour do you like?', header: 'Which colour do you like?', options: [{ label: 'red', description: 'red' }, { label: 'blue', description: 'blue' }] }],
  });
  t.equal(JSON.parse(toolCallFor(`[[fake:question=${'q'.repeat(40)}|a]]`)!.arguments).questions[0].header, 'q'.repeat(30), 'the header is cut to 30 characters');
  t.equal(toolCallFor('[[fake:question=Q?|a]] then [[fake:bash=ls]]')!.name, 'question');
  t.equal(toolCallFor('[[fake:bash=ls]] then [[fake:question=Q?|a]]')!.name, 'bash');
});

t.test('bash directive: one bash tool call, then the echo with the tool result', async (t) => {
  const model = await start(t);
  const prompt = '[[fake:bash=echo hello > out.txt; cat out.txt]] please run it';
  const first = await streamReply(await chat(model, userChat(prompt)));
  const call = toolCallOf(first.chunks);
  t.equal(call.name, 'bash');
  t.same(JSON.parse(call.arguments), { command: 'echo hello > out.txt; cat out.txt' });
  t.equal(call.finish, 'tool_calls');
  t.equal(first.text, '', 'no text with the call');
  t.match(call.id, /^call_fake_/);

  const second = await streamReply(await chat(model, afterTool(prompt, call.id, call.name, call.arguments, 'hello\n')));
  t.equal(second.text, replyAfterTool(prompt, 'hello\n'));
  t.equal(second.text, `echo: ${prompt}\ntool said: hello`);
  t.notOk(toolCallOf(second.chunks).name, 'no second call');
  t.equal(second.chunks.at(-1)!.choices[0]!.finish_reason, 'stop');

  const next = await streamReply(await chat(model, userChat(prompt)));
  t.equal(toolCallOf(next.chunks).name, 'bash', 'the same prompt as a new message calls the tool again');
});

t.test('question directive: one question tool call, then the echo with the answer', async (t) => {
  const model = await start(t);
  const prompt = '[[fake:question=Which colour?|red|blue]] ask me';
  const first = await streamReply(await chat(model, userChat(prompt)));
  const call = toolCallOf(first.chunks);
  t.equal(call.name, 'question');
  t.same(JSON.parse(call.arguments), { questions: [{ question: 'Which colour?', header: 'Which colour?', options: [{ label: 'red', description: 'red' }, { label: 'blue', description: 'blue' }] }] });
  // opencode's words for an answered question (1.18.33).
  const result = 'User has answered your questions: "Which colour?"="blue". You can now continue with the user\'s answers in mind.';
  const second = await streamReply(await chat(model, afterTool(prompt, call.id, call.name, call.arguments, result)));
  t.equal(second.text, `echo: ${prompt}\ntool said: ${result}`);
});

t.test('tool directive: the JSON goes as written; the answer is the plain echo', async (t) => {
  const model = await start(t);
  const prompt = '[[fake:tool=read:{"filePath":"/tmp/x"}]] read it';
  const first = await streamReply(await chat(model, userChat(prompt)));
  const call = toolCallOf(first.chunks);
  t.same({ name: call.name, arguments: call.arguments }, { name: 'read', arguments: '{"filePath":"/tmp/x"}' });
  const second = await streamReply(await chat(model, afterTool(prompt, call.id, call.name, call.arguments, 'file contents')));
  t.equal(second.text, replyFor(prompt));
});

t.test('tool calls without streaming come as one message', async (t) => {
  const model = await start(t);
  const res = await chat(model, userChat('[[fake:bash=ls]] list', { stream: false }));
  t.match(await res.json(), {
    choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: /^call_fake_/, type: 'function', function: { name: 'bash', arguments: '{"command":"ls"}' } }] }, finish_reason: 'tool_calls' }],
  });
});

t.test('title requests never call tools', async (t) => {
  const model = await start(t);
  const res = await chat(model, {
    model: 'small-model', stream: true,
    messages: [
      { role: 'system', content: 'You are a title generator. You output ONLY a thread title.' },
      { role: 'user', content: '[[fake:bash=ls]] list the files' },
    ],
  });
  const { chunks, text } = await streamReply(res);
  t.equal(text, 'Title: [[fake:bash=ls]] list the files');
  t.notOk(toolCallOf(chunks).name);
});

t.test('error directive answers with an OpenAI-style error', async (t) => {
  const model = await start(t);
  const res = await chat(model, userChat('please fail [[fake:error=503]]'));
  t.equal(res.status, 503);
  t.match(res.headers.get('content-type'), /application\/json/);
  t.same(await res.json(), { error: { message: 'fake model error', type: 'fake_error', code: 503 } });
});

t.test('mode file is re-read on every request and prompt directives win over it', async (t) => {
  const dir = tempDir(t);
  const modeFile = join(dir, 'mode.json');
  const logFile = join(dir, 'log.jsonl');
  const model = await start(t, { modeFile, logFile });

  let res = await chat(model, userChat('no mode file yet'));
  t.equal((await streamReply(res)).text, replyFor('no mode file yet'), 'missing file means normal mode');

  writeFileSync(modeFile, JSON.stringify({ error: { status: 429, message: 'slow down' } }));
  res = await chat(model, userChat('rate limited'));
  t.equal(res.status, 429);
  t.same(await res.json(), { error: { message: 'slow down', type: 'fake_error', code: 429 } });

  res = await chat(model, userChat('directive wins [[fake:slow=1]]'));
  t.equal(res.status, 200, 'a prompt directive replaces the file mode');
  t.equal((await streamReply(res)).text, replyFor('directive wins [[fake:slow=1]]'));

  writeFileSync(modeFile, '');
  res = await chat(model, userChat('empty file'));
  t.equal((await streamReply(res)).text, replyFor('empty file'), 'empty file means normal mode');

  writeFileSync(modeFile, '{ not json');
  res = await chat(model, userChat('broken file'));
  t.equal((await streamReply(res)).text, replyFor('broken file'), 'unparseable file means normal mode');

  unlinkSync(modeFile);
  res = await chat(model, userChat('file removed'));
  t.equal((await streamReply(res)).text, replyFor('file removed'));

  t.same(
    readFakeModelLog(logFile).map((e) => e.mode),
    ['normal', 'error', 'slow', 'normal', 'normal', 'normal'],
  );
});

t.test('slow mode delays content chunks but not the headers', async (t) => {
  const model = await start(t);

  const prompt = 'twenty-four characters!! [[fake:slow=30]]';
  const started = Date.now();
  const res = await chat(model, userChat(prompt));
  const { chunks, text } = await streamReply(res);
  const elapsed = Date.now() - started;
  t.equal(text, replyFor(prompt));
  const contentChunks = chunks.length - 2;
  // Timers may fire a millisecond early, hence the small tolerance.
  t.ok(elapsed >= contentChunks * 30 - 5, `took ${elapsed}ms for ${contentChunks} chunks of 30ms`);

  // With a very long delay the headers and the role chunk still arrive at once,
  // and the pending chunk timer goes away when the client does.
  const baseline = handleCounts().Timeout!;
  const slow = await chat(model, userChat('[[fake:slow=600000]]'));
  t.equal(slow.status, 200);
  const frames = frameReader(slow);
  const first = JSON.parse((await frames.next())!) as Chunk;
  t.same(first.choices[0]!.delta, { role: 'assistant', content: '' });
  t.ok(handleCounts().Timeout! > baseline, 'a chunk timer is pending');
  await frames.cancel();
  await waitFor('chunk timer to be cleared', () => handleCounts().Timeout! <= baseline);
  t.pass('chunk timer cleared after the client left');
});

t.test('slow mode from the mode file', async (t) => {
  const dir = tempDir(t);
  const modeFile = join(dir, 'mode.json');
  writeFileSync(modeFile, JSON.stringify({ chunkDelayMs: 5 }));
  const logFile = join(dir, 'log.jsonl');
  const model = await start(t, { modeFile, logFile });
  const res = await chat(model, userChat('slow from file'));
  t.equal((await streamReply(res)).text, replyFor('slow from file'));
  t.equal(readFakeModelLog(logFile)[0]!.mode, 'slow');
});

t.test('hang mode sends nothing until the client goes away', async (t) => {
  const dir = tempDir(t);
  const logFile = join(dir, 'log.jsonl');
  const model = await start(t, { logFile });
  const abort = new AbortController();
  const pending = tracked(chat(model, userChat('wait forever [[fake:hang]]'), { signal: abort.signal }));
  await waitFor('hang request to be logged', () => readFakeModelLog(logFile).length === 1);
  t.equal(readFakeModelLog(logFile)[0]!.mode, 'hang');
  // The server has handled the request; give the event loop one more turn to
  // deliver anything it might have sent before checking nothing came back.
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(pending.settled(), 'no response while hanging');
  abort.abort();
  await t.rejects(pending.promise, { name: 'AbortError' });

  // The server is still usable afterwards.
  const res = await chat(model, userChat('after the hang'));
  t.equal((await streamReply(res)).text, replyFor('after the hang'));
});

t.test('rejects malformed JSON with 400 and huge bodies with 413', async (t) => {
  const model = await start(t);
  const url = `${model.url}/chat/completions`;

  let res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": [' });
  t.equal(res.status, 400);
  t.match(await res.json(), { error: { code: 400, message: String } });

  res = await fetch(url, { method: 'POST', body: '"just a string"' });
  t.equal(res.status, 400);

  const huge = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(8 * 1024 * 1024) }] });
  res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: huge });
  t.equal(res.status, 413);
  t.match(await res.json(), { error: { code: 413 } });
});

t.test('logs one line per chat request', async (t) => {
  const dir = tempDir(t);
  const logFile = join(dir, 'log.jsonl');
  t.same(readFakeModelLog(logFile), [], 'missing log file reads as empty');
  const model = await start(t, { logFile });

  await streamReply(await chat(model, userChat('first')));
  await (await chat(model, userChat('second [[fake:error=500]]'))).text();
  await (await fetch(`${model.url}/models`)).text();

  const entries: FakeModelLogEntry[] = readFakeModelLog(logFile);
  t.equal(entries.length, 2, 'only chat requests are logged');
  t.match(entries, [
    { kind: 'chat', prompt: 'first', mode: 'normal', model: 'test-model' },
    { kind: 'chat', prompt: 'second [[fake:error=500]]', mode: 'error', model: 'test-model' },
  ]);
  for (const e of entries) t.equal(new Date(e.time).toISOString(), e.time);
});

t.test('close() ends hung and slow requests and leaves no handles behind', async (t) => {
  const dir = tempDir(t);
  const logFile = join(dir, 'log.jsonl');
  const baseline = handleCounts();
  const model = await startFakeModel({ logFile });
  t.teardown(() => model.close());

  const hung = tracked(chat(model, userChat('[[fake:hang]]')));
  hung.promise.catch(() => {});
  const slow = await chat(model, userChat('a long reply that is sent slowly [[fake:slow=600000]]'));
  const frames = frameReader(slow);
  t.ok(await frames.next(), 'slow stream has started');
  await waitFor('both requests to be logged', () => readFakeModelLog(logFile).length === 2);

  await model.close();
  await t.rejects(hung.promise, 'hung request fails once the server closes');
  await t.rejects(frames.next(), 'slow stream is cut off once the server closes');
  await t.rejects(fetch(`${model.url}/models`), 'server no longer listens');

  await waitFor('handles to be released', () => {
    const now = handleCounts();
    return Object.keys(baseline).every((k) => now[k]! <= baseline[k]!);
  }).catch((err: Error) => {
    t.fail(err.message, { baseline, now: handleCounts() });
  });
  await model.close(); // closing twice is fine
});

t.test('CLI prints the listening line and exits 0 on SIGTERM, even with a hung request', async (t) => {
  const dir = tempDir(t);
  const logFile = join(dir, 'log.jsonl');
  const child = spawn(process.execPath, [MAIN_JS, '--port', '0', '--log-file', logFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));

  const line = await waitFor('listening line', () => /^fake-model listening on (http:\/\/127\.0\.0\.1:(\d+))\n/.exec(stdout), 10_000);
  const base = line[1]!;

  const res = await fetch(`${base}/v1/models`);
  t.equal(res.status, 200);
  await res.text();

  const hung = tracked(
    fetch(`${base}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(userChat('[[fake:hang]]')) }),
  );
  hung.promise.catch(() => {});
  await waitFor('hang request to be logged', () => readFakeModelLog(logFile).length === 1);

  child.kill('SIGTERM');
  const code = await withDeadline('child to exit', exited);
  t.equal(code, 0, 'exit code 0');
  await t.rejects(hung.promise, 'hung request is cut off');
  t.equal(stdout.split('\n').filter(Boolean).length, 1, 'exactly one stdout line');
  t.equal(stderr, '');
});

t.test('CLI rejects bad arguments with exit code 2', async (t) => {
  for (const args of [['--bogus'], ['--port', 'abc'], ['--port', '70000'], ['stray']]) {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await withDeadline(
      'child to exit',
      new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
    );
    t.equal(code, 2, `exit 2 for ${args.join(' ')}`);
    t.equal(stdout, '');
    t.match(stderr, /^fake-model: [^\n]+\n$/, 'one-line error');
  }
});
