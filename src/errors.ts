// Every error warren raises, each with a stable code that callers and tests match
// on (never on message text). Messages are one line a person can act on; detail
// for operators goes to the logs, and secrets go nowhere.

export type ErrorCode =
  | 'WARREN_ERR_USAGE'
  | 'WARREN_ERR_UNQUOTABLE';

export class WarrenError extends Error {
  readonly code: ErrorCode;
  /** Process exit code when this error ends a command: 2 for usage/config, 1 otherwise. */
  readonly exitCode: 1 | 2;
  constructor(code: ErrorCode, message: string, opts: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
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

/** An argument for a remote command that no shell word can carry (a NUL byte). */
export class UnquotableArgumentError extends WarrenError {
  constructor() {
    super('WARREN_ERR_UNQUOTABLE', 'argument contains a NUL byte, which no remote shell command can carry', { exitCode: 2 });
  }
}

export function isWarrenError(err: unknown): err is WarrenError {
  return err instanceof WarrenError;
}
