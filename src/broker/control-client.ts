// The client half of the daemon's control protocol: one JSON line out, one JSON line
// back, over the unix socket. Every call has a deadline, so a wedged daemon costs a
// caller seconds, never a hang.
import net from 'node:net';
import { ControlError, ControlTimeoutError, DaemonReplyError, NoDaemonError, type ErrorCode, type WarrenError } from '../errors.js';

export const CONTROL_TIMEOUT_MS = 5000;
/** A status of thousands of workspaces is a few MB; anything far larger is not a reply. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** Nothing listens on the socket (ENOENT, ECONNREFUSED). */
export function noDaemonError(socketPath: string, cause?: unknown): WarrenError {
  return new NoDaemonError(socketPath, cause);
}

function connectError(socketPath: string, err: NodeJS.ErrnoException): WarrenError {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return noDaemonError(socketPath, err);
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new ControlError(`permission denied on ${socketPath}: run this as the user the warren daemon runs as (its socket is mode 0600)`, err);
  }
  return new ControlError(`cannot talk to the warren daemon on ${socketPath}: ${err.message}`, err);
}

/**
 * Sends `request` and resolves with the daemon's parsed reply. A reply of the form
 * `{"error":{"code","message"}}` (or `{"error":"message"}`) rejects with that message.
 */
export function askDaemon(socketPath: string, request: object, timeoutMs = CONTROL_TIMEOUT_MS, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(socketPath));
    const sock = net.connect({ path: socketPath });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: WarrenError | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err); else resolve(value);
    };
    const timer = setTimeout(() => finish(new ControlTimeoutError(socketPath, timeoutMs)), timeoutMs);
    // Aborting frees the socket and timer at once, so a caller that gives up can exit.
    const onAbort = () => finish(abortedError(socketPath));
    signal?.addEventListener('abort', onAbort);
    const parse = (line: string) => {
      let reply: unknown;
      try {
        reply = JSON.parse(line);
      } catch {
        return finish(new ControlError(`the warren daemon on ${socketPath} answered something that is not JSON; is it a warren daemon of this version?`));
      }
      const code = replyCode(reply);
      const e = replyError(reply);
      // The daemon's own one-line error (no such session, say) is the person's answer as it is.
      if (e !== null && code !== null) return finish(new DaemonReplyError(code, e));
      if (e !== null) return finish(new ControlError(`the warren daemon on ${socketPath} refused the request: ${e}`));
      finish(null, reply);
    };
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) finish(new ControlError(`the warren daemon on ${socketPath} sent a reply over ${MAX_REPLY_BYTES} bytes; giving up`));
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      parse(Buffer.concat(chunks).toString('utf8'));
    });
    // A daemon that answers and closes without the final newline still answered.
    sock.on('end', () => {
      if (size > 0) parse(Buffer.concat(chunks).toString('utf8'));
      else finish(new ControlError(`the warren daemon on ${socketPath} closed the connection without answering; see its log`));
    });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(connectError(socketPath, err)));
  });
}

function abortedError(socketPath: string): WarrenError {
  return new ControlError(`the request to the warren daemon on ${socketPath} was cancelled`);
}

/** The error's code when it is one of warren's own, other than a bad request (that one names the protocol, not the person's mistake). */
function replyCode(reply: unknown): ErrorCode | null {
  const code = (reply as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' && /^WARREN_ERR_[A-Z_]+$/.test(code) && code !== 'WARREN_ERR_BAD_REQUEST' ? code as ErrorCode : null;
}

function replyError(reply: unknown): string | null {
  if (typeof reply !== 'object' || reply === null || !('error' in reply)) return null;
  const e = (reply as { error: unknown }).error;
  if (typeof e === 'string') return e;
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  return null;
}
