// The broker's, the gateway's and the daemon's errors, and warren attach's.
import { WarrenError, type ErrorCode } from './base.js';

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

// ---- warren usage: what the agents cost ----

/** A usage query's `since` or `by` that cannot be read: exit 2 on the command line, 400 on the gateway. */
export class InvalidUsageQueryError extends WarrenError {
  constructor(problem: string) {
    super('WARREN_ERR_BAD_REQUEST', problem, { exitCode: 2 });
  }
}
