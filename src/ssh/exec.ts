// Running a command in the workspace over an established ssh2 connection. The
// command is an argv array, quoted word by word for the remote shell, so no
// argument is ever interpreted. Every run has a deadline; at the deadline the
// remote process is sent SIGKILL (OpenSSH honours the "signal" channel request)
// and the channel closed.
import type { Client, ClientChannel } from 'ssh2';
import { quoteCommand } from './quote.js';
import type { ByteCounters } from './channel-socket.js';

/** A run's whole deadline when the caller gives none. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. Secrets go here, never in argv. */
  stdin?: string | Buffer;
  /** Whole run, channel open included. Default 30 s. */
  timeoutMs?: number;
  /** Output beyond this (per stream) is dropped and `truncated` set. Default 16 MiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export interface ExecHooks {
  counters: ByteCounters;
  /** The channel is open: the link may fail it if the connection drops. */
  onChannel(channel: ClientChannel, fail: (err: Error) => void): () => void;
  timeoutError(command: string, ms: number): Error;
  failedError(command: string, why: string): Error;
}

export function runExec(client: Client, argv: readonly string[], o: ExecOptions, hooks: ExecHooks): Promise<ExecResult> {
  const command = quoteCommand(argv);
  const shown = argv[0] ?? '';
  const timeoutMs = o.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const max = o.maxOutputBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let settled = false;
    let channel: ClientChannel | undefined;
    let detach: (() => void) | undefined;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let truncated = false;
    let code: number | null = null;
    let signal: string | null = null;

    const finish = (e: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      detach?.();
      if (e) {
        if (channel) {
          killRemote(channel);
          try { channel.close(); } catch { /* connection gone */ }
          channel.resume();
          channel.stderr.resume();
        }
        reject(e);
        return;
      }
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), truncated });
    };
    const timer = setTimeout(() => finish(hooks.timeoutError(shown, timeoutMs)), timeoutMs);

    const collect = (into: Buffer[], which: 'out' | 'err') => (chunk: Buffer) => {
      hooks.counters.bytesIn += chunk.length;
      const len = which === 'out' ? outLen : errLen;
      if (len >= max) {
        truncated = true;
        return;
      }
      const part = len + chunk.length > max ? chunk.subarray(0, max - len) : chunk;
      if (part.length < chunk.length) truncated = true;
      into.push(part);
      if (which === 'out') outLen += part.length;
      else errLen += part.length;
    };

    try {
      client.exec(command, (e, ch) => {
        if (e) return finish(hooks.failedError(shown, e.message));
        if (settled) {
          // The deadline passed while the channel was opening.
          killRemote(ch);
          try { ch.close(); } catch { /* connection gone */ }
          ch.resume();
          return;
        }
        channel = ch;
        detach = hooks.onChannel(ch, (linkErr) => finish(linkErr));
        ch.on('data', collect(out, 'out'));
        ch.stderr.on('data', collect(err, 'err'));
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? null;
        });
        ch.on('error', (ce: Error) => finish(hooks.failedError(shown, ce.message)));
        ch.on('close', () => finish(null));
        const input = o.stdin;
        if (input !== undefined && input.length > 0) {
          hooks.counters.bytesOut += Buffer.byteLength(input);
          ch.end(input);
        } else {
          ch.end();
        }
      });
    } catch (e) {
      // ssh2 throws synchronously when the connection is not writable.
      finish(hooks.failedError(shown, (e as Error).message));
    }
  });
}

interface ChannelInternals {
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { signal(id: number, name: string): void } };
}

/**
 * Sends SIGKILL to the remote command (sshd kills its process group). ssh2's
 * Channel.signal() silently does nothing once our side has sent EOF, which exec
 * does at once when there is no stdin; the protocol allows the request after EOF,
 * so it goes through ssh2's protocol object (ssh2 is pinned; a test covers this).
 */
function killRemote(ch: ClientChannel): void {
  const c = ch as unknown as ChannelInternals;
  try {
    if (c.outgoing && (c.outgoing.state === 'open' || c.outgoing.state === 'eof') && c._client?._protocol) {
      c._client._protocol.signal(c.outgoing.id, 'KILL');
    } else {
      ch.signal('KILL');
    }
  } catch { /* connection gone: the process goes with the session */ }
}
