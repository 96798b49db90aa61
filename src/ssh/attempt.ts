// What a failed connection attempt means for the next one. Some failures heal by
// themselves, and trying again soon is right: a timeout, a reset, sshd throttling
// unauthenticated connections (MaxStartups closes them during the banner exchange).
// Others stay until a person acts: nothing listens on the port, the host cannot be
// reached or its name is unknown, the key is refused, the host key is not the
// pinned one. The daemon retries both kinds (a workspace that comes back later must
// recover); a one-shot command, or a probe, stops at the second kind and says so
// (the link's failFast, link.ts).
import {
  AuthError, ChannelProhibitedError, ChannelRefusedError, HostKeyFormatError, HostKeyMismatchError, KeyReadError,
} from '../errors.js';

export type AttemptFailure =
  /** Nothing listens there (ECONNREFUSED), a jump host's sshd could not reach it, or a transport command ended before sshd answered. */
  | 'refused'
  /** No route, or no such host name (EHOSTUNREACH, ENETUNREACH, ENOTFOUND, EAI_AGAIN). */
  | 'unreachable'
  /** sshd refused the key. */
  | 'auth'
  /** The host key is not the pinned one, or the pin is not a fingerprint. */
  | 'host-key'
  /** The private key cannot be read, or a jump host does not permit forwarding there. */
  | 'config'
  /** The TCP connect or the SSH handshake took too long. */
  | 'timeout'
  /** The connection was reset or closed under the handshake (sshd's MaxStartups, a restart). */
  | 'reset'
  /** Anything else; treated as one that may heal. */
  | 'other';

const STAYS: ReadonlySet<AttemptFailure> = new Set(['refused', 'unreachable', 'auth', 'host-key', 'config']);

const ERRNO: Record<string, AttemptFailure> = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable', ENETUNREACH: 'unreachable', ENOTFOUND: 'unreachable', EAI_AGAIN: 'unreachable',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'reset', EPIPE: 'reset', ECONNABORTED: 'reset',
};

/** The kind of a connection attempt's failure (connectClient's rejection). */
export function attemptFailure(err: unknown): AttemptFailure {
  if (err instanceof HostKeyMismatchError || err instanceof HostKeyFormatError) return 'host-key';
  if (err instanceof AuthError) return 'auth';
  if (err instanceof KeyReadError || err instanceof ChannelProhibitedError) return 'config';
  if (err instanceof ChannelRefusedError) return 'refused';
  // A ConnectError carries what failed underneath as its cause.
  for (let e = err as { code?: unknown; level?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && ERRNO[e.code]) return ERRNO[e.code]!;
    if (e.level === 'client-timeout') return 'timeout';
    // A transport command that ended before sshd answered (a stopped container).
    if ((e as { transportExited?: unknown }).transportExited === true) return 'refused';
    if (typeof e.message === 'string' && /timed out/.test(e.message)) return 'timeout';
  }
  return (err as Error | undefined)?.message?.includes('connection closed') ? 'reset' : 'other';
}

/** Whether trying again may succeed without anyone changing anything. */
export function healsByRetrying(failure: AttemptFailure): boolean {
  return !STAYS.has(failure);
}
