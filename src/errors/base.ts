// The root of every error warren raises: the codes, the class, the two errors of the
// command line (usage, config). src/errors.ts gathers this and each layer's classes.

import { escapeUnsafe } from '../text.js';

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
  | 'WARREN_ERR_DOCKER'
  | 'WARREN_ERR_DOCKER_CONTAINER'
  | 'WARREN_ERR_CONFIG_WRITE'
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

export function isWarrenError(err: unknown): err is WarrenError {
  return err instanceof WarrenError;
}
