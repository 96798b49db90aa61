// How a link reaches sshd: a TCP connection, the stdio of a command (`docker exec
// -i CTR /usr/sbin/sshd -i`: SSH with no network port at all), or a channel
// forwarded through another link (a jump host). Each gives ssh2 a connected Duplex.
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Logger } from '../log.js';

export interface TcpTransport { kind: 'tcp'; host: string; port: number }
export interface CommandTransport { kind: 'command'; argv: readonly string[] }
export interface JumpTransport {
  kind: 'jump';
  /**
   * The link to go through. An attempt waits for it to be up (waitForUp, when it has
   * one) before taking a turn at the handshake limiter: links behind a jump host that
   * is down queue on that link, not on the limiter its own reconnect needs.
   */
  via: {
    openSocket(host: string, port: number, o?: { timeoutMs?: number }): Promise<Duplex>;
    waitForUp?(ms: number, o?: { failFast?: boolean }): Promise<void>;
    readonly name: string;
  };
  host: string;
  port: number;
}
export type Transport = TcpTransport | CommandTransport | JumpTransport;

export function describeTransport(t: Transport): string {
  switch (t.kind) {
    case 'tcp': return `${t.host}:${t.port}`;
    case 'command': return `command ${t.argv[0] ?? ''}`;
    case 'jump': return `${t.host}:${t.port} via ${t.via.name}`;
  }
}

export interface OpenOptions { timeoutMs: number; signal: AbortSignal; logger: Logger }

export function openTransport(t: Transport, o: OpenOptions): Promise<Duplex> {
  switch (t.kind) {
    case 'tcp': return openTcp(t, o);
    case 'command': return openCommand(t, o);
    case 'jump': return t.via.openSocket(t.host, t.port, { timeoutMs: o.timeoutMs });
  }
}

function openTcp(t: TcpTransport, o: OpenOptions): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: t.host, port: t.port });
    const fail = (err: Error) => {
      cleanup();
      sock.destroy();
      reject(err);
    };
    const onAbort = () => fail(o.signal.reason as Error);
    const timer = setTimeout(() => fail(new Error(`TCP connect timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      sock.off('error', fail);
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    sock.once('error', fail);
    sock.once('connect', () => {
      cleanup();
      sock.setNoDelay(true);
      resolve(sock);
    });
  });
}

/**
 * A command's stdout/stdin as one Duplex; destroying it ends the command. When the
 * command fails, its error carries the last line it wrote on stderr: for `docker exec`
 * that is the engine's own reason ("Container alpha is not running"), which tells the
 * operator more than an exit code.
 */
class CommandStream extends Duplex {
  constructor(private readonly child: ChildProcess, stderrTail: () => string) {
    super({ allowHalfOpen: false });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout!.pause();
    });
    child.stdout!.on('end', () => this.push(null));
    child.stdin!.on('error', (err) => this.destroy(err));
    child.on('exit', (code, signal) => {
      if (this.destroyed) return;
      if (code === 0) return this.destroy();
      // stderr may still be in flight when the exit arrives: wait for it to close (briefly).
      const fail = () => {
        const said = lastLine(stderrTail());
        this.destroy(new Error(`transport command exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ''}`));
      };
      if (child.stderr!.readableEnded || child.stderr!.destroyed) return fail();
      const t = setTimeout(fail, 200);
      child.stderr!.once('close', () => { clearTimeout(t); fail(); });
    });
  }

  override _read(): void { this.child.stdout!.resume(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.child.stdin!.write(chunk)) cb();
    else this.child.stdin!.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin!.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.child.stdin!.destroy();
    this.child.stdout!.destroy();
    this.child.stderr!.destroy();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      // A command that ignores SIGTERM is not allowed to outlive its link.
      const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      t.unref();
      this.child.once('exit', () => clearTimeout(t));
    }
    cb(err);
  }
}

/** The last non-empty line, at most 200 characters: one line for an error message. */
function lastLine(s: string): string {
  const line = s.trim().split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * The command ended before sshd said anything: `docker exec` into a stopped container,
 * say. It stays so until a person acts (attempt.ts counts it as refused), and its
 * message carries the command's own last words on stderr.
 */
export class TransportExitedError extends Error {
  readonly transportExited = true;
}

/**
 * Resolves once the command has written its first byte (sshd's banner), so that a
 * command that fails at once is told as such, with its reason, rather than as a
 * connection lost in the handshake.
 */
function openCommand(t: CommandTransport, o: OpenOptions): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = t.argv;
    if (!cmd) return reject(new Error('transport command is empty'));
    if (o.signal.aborted) return reject(o.signal.reason as Error);
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderrTail = '';
    let stream: CommandStream | null = null;
    let settled = false;
    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      if (settled) return;
      cleanup();
      stream?.destroy();
      if (!stream) child.kill('SIGKILL');
      reject(err);
    };
    const onAbort = () => fail(o.signal.reason as Error);
    const timer = setTimeout(() => fail(new Error(`transport command ${cmd} wrote nothing within ${o.timeoutMs} ms (timed out)`)), o.timeoutMs);
    o.signal.addEventListener('abort', onAbort, { once: true });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderrTail = (stderrTail + d).slice(-2000);
      o.logger.debug({ transport: cmd, stderr: d.trim() }, 'transport command stderr');
    });
    child.once('error', (err) => fail(new Error(`cannot run transport command ${cmd}: ${err.message}`)));
    child.once('spawn', () => {
      stream = new CommandStream(child, () => stderrTail);
      child.stdout!.once('data', () => {
        if (settled) return;
        cleanup();
        resolve(stream!);
      });
    });
    child.once('exit', (code, signal) => {
      if (code !== 0) o.logger.debug({ transport: cmd, code, stderr: stderrTail.trim() }, 'transport command exited');
      if (settled) return;
      const said = () => {
        const why = lastLine(stderrTail);
        fail(new TransportExitedError(`transport command ${cmd} exited (${signal ?? `code ${code}`}) before sshd answered${why ? `: ${why}` : ''}`));
      };
      // Its stderr may still be in flight: wait for it to close, briefly.
      if (child.stderr!.readableEnded || child.stderr!.destroyed) return said();
      const t = setTimeout(said, 200);
      child.stderr!.once('close', () => { clearTimeout(t); said(); });
    });
  });
}
