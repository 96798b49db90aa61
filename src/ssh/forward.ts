// Opening a forwarded channel (direct-tcpip) to host:port inside the workspace over
// an established ssh2 connection. Every open has a deadline; a channel that opens
// after its deadline, or after the link failed the open, is closed at once, since
// nobody holds it. What each failure means (refused, prohibited, the link gone) is
// the link's to say: it knows its state, so it makes the errors (the hooks).
import type { Client, ClientChannel } from 'ssh2';

export interface ForwardHooks {
  /** The open is pending: the link may fail it if the connection drops. Returns the release. */
  onPending(fail: (err: Error) => void): () => void;
  timeoutError(target: string, ms: number): Error;
  /** sshd answered the open with a failure (`reason`: 1 prohibited, 2 refused, ...). */
  openError(err: Error & { reason?: number }, target: string): Error;
  /** ssh2 threw at once: the connection is not writable. */
  sendError(err: Error): Error;
}

export function openForward(client: Client, host: string, port: number, timeoutMs: number, hooks: ForwardHooks): Promise<ClientChannel> {
  const target = `${host}:${port}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, ch?: ClientChannel) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      if (err) reject(err);
      else resolve(ch!);
    };
    const timer = setTimeout(() => done(hooks.timeoutError(target, timeoutMs)), timeoutMs);
    const release = hooks.onPending((err) => done(err));
    try {
      client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (settled) {
          // Opened after its deadline or after the link failed it: nobody wants it.
          if (ch) discardChannel(ch);
          return;
        }
        if (err) return done(hooks.openError(err, target));
        done(null, ch);
      });
    } catch (err) {
      done(hooks.sendError(err as Error));
    }
  });
}

function discardChannel(ch: ClientChannel): void {
  ch.on('error', () => {});
  ch.resume();
  try { ch.close(); } catch { /* connection gone */ }
}
