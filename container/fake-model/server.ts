// A fake OpenAI-compatible model server for integration tests. It echoes the
// last user message back, deterministically, and can be told to be slow, to
// fail or to hang, either through a mode file or through prompt directives.
//
// Prompt directives (never applied to title requests):
//   [[fake:slow=MS]]        MS before each content chunk
//   [[fake:error=STATUS]]   answer with that HTTP error (400-599)
//   [[fake:hang]]           send nothing until the client goes away
//   [[fake:tool=NAME:JSON]] call opencode's tool NAME with the JSON object as its input;
//                           when the tool's result comes back, answer with the echo
//   [[fake:bash=COMMAND]]   call opencode's `bash` tool with {"command": COMMAND} (COMMAND
//                           runs to the first "]]"); with "permission": {"bash": "ask"} in
//                           opencode's config this makes opencode ask for permission
//   [[fake:usage=I,O,R,C]]  report I prompt tokens (C of them cached) and O completion
//                           tokens (R of them reasoning) for each answer to this prompt,
//                           instead of the default (a quarter of the prompt's and of the
//                           answer's characters, nothing cached, no reasoning)
//   [[fake:question=Q|A|B]] call opencode's `question` tool: one question Q (header: its
//                           first 30 characters) with the options A, B, ... (each option's
//                           description is its label); opencode asks the person
// After a bash= or question= call, the tool's result (the last message, role "tool")
// is answered with the echo followed by "\ntool said: " and that result, trimmed: the
// command's output, or opencode's sentence with the answer
// (`User has answered your questions: "Q"="A". ...`), so a test sees whether the tool
// ran and what was answered. A tool that was refused (permission rejected, question
// dismissed) ends opencode's run without a second model call.
// "The prompt" is always the last user message: after a tool call opencode sends the
// same conversation again with the assistant's tool call and the tool's result appended.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenClosable } from '../testbed/closable-server.js';
import { appendFileSync, readFileSync } from 'node:fs';

export interface FakeModelMode {
  chunkDelayMs?: number;
  error?: { status: number; message: string };
  hang?: boolean;
}

export interface FakeModelOptions {
  host?: string;
  port?: number;
  modeFile?: string;
  logFile?: string;
}

export interface FakeModel {
  port: number;
  url: string;
  close(): Promise<void>;
}

export type FakeModelModeName = 'normal' | 'slow' | 'error' | 'hang';

export interface FakeModelLogEntry {
  time: string;
  kind: 'title' | 'chat';
  prompt: string;
  mode: FakeModelModeName;
  model: string;
}

const MAX_BODY = 8 * 1024 * 1024;
const CHUNK_CHARS = 8;

export function replyFor(prompt: string): string {
  return 'echo: ' + prompt.trim();
}

/** The reply to a bash= or question= directive once the tool's result came back. */
export function replyAfterTool(prompt: string, toolResult: string): string {
  return `${replyFor(prompt)}\ntool said: ${toolResult.trim()}`;
}

/** A tool call a prompt asks for: opencode's tool name and its arguments (JSON text). */
export interface FakeToolCall {
  name: string;
  arguments: string;
  /** Whether the answer after the result carries the result (bash=, question=). */
  echoResult: boolean;
}

/** The tool call a prompt's directive asks for, if any (the first of tool=, bash=, question=). */
export function toolCallFor(prompt: string): FakeToolCall | null {
  const found: Array<{ at: number; call: FakeToolCall }> = [];
  // tool=: the JSON goes to opencode as written, valid or not.
  const tool = /\[\[fake:tool=([A-Za-z_]+):(\{.*?\})\]\]/.exec(prompt);
  if (tool) found.push({ at: tool.index, call: { name: tool[1]!, arguments: tool[2]!, echoResult: false } });
  const bash = /\[\[fake:bash=(.+?)\]\]/s.exec(prompt);
  if (bash) found.push({ at: bash.index, call: { name: 'bash', arguments: JSON.stringify({ command: bash[1] }), echoResult: true } });
  const question = /\[\[fake:question=(.+?)\]\]/s.exec(prompt);
  if (question) {
    const [q, ...labels] = question[1]!.split('|');
    const text = q!.trim();
    const options = labels.map((l) => ({ label: l.trim(), description: l.trim() }));
    found.push({
      at: question.index,
      call: { name: 'question', arguments: JSON.stringify({ questions: [{ question: text, header: text.slice(0, 30), options }] }), echoResult: true },
    });
  }
  found.sort((a, b) => a.at - b.at);
  return found[0]?.call ?? null;
}

/** The usage a prompt's usage= directive asks for, in OpenAI's shape, or null. */
export function usageFor(prompt: string): Record<string, unknown> | null {
  const m = /\[\[fake:usage=(\d{1,9}),(\d{1,9}),(\d{1,9}),(\d{1,9})\]\]/.exec(prompt);
  if (!m) return null;
  const [input, output, reasoning, cached] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  return {
    prompt_tokens: input, completion_tokens: output, total_tokens: input + output,
    prompt_tokens_details: { cached_tokens: cached }, completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

function defaultUsage(promptTokens: number, completionTokens: number): Record<string, unknown> {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export function readFakeModelLog(path: string): FakeModelLogEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FakeModelLogEntry);
}

function warn(message: string): void {
  process.stderr.write(`fake-model: warning: ${message}\n`);
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p): p is { type: 'text'; text: string } => p?.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n');
}

function isValidMode(v: unknown): v is FakeModelMode {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const m = v as Record<string, unknown>;
  if (m.chunkDelayMs !== undefined && !(typeof m.chunkDelayMs === 'number' && m.chunkDelayMs >= 0 && Number.isFinite(m.chunkDelayMs))) return false;
  if (m.hang !== undefined && typeof m.hang !== 'boolean') return false;
  if (m.error !== undefined) {
    const e = m.error as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) return false;
    if (!Number.isInteger(e.status) || (e.status as number) < 400 || (e.status as number) > 599) return false;
    if (typeof e.message !== 'string') return false;
  }
  return true;
}

function modeName(mode: FakeModelMode): FakeModelModeName {
  if (mode.hang) return 'hang';
  if (mode.error) return 'error';
  if (mode.chunkDelayMs) return 'slow';
  return 'normal';
}

// Prompt directives replace the mode file's mode as a whole (rather than being
// merged field by field) so a prompt always gets exactly what it asks for.
function promptMode(prompt: string): FakeModelMode | undefined {
  const mode: FakeModelMode = {};
  let found = false;
  const slow = /\[\[fake:slow=(\d+)\]\]/.exec(prompt);
  if (slow) {
    mode.chunkDelayMs = Number(slow[1]);
    found = true;
  }
  const error = /\[\[fake:error=(\d{3})\]\]/.exec(prompt);
  if (error && Number(error[1]) >= 400 && Number(error[1]) <= 599) {
    mode.error = { status: Number(error[1]), message: 'fake model error' };
    found = true;
  }
  if (prompt.includes('[[fake:hang]]')) {
    mode.hang = true;
    found = true;
  }
  return found ? mode : undefined;
}

export async function startFakeModel(opts: FakeModelOptions = {}): Promise<FakeModel> {
  const host = opts.host ?? '127.0.0.1';
  const timers = new Set<NodeJS.Timeout>();
  let lastBadModeFile: string | undefined;
  let nextId = 1;

  function fileMode(): FakeModelMode {
    if (!opts.modeFile) return {};
    let text: string;
    try {
      text = readFileSync(opts.modeFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read mode file: ${String(err)}`);
      return {};
    }
    if (text.trim() === '') return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (isValidMode(parsed)) return parsed;
    // The file is read on every request; warn once per bad content, not per request.
    if (text !== lastBadModeFile) warn(`ignoring invalid mode file ${opts.modeFile}`);
    lastBadModeFile = text;
    return {};
  }

  // Runs fn after ms unless the response closes first; close() clears the rest.
  function scheduler(res: ServerResponse): (ms: number, fn: () => void) => void {
    let pending: NodeJS.Timeout | undefined;
    res.once('close', () => {
      if (pending) {
        clearTimeout(pending);
        timers.delete(pending);
      }
    });
    return (ms, fn) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        pending = undefined;
        if (!res.destroyed) fn();
      }, ms);
      pending = timer;
      timers.add(timer);
    };
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  }

  function sendError(res: ServerResponse, status: number, message: string, type: string): void {
    sendJson(res, status, { error: { message, type, code: status } });
  }

  function handleChat(body: Record<string, unknown>, res: ServerResponse): void {
    const messages = body.messages as Array<{ role?: unknown; content?: unknown }>;
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
    const prompt = textOf(lastUser?.content);
    const isTitle = messages.some((m) => m?.role === 'system' && /title generator/i.test(textOf(m.content)));

    const mode: FakeModelMode = isTitle ? {} : (promptMode(prompt) ?? fileMode());
    // A tool directive calls its tool once; the request that brings the tool's result
    // back (the last message is the tool's) gets the answer.
    const last = messages[messages.length - 1];
    const toolCall = isTitle ? null : toolCallFor(prompt);
    const callTool = toolCall !== null && last?.role !== 'tool' ? toolCall : null;
    const text = isTitle
      ? 'Title: ' + prompt.trim().split(/\s+/).slice(0, 5).join(' ')
      : toolCall?.echoResult && last?.role === 'tool' ? replyAfterTool(prompt, textOf(last.content)) : replyFor(prompt);

    if (opts.logFile) {
      const entry: FakeModelLogEntry = {
        time: new Date().toISOString(),
        kind: isTitle ? 'title' : 'chat',
        prompt,
        mode: modeName(mode),
        model,
      };
      appendFileSync(opts.logFile, JSON.stringify(entry) + '\n');
    }

    if (mode.hang) return; // the socket stays open until the client leaves or close() destroys it
    if (mode.error) return sendError(res, mode.error.status, mode.error.message, 'fake_error');

    const id = `chatcmpl-fake-${nextId++}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = Math.max(1, Math.ceil(prompt.length / 4));
    const completionTokens = Math.max(1, Math.ceil(text.length / 4));
    const usage = isTitle ? defaultUsage(promptTokens, completionTokens) : (usageFor(prompt) ?? defaultUsage(promptTokens, completionTokens));
    const delayMs = mode.chunkDelayMs ?? 0;
    const delay = scheduler(res);

    const callID = `call_fake_${id}`;
    if (body.stream !== true) {
      const message = callTool
        ? { role: 'assistant', content: null, tool_calls: [{ id: callID, type: 'function', function: { name: callTool.name, arguments: callTool.arguments } }] }
        : { role: 'assistant', content: text };
      const answer = () =>
        sendJson(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, finish_reason: callTool ? 'tool_calls' : 'stop' }],
          usage,
        });
      if (delayMs > 0) delay(delayMs, answer);
      else answer();
      return;
    }

    const frame = (delta: object, finishReason: string | null = null, extra: object = {}) =>
      res.write(
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [{ index: 0, delta, finish_reason: finishReason }],
          ...extra,
        })}\n\n`,
      );

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();

    if (callTool) {
      frame({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: callID, type: 'function', function: { name: callTool.name, arguments: '' } }] });
      frame({ tool_calls: [{ index: 0, function: { arguments: callTool.arguments } }] });
      frame({}, 'tool_calls', { usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    frame({ role: 'assistant', content: '' });

    const chars = Array.from(text); // code points, so a chunk never splits a surrogate pair
    const chunks: string[] = [];
    for (let i = 0; i < chars.length; i += CHUNK_CHARS) chunks.push(chars.slice(i, i + CHUNK_CHARS).join(''));

    const finish = () => {
      frame({}, 'stop', { usage });
      res.end('data: [DONE]\n\n');
    };
    if (delayMs === 0) {
      // A loop, not step-to-step calls: a 100 KB echo is 12,800 chunks, and a call
      // chain that long overflowed the stack and killed the model mid-reply.
      for (const c of chunks) frame({ content: c });
      finish();
      return;
    }
    // The delay comes before each content chunk, so even a one-chunk reply is slow.
    const step = (i: number): void => {
      if (i >= chunks.length) return finish();
      delay(delayMs, () => {
        frame({ content: chunks[i] });
        step(i + 1);
      });
    };
    step(0);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model' }] });
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      req.resume();
      return sendError(res, 404, `no route for ${req.method} ${path}`, 'not_found');
    }

    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining an oversized body instead of answering early, so the
      // client reads the 413 rather than a connection reset.
      if (size <= MAX_BODY) parts.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > MAX_BODY) return sendError(res, 413, 'request body too large', 'invalid_request_error');
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        return sendError(res, 400, 'request body is not valid JSON', 'invalid_request_error');
      }
      if (typeof body !== 'object' || body === null || !Array.isArray((body as Record<string, unknown>).messages)) {
        return sendError(res, 400, 'request body must be an object with a messages array', 'invalid_request_error');
      }
      handleChat(body as Record<string, unknown>, res);
    });
  }

  const server = createServer(handle);
  const l = await listenClosable(server, { host, port: opts.port ?? 0, timers });
  return { port: l.port, url: `http://${l.urlHost}:${l.port}/v1`, close: l.close };
}
