// One SSH connection to one workspace, kept alive and healed.
//
// States (every transition is logged and emitted as 'state'):
//
//   stopped --start()--> connecting --ready--> up
//   connecting --attempt failed--> down --backoff elapsed--> connecting
//   up --transport lost / keepalive timeout--> down --backoff--> connecting
//   any --close()--> stopped (final)
//
// An attempt that fails in a way retrying does not heal (refused, unreachable, key
// or host key refused: attempt.ts) is kept as the link's `stuck` error until an
// attempt succeeds; a wait that asks to fail fast rejects with it at once. A
// one-shot link (failFast) stops trying there, until it has been up once: a command
// says in one line what to fix rather than waiting out its deadline in silence.
//
// Two failure classes are kept apart. A channel that cannot be opened (nothing
// listens, target not permitted) fails that one request; the link stays up. A
// transport failure marks the link down, fails everything in flight at once, and
// reconnects. While the link is not up, new work fails immediately (unless the
// caller asks to wait for up), so nothing ever queues on a dead link.
//
// This file is the state machine and the registry of work in flight, and says
// what each failure means given the state. The rest is done by modules it drives
// through hooks: one connection attempt (connect.ts), the liveness probe
// (keepalive.ts), channel opens (forward.ts), command runs (exec.ts), and the
// figures status shows (link-stats.ts).
import { EventEmitter } from 'node:events';
import type { Client, ClientChannel } from 'ssh2';
import type { Duplex } from 'node:stream';
import {
  ChannelFailedError, ChannelProhibitedError, ChannelRefusedError, ChannelTimeoutError, ExecFailedError, ExecTimeoutError,
  HostKeyFormatError, LinkClosedError, LinkDownError, LinkLostError, WaitUpTimeoutError, WarrenError,
} from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { attemptFailure, healsByRetrying } from './attempt.js';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
import { ChannelSocket } from './channel-socket.js';
import { DEFAULT_READY_TIMEOUT_MS, connectClient, endClient, readPrivateKey, type ConnectOptions } from './connect.js';
import { DEFAULT_EXEC_TIMEOUT_MS, runExec, type ExecOptions, type ExecResult } from './exec.js';
import { isFingerprint } from '../host-key.js';
import { openForward } from './forward.js';
import { DEFAULT_KEEPALIVE, startKeepalive, type KeepaliveOptions } from './keepalive.js';
import { LinkStats, type LinkSnapshot } from './link-stats.js';
import { Semaphore, defaultHandshakeLimiter } from './semaphore.js';
import { describeTransport, type Transport } from './transport.js';

export { DEFAULT_KEEPALIVE, type KeepaliveOptions } from './keepalive.js';
export { nativeCryptoAvailable, type LinkSnapshot } from './link-stats.js';

export type LinkState = 'stopped' | 'connecting' | 'up' | 'down';

export interface LinkOptions {
  /** The workspace's name, used in every message and log line. */
  name: string;
  user: string;
  transport: Transport;
  /** Path of the private key, read once when the link is created. */
  privateKeyPath?: string;
  /** Or the key itself. */
  privateKey?: Buffer;
  /**
   * SHA256:... as `ssh-keygen -lf` prints it, one or more (several while a host key is
   * rotated): the host key must match one. Required: no host key is ever accepted unchecked.
   */
  hostKeyFingerprints: readonly string[];
  keepalive?: Partial<KeepaliveOptions>;
  /** Transport connect plus SSH handshake. Default 10 s. */
  readyTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Default deadline for opening a forwarded channel. Default 10 s. */
  channelOpenTimeoutMs?: number;
  /** Exec sessions at once on this link; keep it under sshd's MaxSessions. Default 8. */
  maxConcurrentExecs?: number;
  handshakeLimiter?: Semaphore;
  logger?: Logger;
  /**
   * One-shot use (a command, a probe): until the link has been up once, an attempt
   * that fails in a way retrying does not heal ends the tries, and every wait for up
   * rejects with that error at once. Failures that heal (timeouts, resets, sshd
   * throttling) are retried as usual. Off for the daemon, whose links retry
   * everything: a workspace that comes back later must recover.
   */
  failFast?: boolean;
}

export interface WaitUpOptions {
  /** Reject at once with the error of an attempt that retrying does not heal (the link's `stuck`). */
  failFast?: boolean;
}

export interface WaitOptions {
  /** If the link is not up, wait this long for it instead of failing at once. */
  waitForUpMs?: number;
}

export interface ChannelOptions extends WaitOptions {
  timeoutMs?: number;
}

export interface StateChange { from: LinkState; to: LinkState; at: number; error?: WarrenError }

/** Anything in flight that a lost connection must fail at once. */
type Failable = (err: Error) => void;

export class Link extends EventEmitter {
  readonly name: string;
  readonly target: string;
  private readonly dial: ConnectOptions;
  private readonly channelOpenTimeoutMs: number;
  private readonly keepalive: KeepaliveOptions;
  private readonly backoff: BackoffOptions;
  private readonly execs: Semaphore;
  private readonly log: Logger;
  private readonly failFast: boolean;

  private stateValue: LinkState = 'stopped';
  private sinceMs = Date.now();
  private closed = false;
  private client: Client | undefined;
  private attemptAbort: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private gateTimer: NodeJS.Timeout | undefined;
  private stopKeepalive: (() => void) | undefined;
  private failures = 0;
  private nextAttemptAtMs: number | null = null;
  private readonly inflight = new Set<Failable>();
  private readonly upWaiters = new Set<{ resolve: () => void; reject: (e: Error) => void; failFast: boolean }>();
  /** The last attempt's error, while it is one that retrying does not heal. */
  private stuckError: WarrenError | null = null;
  /** A failFast link that stopped trying (before it was ever up). */
  private gaveUp = false;
  private readonly stats = new LinkStats();

  constructor(o: LinkOptions) {
    super();
    this.name = o.name;
    this.target = `${o.user}@${describeTransport(o.transport)}`;
    if (!Array.isArray(o.hostKeyFingerprints) || o.hostKeyFingerprints.length === 0 || !o.hostKeyFingerprints.every(isFingerprint)) {
      throw new HostKeyFormatError(o.name);
    }
    const privateKey = o.privateKey ?? readPrivateKey(o.name, o.privateKeyPath);
    this.keepalive = { ...DEFAULT_KEEPALIVE, ...o.keepalive };
    this.backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.channelOpenTimeoutMs = o.channelOpenTimeoutMs ?? 10_000;
    this.execs = new Semaphore(o.maxConcurrentExecs ?? 8);
    this.log = (o.logger ?? silentLogger).child({ ws: o.name });
    this.failFast = o.failFast ?? false;
    this.dial = {
      name: o.name, target: this.target, user: o.user, transport: o.transport, privateKey,
      hostKeyFingerprints: [...o.hostKeyFingerprints], readyTimeoutMs: o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      limiter: o.handshakeLimiter ?? defaultHandshakeLimiter, logger: this.log, failFast: this.failFast,
    };
  }

  get state(): LinkState { return this.stateValue; }
  get lastError(): WarrenError | null { return this.stats.lastError; }
  /**
   * The last attempt's error while it is one that retrying does not heal (refused,
   * unreachable, key or host key refused); null once an attempt succeeds.
   */
  get stuck(): WarrenError | null { return this.stuckError; }
  /**
   * Which connection this is (1 for the first): work that began on one connection and
   * failed on another met a drop, even if the link is up again by the time it looks.
   */
  get connection(): number { return this.stats.connection; }

  /** Begins connecting; from then on the link keeps itself up until close(). */
  start(): this {
    if (this.closed) throw new LinkClosedError(this.name);
    if (this.stateValue === 'stopped') this.connect();
    return this;
  }

  /**
   * Resolves when up; rejects after `ms` or when the link is closed, and, failing
   * fast (asked here or by the link's options), with the error of an attempt that
   * retrying does not heal.
   */
  waitForUp(ms: number, o: WaitUpOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new LinkClosedError(this.name));
    if (this.stateValue === 'up') return Promise.resolve();
    const failFast = this.gaveUp || (o.failFast ?? this.failFast);
    if (failFast && this.stuckError) return Promise.reject(this.stuckError);
    return new Promise((resolve, reject) => {
      const w = {
        failFast,
        resolve: () => { clearTimeout(timer); this.upWaiters.delete(w); resolve(); },
        reject: (e: Error) => { clearTimeout(timer); this.upWaiters.delete(w); reject(e); },
      };
      const timer = setTimeout(() => w.reject(new WaitUpTimeoutError(this.name, ms, this.lastError?.message ?? null)), ms);
      this.upWaiters.add(w);
    });
  }

  /** Opens a forwarded channel to host:port inside the workspace. */
  async openChannel(host: string, port: number, o: ChannelOptions = {}): Promise<ClientChannel> {
    const client = await this.readyClient(o);
    return openForward(client, host, port, o.timeoutMs ?? this.channelOpenTimeoutMs, {
      onPending: (fail) => this.track(fail),
      timeoutError: (target, ms) => new ChannelTimeoutError(this.name, target, ms),
      openError: (err, target) => this.channelError(err, target),
      sendError: (err) => this.lostOrDown(err),
    });
  }

  /** Like openChannel, as a socket for undici or ssh2; counted and failed with the link. */
  async openSocket(host: string, port: number, o: ChannelOptions = {}): Promise<Duplex> {
    const ch = await this.openChannel(host, port, o);
    const closed = this.stats.channelOpened();
    const sock: ChannelSocket = new ChannelSocket(ch, {
      remoteAddress: host, remotePort: port, counters: this.stats.bytes,
      onClose: () => {
        closed();
        untrack();
      },
    });
    const untrack = this.track((err) => sock.destroy(err));
    return sock;
  }

  /** Runs argv in the workspace (quoted word by word) and collects its output. */
  async exec(argv: readonly string[], o: ExecOptions & WaitOptions = {}): Promise<ExecResult> {
    const timeoutMs = o.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const started = Date.now();
    const release = await this.acquireExec(timeoutMs);
    try {
      const client = await this.readyClient(o);
      return await runExec(client, argv, { ...o, timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) }, {
        counters: this.stats.bytes,
        onChannel: (_ch, fail) => {
          const closed = this.stats.channelOpened();
          const untrack = this.track(fail);
          return () => {
            closed();
            untrack();
          };
        },
        timeoutError: (cmd, ms) => new ExecTimeoutError(this.name, cmd, ms),
        failedError: (cmd, why) => (this.stateValue === 'up' ? new ExecFailedError(this.name, cmd, why) : this.lostOrDown(new Error(why))),
      });
    } finally {
      release();
    }
  }

  snapshot(): LinkSnapshot {
    return this.stats.snapshot({
      name: this.name, target: this.target, state: this.stateValue, sinceMs: this.sinceMs, nextAttemptAtMs: this.nextAttemptAtMs,
    });
  }

  /** Stops for good: fails everything in flight, closes the connection, clears every timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.stopConnectionTimers();
    this.attemptAbort?.abort(new LinkClosedError(this.name));
    this.failInflight(new LinkClosedError(this.name));
    for (const w of [...this.upWaiters]) w.reject(new LinkClosedError(this.name));
    const client = this.client;
    this.client = undefined;
    this.setState('stopped');
    if (client) await endClient(client);
  }

  // ---- connecting ----

  private connect(): void {
    this.nextAttemptAtMs = null;
    this.setState('connecting');
    const abort = new AbortController();
    this.attemptAbort = abort;
    connectClient(this.dial, abort.signal, { onCipher: (cipher) => { this.stats.cipher = cipher; } }).then((client) => {
      if (this.closed || abort.signal.aborted) {
        void endClient(client);
        return;
      }
      this.onUp(client);
    }, (err: unknown) => {
      if (this.closed) return;
      const error = err as WarrenError;
      this.stats.attemptFailed(error);
      const failure = attemptFailure(error);
      this.stuckError = healsByRetrying(failure) ? null : error;
      this.setState('down', error);
      if (!this.stuckError) return this.scheduleRetry();
      // A one-shot link that was never up: nothing will change by trying again.
      this.gaveUp = this.failFast && this.stats.connection === 0;
      for (const w of [...this.upWaiters]) if (w.failFast || this.gaveUp) w.reject(error);
      if (!this.gaveUp) return this.scheduleRetry();
      this.log.info({ failure }, 'not retrying: this failure does not heal by itself');
    });
  }

  private onUp(client: Client): void {
    this.client = client;
    this.stuckError = null;
    this.gaveUp = false;
    this.stats.connected();
    client.on('error', (err) => this.lose(client, err));
    client.on('close', () => this.lose(client, new Error('connection closed')));
    this.gateTimer = setTimeout(() => { this.failures = 0; }, this.backoff.gateMs);
    this.stopKeepalive = startKeepalive(client, this.keepalive, {
      onRtt: (ms) => this.stats.keepaliveAnswered(ms),
      onLost: (err) => this.lose(client, err),
    });
    this.setState('up');
    for (const w of [...this.upWaiters]) w.resolve();
  }

  private scheduleRetry(): void {
    const delay = backoffDelay(this.failures++, this.backoff);
    this.nextAttemptAtMs = Date.now() + delay;
    this.log.info({ delayMs: delay, failures: this.failures }, 'reconnect scheduled');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // ---- losing the connection ----

  private stopConnectionTimers(): void {
    clearTimeout(this.gateTimer);
    this.stopKeepalive?.();
    this.stopKeepalive = undefined;
  }

  private lose(client: Client, err: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    if (this.stats.upForMs() >= this.backoff.gateMs) this.failures = 0;
    this.stopConnectionTimers();
    const why = err.message;
    const lost = new LinkLostError(this.name, why);
    this.stats.recordError(lost);
    this.failInflight(lost);
    void endClient(client);
    this.setState('down', lost);
    this.scheduleRetry();
  }

  // ---- helpers ----

  private async readyClient(o: WaitOptions): Promise<Client> {
    if (this.closed) throw new LinkClosedError(this.name);
    if (this.stateValue !== 'up' || !this.client) {
      if (!o.waitForUpMs) throw new LinkDownError(this.name, this.stateValue, this.lastError?.message ?? null);
      await this.waitForUp(o.waitForUpMs);
    }
    return this.client!;
  }

  private async acquireExec(timeoutMs: number): Promise<() => void> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await this.execs.acquire(signal);
    } catch {
      throw new ExecTimeoutError(this.name, 'waiting for a free exec session', timeoutMs);
    }
  }

  private channelError(err: Error & { reason?: number }, target: string): WarrenError {
    if (err.reason === 2) return new ChannelRefusedError(this.name, target);
    if (err.reason === 1) return new ChannelProhibitedError(this.name, target);
    if (this.stateValue !== 'up') return this.lostOrDown(err);
    return new ChannelFailedError(this.name, `opening a channel to ${target}`, err.message);
  }

  private lostOrDown(err: Error): WarrenError {
    if (this.closed) return new LinkClosedError(this.name);
    if (this.stateValue === 'up') return new LinkLostError(this.name, err.message);
    return new LinkDownError(this.name, this.stateValue, this.lastError?.message ?? null);
  }

  /** Registers work that a lost connection must fail at once; returns its removal. */
  private track(fail: Failable): () => void {
    this.inflight.add(fail);
    return () => { this.inflight.delete(fail); };
  }

  private failInflight(err: Error): void {
    const all = [...this.inflight];
    this.inflight.clear();
    for (const fail of all) fail(err);
  }

  private setState(to: LinkState, error?: WarrenError): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.sinceMs = Date.now();
    const fields = { from, to, ...(error ? { code: error.code, error: error.message } : {}) };
    if (to === 'down') this.log.warn(fields, 'link state');
    else this.log.info(fields, 'link state');
    const change: StateChange = { from, to, at: this.sinceMs, ...(error ? { error } : {}) };
    this.emit('state', change);
  }
}
