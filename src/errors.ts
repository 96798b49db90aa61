// Every error warren raises, each with a stable code that callers and tests match
// on (never on message text). Messages are one line a person can act on; detail
// for operators goes to the logs, and secrets go nowhere.

import { escapeUnsafe, firstLine } from './text.js';

export type ErrorCode =
  | 'WARREN_ERR_USAGE'
  | 'WARREN_ERR_CONFIG'
  | 'WARREN_ERR_UNQUOTABLE'
  | 'WARREN_ERR_KEY_READ'
  | 'WARREN_ERR_HOST_KEY_MISMATCH'
  | 'WARREN_ERR_HOST_KEY_FORMAT'
  | 'WARREN_ERR_AUTH'
  | 'WARREN_ERR_CONNECT'
  | 'WARREN_ERR_LINK_DOWN'
  | 'WARREN_ERR_LINK_LOST'
  | 'WARREN_ERR_LINK_CLOSED'
  | 'WARREN_ERR_WAIT_UP_TIMEOUT'
  | 'WARREN_ERR_CHANNEL_REFUSED'
  | 'WARREN_ERR_CHANNEL_PROHIBITED'
  | 'WARREN_ERR_CHANNEL_TIMEOUT'
  | 'WARREN_ERR_CHANNEL_FAILED'
  | 'WARREN_ERR_EXEC_TIMEOUT'
  | 'WARREN_ERR_EXEC_FAILED'
  | OpencodeErrorCode;

/** Codes of the opencode layer: server lifecycle, sessions, chat. */
export type OpencodeErrorCode =
  | 'WARREN_ERR_SERVER_START'
  | 'WARREN_ERR_PORT_BUSY'
  | 'WARREN_ERR_SERVER_GONE'
  | 'WARREN_ERR_SERVER_HTTP'
  | 'WARREN_ERR_SESSION_ID'
  | 'WARREN_ERR_SESSION_NOT_FOUND'
  | 'WARREN_ERR_IMPORT'
  | 'WARREN_ERR_DB_LOCKED'
  | 'WARREN_ERR_CHAT_FAILED'
  | 'WARREN_ERR_CHAT_STALLED'
  | 'WARREN_ERR_CHAT_TIMEOUT'
  | 'WARREN_ERR_CHAT_ABORTED'
  | 'WARREN_ERR_SESSION_BUSY'
  | 'WARREN_ERR_ABORTED'
  | 'WARREN_ERR_MESSAGE_ID'
  | 'WARREN_ERR_MESSAGE_NOT_FOUND'
  | 'WARREN_ERR_RUN_FINISHED'
  | 'WARREN_ERR_ASK_TIMEOUT'
  | 'WARREN_ERR_REQUEST_NOT_FOUND'
  | BrokerErrorCode;

/** Codes of the broker, the gateway and the daemon. */
export type BrokerErrorCode =
  | 'WARREN_ERR_UNKNOWN_WORKSPACE'
  | 'WARREN_ERR_UNAUTHORIZED'
  | 'WARREN_ERR_FORBIDDEN_HOST'
  | 'WARREN_ERR_FORBIDDEN_ORIGIN'
  | 'WARREN_ERR_BAD_REQUEST'
  | 'WARREN_ERR_TOO_LARGE'
  | 'WARREN_ERR_NO_DAEMON'
  | 'WARREN_ERR_CONTROL'
  | 'WARREN_ERR_CONTROL_TIMEOUT'
  | 'WARREN_ERR_LISTEN'
  | 'WARREN_ERR_SHUTTING_DOWN'
  | 'WARREN_ERR_NO_ROUTE'
  | 'WARREN_ERR_ATTACH'
  | 'WARREN_ERR_NO_OPENCODE_CLIENT'
  | 'WARREN_ERR_CLIENT_VERSION'
  | 'WARREN_ERR_INTERNAL';

export class WarrenError extends Error {
  readonly code: ErrorCode;
  /** Process exit code when this error ends a command: 2 for usage/config, 1 otherwise. */
  readonly exitCode: 1 | 2;
  constructor(code: ErrorCode, message: string, opts: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    // Every warren error is one line with nothing a terminal would interpret, whatever
    // a workspace, a request or a file put into it.
    super(escapeUnsafe(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Bad command line: unknown command or option, missing argument. Exit 2. */
export class UsageError extends WarrenError {
  constructor(message: string) {
    super('WARREN_ERR_USAGE', message, { exitCode: 2 });
  }
}

/**
 * The config file is missing, unreadable or not JSON, or breaks a rule. Exit 2, and
 * nothing is started. `key` is the offending key's JSON path
 * (`workspaces.alpha.port`), or null when the problem is the file as a whole.
 */
export class ConfigError extends WarrenError {
  readonly key: string | null;
  constructor(key: string | null, problem: string, cause?: unknown) {
    super('WARREN_ERR_CONFIG', key === null ? `config error: ${problem}` : `config error at ${key}: ${problem}`, { exitCode: 2, cause });
    this.key = key;
  }
}

/** An argument for a remote command that no shell word can carry (a NUL byte). */
export class UnquotableArgumentError extends WarrenError {
  constructor() {
    super('WARREN_ERR_UNQUOTABLE', 'argument contains a NUL byte, which no remote shell command can carry', { exitCode: 2 });
  }
}

/** The private key file cannot be read or parsed. */
export class KeyReadError extends WarrenError {
  constructor(workspace: string, path: string, why: string) {
    super('WARREN_ERR_KEY_READ', `cannot use the private key ${path} for workspace ${workspace}: ${why}`, { exitCode: 2 });
  }
}

/** The server presented a host key other than the pinned one. Never connects. */
export class HostKeyMismatchError extends WarrenError {
  readonly expected: string;
  readonly actual: string;
  constructor(workspace: string, target: string, expected: string, actual: string) {
    super('WARREN_ERR_HOST_KEY_MISMATCH',
      `host key of workspace ${workspace} (${target}) is ${actual}, expected ${expected}: refusing to connect; if the workspace was re-created, update hostKeyFingerprint`);
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The pinned fingerprint is not one: a workspace config that skipped the config loader
 * (a WarrenConfig built by hand for createBroker) with no pin or a malformed one; the
 * loader refuses those earlier, as a ConfigError. Its own code, not HOST_KEY_MISMATCH:
 * no server was asked, the pin itself must be fixed. Exit 2.
 */
export class HostKeyFormatError extends WarrenError {
  constructor(workspace: string) {
    super('WARREN_ERR_HOST_KEY_FORMAT',
      `hostKeyFingerprint of workspace ${workspace} is not a SHA256 fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -lf prints it)`, { exitCode: 2 });
  }
}

/** sshd refused the client key. */
export class AuthError extends WarrenError {
  constructor(workspace: string, user: string, target: string) {
    super('WARREN_ERR_AUTH',
      `ssh login to workspace ${workspace} as ${user} at ${target} was refused: check privateKeyPath and the workspace's authorized_keys`);
  }
}

/** The transport could not be established or the SSH handshake failed. */
export class ConnectError extends WarrenError {
  constructor(workspace: string, target: string, why: string, cause?: unknown) {
    super('WARREN_ERR_CONNECT', `cannot connect to workspace ${workspace} at ${target}: ${why}`, { cause });
  }
}

/** A request arrived while the link is not up; it fails at once instead of queueing. */
export class LinkDownError extends WarrenError {
  constructor(workspace: string, state: string, lastError: string | null) {
    super('WARREN_ERR_LINK_DOWN',
      `ssh link to workspace ${workspace} is ${state}${lastError ? ` (last error: ${lastError})` : ''}; retry shortly`);
  }
}

/** The link dropped while this work was in flight. */
export class LinkLostError extends WarrenError {
  constructor(workspace: string, why: string) {
    super('WARREN_ERR_LINK_LOST', `ssh link to workspace ${workspace} was lost (${why}); reconnecting, retry shortly`);
  }
}

/** The link was closed by its owner. */
export class LinkClosedError extends WarrenError {
  constructor(workspace: string) {
    super('WARREN_ERR_LINK_CLOSED', `ssh link to workspace ${workspace} is closed`);
  }
}

/** waitForUp's deadline passed. */
export class WaitUpTimeoutError extends WarrenError {
  constructor(workspace: string, ms: number, lastError: string | null) {
    super('WARREN_ERR_WAIT_UP_TIMEOUT',
      `ssh link to workspace ${workspace} did not come up within ${ms} ms${lastError ? ` (last error: ${lastError})` : ''}`);
  }
}

/** Nothing listens on the forward's target inside the workspace (sshd reason 2). The link stays up. */
export class ChannelRefusedError extends WarrenError {
  constructor(workspace: string, target: string) {
    super('WARREN_ERR_CHANNEL_REFUSED', `nothing listens on ${target} in workspace ${workspace}`);
  }
}

/** sshd does not permit forwarding to this target (reason 1). The link stays up. */
export class ChannelProhibitedError extends WarrenError {
  constructor(workspace: string, target: string) {
    super('WARREN_ERR_CHANNEL_PROHIBITED',
      `workspace ${workspace}'s sshd does not permit forwarding to ${target}: check PermitOpen in its sshd_config or permitopen on its key`);
  }
}

export class ChannelTimeoutError extends WarrenError {
  constructor(workspace: string, target: string, ms: number) {
    super('WARREN_ERR_CHANNEL_TIMEOUT', `opening a channel to ${target} in workspace ${workspace} took longer than ${ms} ms`);
  }
}

export class ChannelFailedError extends WarrenError {
  constructor(workspace: string, what: string, why: string) {
    super('WARREN_ERR_CHANNEL_FAILED', `${what} in workspace ${workspace} failed: ${why}`);
  }
}

/**
 * The server closed a connection under a request while it still listens: a pooled
 * keep-alive connection it had just let go, say. Safe steps run again at once.
 */
export class ConnectionClosedError extends ChannelFailedError {
  readonly closedByServer = true;
}

export class ExecTimeoutError extends WarrenError {
  constructor(workspace: string, command: string, ms: number) {
    super('WARREN_ERR_EXEC_TIMEOUT', `${command} in workspace ${workspace} did not finish within ${ms} ms; it was killed`);
  }
}

export class ExecFailedError extends WarrenError {
  constructor(workspace: string, command: string, why: string) {
    super('WARREN_ERR_EXEC_FAILED', `cannot run ${command} in workspace ${workspace}: ${why}`);
  }
}

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

// ---- the broker, the gateway, the daemon ----

export class UnknownWorkspaceError extends WarrenError {
  constructor(name: string) {
    super('WARREN_ERR_UNKNOWN_WORKSPACE', `no workspace ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)} is configured`);
  }
}

/** A request naming another host than the gateway's address (DNS rebinding): 403, before the token is looked at. */
export class ForbiddenHostError extends WarrenError {
  constructor(host: string, expected: string) {
    const shown = JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}…` : host);
    super('WARREN_ERR_FORBIDDEN_HOST', `Host ${shown} is not this gateway's address: send Host ${expected} (other names are refused so that no web page can reach the gateway through DNS rebinding)`);
  }
}

/** A request a browser made for a page on another site (or a sibling one): 403, before the token is looked at. */
export class ForbiddenOriginError extends WarrenError {
  constructor(header: 'Origin' | 'Sec-Fetch-Site', value: string) {
    const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    super('WARREN_ERR_FORBIDDEN_ORIGIN', `requests from web pages on other sites are refused (${header} ${shown}): call the gateway from your backend, or add the page's origin to gateway.allowedOrigins`);
  }
}

/** A malformed request to the gateway: a body, field, header or path it cannot take (400). */
export class BadRequestError extends WarrenError {
  constructor(problem: string) {
    super('WARREN_ERR_BAD_REQUEST', problem);
  }
}

/** A request body over the route's limit (413), answered before the rest is read. */
export class TooLargeError extends WarrenError {
  constructor(limit: number) {
    super('WARREN_ERR_TOO_LARGE', `request body is larger than ${limit} bytes`);
  }
}

/** The daemon is draining: new requests are refused (503) so that it can stop. */
export class ShuttingDownError extends WarrenError {
  constructor() {
    super('WARREN_ERR_SHUTTING_DOWN', 'warren is shutting down');
  }
}

/**
 * A failure that is a bug in warren, not the caller's or a workspace's: the caller gets
 * this one fixed line (500), and the detail goes to the daemon log only.
 */
export class InternalError extends WarrenError {
  constructor() {
    super('WARREN_ERR_INTERNAL', 'internal error; see the daemon log');
  }
}

/** Nothing listens on the control socket (ENOENT, ECONNREFUSED): no daemon runs there. */
export class NoDaemonError extends WarrenError {
  constructor(socketPath: string, cause?: unknown) {
    super('WARREN_ERR_NO_DAEMON', `no warren daemon is answering on ${socketPath}: start one with warren daemon, or pass --socket`, { cause });
  }
}

/** The daemon took longer than the control deadline to answer: a caller waits seconds, never forever. */
export class ControlTimeoutError extends WarrenError {
  constructor(socketPath: string, ms: number) {
    super('WARREN_ERR_CONTROL_TIMEOUT',
      `the warren daemon on ${socketPath} did not answer within ${ms} ms; it may be overloaded or stuck (see its log)`);
  }
}

/**
 * The control socket could not be used, or its answer could not be read (permission
 * denied, not JSON, not a status, too large, no answer). The message names the socket
 * and says what to check.
 */
export class ControlError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_ERR_CONTROL', message, { cause });
  }
}

/**
 * An error the daemon answered over the control socket, carried into this process
 * with the daemon's own code and message (no such session, say): that one line is the
 * person's answer as it is. A usage error stays exit 2.
 */
export class DaemonReplyError extends WarrenError {
  constructor(code: ErrorCode, message: string) {
    super(code, message, { exitCode: code === 'WARREN_ERR_USAGE' ? 2 : 1 });
  }
}

/** The gateway or control socket could not listen where the config says. */
export class ListenError extends WarrenError {
  constructor(what: string, where: string, why: string) {
    super('WARREN_ERR_LISTEN', `cannot listen for the ${what} on ${where}: ${why}`);
  }
}

export function isWarrenError(err: unknown): err is WarrenError {
  return err instanceof WarrenError;
}

// ---- warren attach: OpenCode's own TUI on this host ----

/** The daemon cannot hand the TUI a way in (its gateway is not on TCP, say). */
export class AttachError extends WarrenError {
  constructor(message: string) {
    super('WARREN_ERR_ATTACH', message);
  }
}

/** `opencode` is not on this host's PATH. */
export class NoOpencodeClientError extends WarrenError {
  constructor(version: string | null) {
    super('WARREN_ERR_NO_OPENCODE_CLIENT', `opencode is not installed on this host (not found on PATH); install it with npm install -g opencode-ai${version ? `@${version}` : ''}`);
  }
}

/** The host's opencode and the workspace's differ in a way their API may not survive. */
export class ClientVersionError extends WarrenError {
  constructor(workspace: string, host: string, remote: string) {
    super('WARREN_ERR_CLIENT_VERSION', `opencode on this host is ${host} but workspace ${workspace} runs ${remote}; install the same version here: npm install -g opencode-ai@${remote}`);
  }
}
