// The link's errors: keys, host keys, connecting, channels, remote commands.
import { WarrenError } from './base.js';

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

/** The server presented a host key other than the pinned one(s). Never connects. */
export class HostKeyMismatchError extends WarrenError {
  readonly expected: readonly string[];
  readonly actual: string;
  constructor(workspace: string, target: string, expected: readonly string[], actual: string) {
    super('WARREN_ERR_HOST_KEY_MISMATCH', expected.length === 1
      ? `host key of workspace ${workspace} (${target}) is ${actual}, expected ${expected[0]}: refusing to connect; if the workspace was re-created, update hostKeyFingerprint`
      : `host key of workspace ${workspace} (${target}) is ${actual}, expected one of ${expected.join(', ')}: refusing to connect; if the host key was rotated, add it to hostKeyFingerprints`);
    this.expected = [...expected];
    this.actual = actual;
  }
}

/**
 * The pins are not fingerprints: a workspace config that skipped the config loader
 * (a WarrenConfig built by hand for createBroker) with no pin or a malformed one; the
 * loader refuses those earlier, as a ConfigError. Its own code, not HOST_KEY_MISMATCH:
 * no server was asked, the pin itself must be fixed. Exit 2.
 */
export class HostKeyFormatError extends WarrenError {
  constructor(workspace: string) {
    super('WARREN_ERR_HOST_KEY_FORMAT',
      `hostKeyFingerprints of workspace ${workspace} must list one or more pins, each a SHA256 fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -lf prints it)`, { exitCode: 2 });
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
