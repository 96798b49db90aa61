// The opencode layer's errors: the server's lifecycle, sessions, messages, asks.
import { WarrenError } from './base.js';
import { firstLine } from '../text.js';

// ---- the opencode layer ----

export class ServerStartError extends WarrenError {
  constructor(workspace: string, why: string) {
    super('WARREN_ERR_SERVER_START', `opencode did not start in workspace ${workspace}: ${firstLine(why)}`);
  }
}

export class PortBusyError extends WarrenError {
  constructor(workspace: string, port: number) {
    super('WARREN_ERR_PORT_BUSY',
      `port ${port} in workspace ${workspace} is held by something warren did not start: stop it, or set opencode.port for this workspace`);
  }
}

/**
 * The workspace's opencode server was closed by its owner (daemon shutdown, or the
 * workspace removed or changed by a reload) while work still asked for it. Final, like
 * a closed link: nothing reconnects.
 */
export class WorkspaceClosedError extends WarrenError {
  constructor(workspace: string) {
    super('WARREN_ERR_LINK_CLOSED', `workspace ${workspace} is closed`);
  }
}

/** The server died while it was being used; the next request starts it again. */
export class ServerGoneError extends WarrenError {
  constructor(workspace: string, cause?: unknown) {
    super('WARREN_ERR_SERVER_GONE', `opencode in workspace ${workspace} stopped (it exited or was killed); it starts again on the next message`, cause === undefined ? {} : { cause });
  }
}

export class ServerHttpError extends WarrenError {
  readonly status: number;
  constructor(workspace: string, what: string, status: number, detail: string) {
    super('WARREN_ERR_SERVER_HTTP', `opencode in workspace ${workspace} answered ${what} with ${status}: ${firstLine(detail)}`);
    this.status = status;
  }
}

/** Checked before anything runs: a session id is never passed on unless it is one. */
export class InvalidSessionIdError extends WarrenError {
  constructor(id: string) {
    const shown = JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id);
    super('WARREN_ERR_SESSION_ID', `${shown} is not an OpenCode session id (ses_ followed by 26 letters and digits)`, { exitCode: 2 });
  }
}

/** A session directory that cannot name a directory in the workspace; checked before anything is sent. */
export class InvalidDirectoryError extends WarrenError {
  constructor(problem: string) {
    super('WARREN_ERR_BAD_REQUEST', `the session directory ${problem}`, { exitCode: 2 });
  }
}

export class SessionNotFoundError extends WarrenError {
  constructor(workspace: string, id: string, searched: readonly string[]) {
    super('WARREN_ERR_SESSION_NOT_FOUND', `session ${id} not found in workspace ${workspace} (searched: ${searched.join(', ')})`);
  }
}

export class ImportError extends WarrenError {
  constructor(workspace: string, id: string, from: string, why: string) {
    super('WARREN_ERR_IMPORT', `importing session ${id} from ${from} in workspace ${workspace} failed: ${firstLine(why)}`);
  }
}

/**
 * Another process (an interactive opencode, a sqlite3 shell) held an OpenCode
 * database's write lock for longer than warren waits, so a session could not be
 * exported from it or imported into it. Nothing was imported.
 */
export class DatabaseLockedError extends WarrenError {
  constructor(workspace: string, id: string, db: string, holder: string, waitS: number) {
    super('WARREN_ERR_DB_LOCKED',
      `cannot import session ${id} in workspace ${workspace}: the OpenCode database ${db} is locked by ${holder} for more than ${waitS} s; let that process finish (or stop it) and send again`);
  }
}

/** opencode reported an error for the run (session.error). */
export class ChatFailedError extends WarrenError {
  constructor(workspace: string, session: string, why: string) {
    super('WARREN_ERR_CHAT_FAILED', `the reply in session ${session} (workspace ${workspace}) failed: ${firstLine(why)}`);
  }
}

export class ChatStalledError extends WarrenError {
  constructor(workspace: string, why: string) {
    super('WARREN_ERR_CHAT_STALLED', `gave up waiting for workspace ${workspace}: ${why}; the run was aborted`);
  }
}

export class ChatTimeoutError extends WarrenError {
  constructor(workspace: string, session: string, ms: number) {
    super('WARREN_ERR_CHAT_TIMEOUT', `the reply in session ${session} (workspace ${workspace}) took longer than ${Math.round(ms / 1000)} s; the run was aborted`);
  }
}

export class ChatAbortedError extends WarrenError {
  constructor(workspace: string, session: string) {
    super('WARREN_ERR_CHAT_ABORTED', `the caller went away; the run in session ${session} (workspace ${workspace}) was aborted`);
  }
}

/**
 * A message is still running in this session. opencode would fold a second prompt
 * into the running one, so the two replies could not be told apart: warren refuses it.
 */
export class SessionBusyError extends WarrenError {
  constructor(workspace: string, session: string) {
    super('WARREN_ERR_SESSION_BUSY', `session ${session} in workspace ${workspace} is still answering a message; send the next one when that reply is done`);
  }
}

/** Someone asked for the run to end (the gateway's abort route). */
export class AbortedError extends WarrenError {
  constructor(workspace: string, session: string) {
    super('WARREN_ERR_ABORTED', `the run in session ${session} (workspace ${workspace}) was aborted on request`);
  }
}

export class InvalidMessageIdError extends WarrenError {
  constructor(id: string) {
    const shown = JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id);
    super('WARREN_ERR_MESSAGE_ID', `${shown} is not an OpenCode message id (msg_ followed by 26 letters and digits)`, { exitCode: 2 });
  }
}

/** Neither a run warren holds nor a message in the session's history. */
export class MessageNotFoundError extends WarrenError {
  constructor(workspace: string, session: string, message: string) {
    super('WARREN_ERR_MESSAGE_NOT_FOUND', `message ${message} is not a run warren holds nor in the history of session ${session} (workspace ${workspace})`);
  }
}

export class RunFinishedError extends WarrenError {
  constructor(message: string) {
    super('WARREN_ERR_RUN_FINISHED', `the run of message ${message} has already ended; there is nothing to abort`);
  }
}

/**
 * opencode asked the person (a permission, a question) and nobody answered within
 * the run's ask deadline: the run was aborted, and the request with it.
 */
export class AskTimeoutError extends WarrenError {
  constructor(workspace: string, session: string, what: 'permission' | 'question', ms: number) {
    super('WARREN_ERR_ASK_TIMEOUT',
      `opencode asked for ${what === 'permission' ? 'a permission' : 'an answer to a question'} in session ${session} (workspace ${workspace}) and nobody answered within ${Math.round(ms / 1000)} s; the run was aborted: answer the permission and question events as they come, or allow longer (askTimeoutMs), then send the message again`);
  }
}

/** An answer to a permission or question opencode does not hold (answered already, its run ended, or a wrong id). */
export class RequestNotFoundError extends WarrenError {
  constructor(workspace: string, session: string, kind: 'permission' | 'question', id: string) {
    const shown = JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id);
    super('WARREN_ERR_REQUEST_NOT_FOUND',
      `session ${session} in workspace ${workspace} has no pending ${kind} request ${shown}: it was answered already, its run ended, or the id is not one of the session's ${kind} events`);
  }
}

/** An answer that cannot be one: a permission reply other than once/always/reject, answers that are not lists of labels. */
export class InvalidAnswerError extends WarrenError {
  constructor(problem: string) {
    super('WARREN_ERR_BAD_REQUEST', problem, { exitCode: 2 });
  }
}
