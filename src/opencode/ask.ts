// Answering what opencode asks a person during a run: a permission (a tool its
// config says to ask about) or a question (its question tool). The run's
// `permission` and `question` events carry the request ids.
//
// opencode keeps pending requests per directory instance: a reply without the
// session's directory is its 404 even for a request that waits (1.18.33). So the
// session's directory is looked up (or given, by a caller that knows it), and the
// request must be pending for this session or one of its subagents' sessions:
// another session's request is "not found" here, as it is for the gateway's route
// under /sessions/:id. A second answer to the same request is "not found" too.
import type { PermissionRequest, QuestionAnswer, QuestionRequest } from '@opencode-ai/sdk/v2';
import type { Logger } from '../log.js';
import { InvalidAnswerError, RequestNotFoundError, SessionNotFoundError } from '../errors.js';
import { callServer } from './api.js';
import type { PendingAsk } from './reply.js';
import { checkSessionId } from './locate.js';
import type { OpencodeServer } from './server.js';

export type PermissionReply = 'once' | 'always' | 'reject';

export const PERMISSION_REPLIES: readonly PermissionReply[] = ['once', 'always', 'reject'];

/** Whose request it is: the session the run belongs to; its directory when the caller knows it. */
export interface AskOf { sessionID: string; directory?: string }

/** opencode's request ids (per_…, que_…); anything else cannot name one, and must not reach a URL path. */
const REQUEST_ID = /^[A-Za-z0-9_]{1,128}$/;

const TIMEOUT_MS = 15_000;

/** Answers a permission request: once, always (opencode stops asking for its `always` patterns), or reject (the run ends). */
export async function answerPermission(server: OpencodeServer, workspace: string, requestID: string, reply: PermissionReply, of: AskOf): Promise<void> {
  if (!PERMISSION_REPLIES.includes(reply)) {
    throw new InvalidAnswerError(`a permission reply is "once", "always" or "reject", not ${JSON.stringify(String(reply)).slice(0, 40)}`);
  }
  const { directory } = await pendingRequest<PermissionRequest>(server, workspace, 'permission', requestID, of);
  await post(server, workspace, 'permission', requestID, of.sessionID, `/permission/${requestID}/reply`, directory, { reply });
}

/**
 * Answers a question request: one list of chosen labels per question, in order (a
 * label may also be the person's own words), or 'reject' to dismiss it (the run ends).
 */
export async function answerQuestion(server: OpencodeServer, workspace: string, requestID: string, answers: QuestionAnswer[] | 'reject', of: AskOf): Promise<void> {
  if (answers !== 'reject' && !(Array.isArray(answers) && answers.every((a) => Array.isArray(a) && a.every((l) => typeof l === 'string')))) {
    throw new InvalidAnswerError('answers are a list with one list of labels (strings) per question, or "reject"');
  }
  const { request, directory } = await pendingRequest<QuestionRequest>(server, workspace, 'question', requestID, of);
  if (answers === 'reject') {
    await post(server, workspace, 'question', requestID, of.sessionID, `/question/${requestID}/reject`, directory, undefined);
    return;
  }
  if (answers.length !== request.questions.length) {
    throw new InvalidAnswerError(`question request ${requestID} asks ${request.questions.length} question${request.questions.length === 1 ? '' : 's'}; answers must hold one list of labels for each (got ${answers.length})`);
  }
  await post(server, workspace, 'question', requestID, of.sessionID, `/question/${requestID}/reply`, directory, { answers });
}

/** The request, pending for the session or a subagent of it, and the directory it waits in. */
async function pendingRequest<T extends PermissionRequest | QuestionRequest>(
  server: OpencodeServer, workspace: string, kind: 'permission' | 'question', requestID: string, of: AskOf,
): Promise<{ request: T; directory: string }> {
  checkSessionId(of.sessionID);
  if (!REQUEST_ID.test(requestID)) throw new RequestNotFoundError(workspace, of.sessionID, kind, requestID);
  await server.ensureRunning();
  const directory = of.directory ?? (await session(server, workspace, of.sessionID))?.directory;
  if (directory === undefined) throw new SessionNotFoundError(workspace, of.sessionID, ['the server\'s database']);
  const list = await callServer<T[]>(server, workspace, `/${kind}`, { directory, timeoutMs: TIMEOUT_MS });
  const request = list.body.find((r) => r.id === requestID);
  if (!request) throw new RequestNotFoundError(workspace, of.sessionID, kind, requestID);
  if (request.sessionID !== of.sessionID && (await session(server, workspace, request.sessionID))?.parentID !== of.sessionID) {
    throw new RequestNotFoundError(workspace, of.sessionID, kind, requestID);
  }
  return { request, directory };
}

async function session(server: OpencodeServer, workspace: string, id: string): Promise<{ directory: string; parentID?: string } | null> {
  const r = await callServer<{ directory: string; parentID?: string }>(server, workspace, `/session/${id}`, { accept: [404], timeoutMs: TIMEOUT_MS });
  return r.status === 404 ? null : r.body;
}

async function post(server: OpencodeServer, workspace: string, kind: 'permission' | 'question', requestID: string, sessionID: string, path: string, directory: string, body: unknown): Promise<void> {
  // Answered by somebody else between the look-up and now: opencode's 404.
  const r = await callServer(server, workspace, path, { method: 'POST', directory, timeoutMs: TIMEOUT_MS, accept: [404], ...(body !== undefined ? { body } : {}) });
  if (r.status === 404) throw new RequestNotFoundError(workspace, sessionID, kind, requestID);
}

/** What the server lists as waiting for an answer in the directory. */
export async function pendingAsks(server: OpencodeServer, directory: string): Promise<{ permissions: PermissionRequest[]; questions: QuestionRequest[] }> {
  const [permissions, questions] = await Promise.all([
    callServer<PermissionRequest[]>(server, server.workspace, '/permission', { directory, timeoutMs: 30_000 }),
    callServer<QuestionRequest[]>(server, server.workspace, '/question', { directory, timeoutMs: 30_000 }),
  ]);
  return { permissions: permissions.body, questions: questions.body };
}

/**
 * opencode 1.18.33 keeps listing a request whose run was aborted (GET /permission,
 * GET /question; an attached TUI would still show it) until somebody answers it.
 * Refusing it after the abort only clears it: the aborted tool does not run.
 */
export async function dismissAsks(server: OpencodeServer, asks: PendingAsk[], directory: string, timeoutMs: number, log: Logger): Promise<void> {
  await Promise.all(asks.map(async (a) => {
    const path = a.kind === 'permission' ? `/permission/${a.id}/reply` : `/question/${a.id}/reject`;
    await callServer(server, server.workspace, path, {
      method: 'POST', directory, timeoutMs, accept: [404],
      ...(a.kind === 'permission' ? { body: { reply: 'reject' } } : {}),
    }).catch((err: unknown) => log.warn({ err: (err as Error).message, request: a.id }, 'clearing a request of the aborted run failed'));
  }));
}
