// One workspace at run time: its link, its opencode server, and the verbs the CLI
// and the gateway use (locate, chat, sessions, create). The path of a request reads
// top to bottom: here -> session locate -> server lifecycle -> dispatcher -> link.
import type { WorkspaceConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../log.js';
import { Link } from '../ssh/link.js';
import type { Semaphore } from '../ssh/semaphore.js';
import type { Transport } from '../ssh/transport.js';
import { JumpPool, type JumpLease } from './jump-pool.js';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ChatTimeoutError, InvalidDirectoryError, LinkDownError, SessionBusyError, SessionNotFoundError } from '../errors.js';
import { acrossDrops, RECONNECT_WAIT_MS, type DropBudget } from '../opencode/across-drops.js';
import { callServer } from '../opencode/api.js';
import { forward, type ForwardRequest } from '../opencode/forward.js';
import { answerPermission, answerQuestion, type PermissionReply } from '../opencode/ask.js';
import { sendMessage, type ChatOptions, type ChatResult, type StepHook } from '../opencode/chat.js';
import { outcomeOf, readHistory, sessionBusy, type Outcome } from '../opencode/history.js';
import { checkSessionId, locateSession, type Located, type SessionInfo } from '../opencode/locate.js';
import { OpencodeServer } from '../opencode/server.js';
import { listSessions, type SessionRow } from '../opencode/sessions.js';
import { UsageLedger, type UsageRow } from '../opencode/usage-ledger.js';
import type { UsageQuery } from './usage.js';

/**
 * Data directories searched for sessions the server does not know, after the
 * configured importFrom: the default XDG data home, where a non-login ssh session
 * or a user without XDG_DATA_HOME in its profile keeps them.
 */
export const DEFAULT_IMPORT_FROM = ['~/.local/share'];

/** The key of the session metadata that marks warren's create, to find it after a drop. */
const CREATE_TOKEN_KEY = 'warrenCreate';

/** Sessions remembered as known to the server; past this the memory starts again. */
const MAX_KNOWN = 10_000;

// Linux's PATH_MAX (terminating NUL excluded) and NAME_MAX.
const MAX_DIRECTORY_BYTES = 4095;
const MAX_NAME_BYTES = 255;

/**
 * What opencode would otherwise take and fail on later (a relative path resolves
 * against the server's own working directory; a NUL or an over-long path is its 500).
 */
export function checkDirectory(dir: string): void {
  if (!dir.startsWith('/')) throw new InvalidDirectoryError('must be an absolute path inside the workspace');
  if (dir.includes('\0')) throw new InvalidDirectoryError('must not contain a NUL byte');
  const bytes = Buffer.byteLength(dir);
  if (bytes > MAX_DIRECTORY_BYTES) throw new InvalidDirectoryError(`must be at most ${MAX_DIRECTORY_BYTES} bytes (got ${bytes})`);
  if (dir.split('/').some((part) => Buffer.byteLength(part) > MAX_NAME_BYTES)) throw new InvalidDirectoryError(`has a part longer than ${MAX_NAME_BYTES} bytes`);
}

export interface RuntimeOptions {
  logger?: Logger;
  handshakeLimiter?: Semaphore;
  onStep?: StepHook;
  /** A one-shot command's runtime: the link's failFast (link.ts); the daemon's retry everything. */
  failFast?: boolean;
  /** Lines for a person watching: connecting, starting opencode, importing a session. */
  onProgress?: (line: string) => void;
  /** Where a workspace behind a jump host gets the jump link (the broker's, shared); none: a private one. */
  jumps?: JumpPool;
}

export class WorkspaceRuntime {
  readonly name: string;
  readonly link: Link;
  readonly server: OpencodeServer;
  private readonly importFrom: string[];
  private readonly onStep: StepHook | undefined;
  private readonly onProgress: ((line: string) => void) | undefined;
  private readonly log: Logger;
  /** Sessions with a message running through this runtime. */
  private readonly answering = new Set<string>();
  /** Sessions the running server is known to have (knowSession), and which server that was. */
  private known = { instance: -1, ids: new Set<string>() };
  /** The jump host's link this workspace goes through, or undefined. */
  private readonly jump: JumpLease | undefined;
  /** What the workspace's agents cost, as read so far (usage-ledger.ts). */
  readonly usageLedger: UsageLedger;

  constructor(readonly config: WorkspaceConfig, o: RuntimeOptions = {}) {
    this.name = config.name;
    this.usageLedger = new UsageLedger(config.name);
    this.log = o.logger ?? silentLogger;
    this.onStep = o.onStep;
    this.onProgress = o.onProgress;
    const t = config.transport;
    if (t.kind === 'jump') {
      const jumps = o.jumps ?? new JumpPool({ logger: this.log, failFast: o.failFast ?? false, ...(o.handshakeLimiter ? { handshakeLimiter: o.handshakeLimiter } : {}) });
      this.jump = jumps.acquire(t.jumpHost);
    }
    const transport: Transport = t.kind === 'command' ? { kind: 'command', argv: t.argv }
      : t.kind === 'jump' ? { kind: 'jump', via: this.jump!.link, host: config.host, port: config.port }
        : { kind: 'tcp', host: config.host, port: config.port };
    try {
      this.link = new Link({
        name: config.name, user: config.user, transport, privateKeyPath: config.privateKeyPath,
        hostKeyFingerprints: config.hostKeyFingerprints, keepalive: config.keepalive, logger: this.log, failFast: o.failFast ?? false,
        ...(o.handshakeLimiter ? { handshakeLimiter: o.handshakeLimiter } : {}),
      });
    } catch (err) {
      // A key that cannot be read: the jump link taken for this workspace is not left open.
      void this.jump?.release();
      throw err;
    }
    this.server = new OpencodeServer(this.link, {
      workspace: config.name, port: config.opencode.port, command: config.opencode.command,
      idleTimeoutMs: config.opencode.idleTimeoutMs, startTimeoutMs: config.opencode.startTimeoutMs, logger: this.log,
    });
    this.importFrom = [...config.importFrom, ...DEFAULT_IMPORT_FROM.filter((d) => !config.importFrom.includes(d))];
    if (this.onProgress) this.server.on('progress', this.onProgress);
  }

  start(): this {
    if (this.link.state === 'stopped') this.onProgress?.(`connecting to ${this.name} (${this.link.target})…`);
    this.link.start();
    // The first time the link is up, take over a server a previous warren left running.
    const onState = (c: { to: string }) => {
      if (c.to !== 'up') return;
      this.link.off('state', onState);
      void this.server.adoptIfRunning();
    };
    this.link.on('state', onState);
    return this;
  }

  private get ctx() {
    return { workspace: this.name, link: this.link, server: this.server, importFrom: this.importFrom, opencodeCommand: this.config.opencode.command, logger: this.log, onStep: this.onStep, onProgress: this.onProgress };
  }

  /** Whether a message to this session is running through this runtime. */
  isAnswering(sessionID: string): boolean {
    return this.answering.has(sessionID);
  }

  /** Waits and retries across link drops for calls that are not part of a message run. */
  private budget(deadlineMs = 2 * RECONNECT_WAIT_MS, reconnectWaitMs = RECONNECT_WAIT_MS, deadlineError?: () => Error): DropBudget {
    return {
      link: this.link, server: this.server, logger: this.log.child({ ws: this.name }), reconnectWaitMs, deadline: Date.now() + deadlineMs,
      ...(deadlineError ? { deadlineError } : {}),
    };
  }

  /** Finds the session, importing it if the server does not know it; a lookup first on every try. */
  locate(sessionID: string, budget = this.budget()): Promise<Located> {
    checkSessionId(sessionID);
    return acrossDrops(budget, 'locating the session', async () => {
      await this.onStep?.('locate');
      return locateSession(this.ctx, sessionID);
    }, { restartServer: true });
  }

  /**
   * Makes sure the server has the session before a pass-through request reaches for
   * it, importing it from elsewhere if needed: once per session and server instance.
   * One that exists nowhere is left for the server to answer (its own 404).
   */
  async knowSession(sessionID: string): Promise<void> {
    const instance = this.server.instance;
    if (this.known.instance === instance && this.known.ids.has(sessionID)) return;
    try {
      await this.locate(sessionID);
    } catch (err) {
      if (err instanceof SessionNotFoundError) return;
      throw err;
    }
    if (this.known.instance !== this.server.instance || this.known.ids.size >= MAX_KNOWN) this.known = { instance: this.server.instance, ids: new Set() };
    this.known.ids.add(sessionID);
  }

  sessions(): Promise<SessionRow[]> {
    return acrossDrops(this.budget(), 'listing sessions', () => listSessions(this.ctx), { restartServer: true });
  }

  /** Tokens and cost in the window, every session of the server included; starts the server if needed. */
  async usage(q: UsageQuery): Promise<UsageRow[]> {
    await acrossDrops(this.budget(), 'reading usage', async () => {
      await this.server.ensureRunning();
      await this.usageLedger.refresh(this.server, q.since, { quiet: false });
    }, { restartServer: true });
    return this.usageLedger.rows(q.since, q.by);
  }

  /**
   * Reads what changed since `since`, only if the server runs now, without counting
   * as a use of it (its idle stop goes on); never throws (the next read tries again).
   */
  async refreshUsageQuietly(since: number): Promise<void> {
    if (this.link.state !== 'up' || this.server.state !== 'running') return;
    try {
      await this.usageLedger.refresh(this.server, since, { quiet: true });
    } catch (err) {
      this.log.debug({ ws: this.name, err: (err as Error).message }, 'background usage read failed');
    }
  }

  /**
   * Creates a session. The create carries a token in its metadata, so a try cut off
   * by a drop is found by it rather than made twice.
   */
  async createSession(o: { directory?: string; title?: string } = {}): Promise<SessionInfo> {
    if (o.directory !== undefined) checkDirectory(o.directory);
    const token = randomUUID();
    let tried = false;
    return acrossDrops(this.budget(), 'creating a session', async () => {
      await this.server.ensureRunning();
      if (tried) {
        const made = await this.createdWith(token);
        if (made) return made;
      }
      await this.onStep?.('create');
      tried = true;
      const r = await callServer<SessionInfo>(this.server, this.name, '/session', {
        method: 'POST', body: { ...(o.title !== undefined ? { title: o.title } : {}), metadata: { [CREATE_TOKEN_KEY]: token } },
        ...(o.directory !== undefined ? { directory: o.directory } : {}),
      });
      return r.body;
    }, { restartServer: true });
  }

  private async createdWith(token: string): Promise<SessionInfo | null> {
    const r = await callServer<Array<SessionInfo & { metadata?: Record<string, unknown> }>>(this.server, this.name, '/experimental/session?roots=true&limit=10000');
    return r.body.find((s) => s.metadata?.[CREATE_TOKEN_KEY] === token) ?? null;
  }

  /**
   * Locates (importing if needed), then sends and streams. `known` skips the lookup
   * for a session this process just created or located. One message per session at
   * a time: opencode would fold a second prompt into the running one.
   */
  async chat(sessionID: string, o: Omit<ChatOptions, 'sessionID' | 'directory'>, known?: SessionInfo): Promise<ChatResult & { imported: boolean }> {
    checkSessionId(sessionID);
    if (this.answering.has(sessionID)) throw new SessionBusyError(this.name, sessionID);
    this.answering.add(sessionID);
    try {
      const deadlineMs = o.deadlineMs ?? 600_000;
      const budget = this.budget(deadlineMs, o.reconnectWaitMs ?? RECONNECT_WAIT_MS, () => new ChatTimeoutError(this.name, sessionID, deadlineMs));
      const located = known && known.id === sessionID ? { session: known, imported: false } : await this.locate(sessionID, budget);
      const result = await sendMessage(this.ctx, { ...o, sessionID, directory: located.session.directory });
      return { ...result, imported: located.imported };
    } finally {
      this.answering.delete(sessionID);
    }
  }

  /** What the session's history says of a message: not there, being answered, or answered. */
  async messageOutcome(sessionID: string, messageID: string): Promise<{ session: SessionInfo; outcome: Outcome }> {
    const located = await this.locate(sessionID);
    const dir = located.session.directory;
    return acrossDrops(this.budget(), 'reading the history', async () => {
      await this.server.ensureRunning();
      const [entries, busy] = await Promise.all([readHistory(this.server, sessionID, dir), sessionBusy(this.server, sessionID, dir)]);
      return { session: located.session, outcome: outcomeOf(entries, sessionID, messageID, busy) };
    }, { restartServer: true });
  }

  /**
   * Answers a `permission` a run of the session asked (onPermission): once, always,
   * or reject. REQUEST_NOT_FOUND when the session has no such request pending.
   */
  answerPermission(sessionID: string, requestID: string, reply: PermissionReply): Promise<void> {
    return answerPermission(this.server, this.name, requestID, reply, { sessionID });
  }

  /**
   * Answers a `question` a run of the session asked (onQuestion): one list of labels
   * per question, or 'reject' to dismiss it. REQUEST_NOT_FOUND as for permissions.
   */
  answerQuestion(sessionID: string, requestID: string, answers: string[][] | 'reject'): Promise<void> {
    return answerQuestion(this.server, this.name, requestID, answers, { sessionID });
  }

  // ---- the pass-through's verbs: what the gateway needs of the link and the server ----

  /** LINK_DOWN at once unless the tunnel is up: the gateway never waits on one that is not. */
  assertUp(): void {
    if (this.link.state !== 'up') throw new LinkDownError(this.name, this.link.state, this.link.lastError?.message ?? null);
  }

  /** The server running (started if need be). */
  ensureServer(): Promise<void> {
    return this.server.ensureRunning();
  }

  /** The link up and the server running, waiting for both up to the deadline (epoch ms). */
  async whenReady(deadline: number): Promise<void> {
    if (this.link.state !== 'up') await this.link.waitForUp(Math.max(1, deadline - Date.now()));
    await this.server.ensureRunning();
  }

  /**
   * Whether a pass-through request may go straight to the server without waiting:
   * the link up, the server running, and the session (if any) known to this server
   * (knowSession). The gateway's fast lane takes only these; others take the long way.
   */
  readyNow(sessionID: string | null): boolean {
    if (this.link.state !== 'up' || !this.server.runningNow()) return false;
    return sessionID === null || (this.known.instance === this.server.instance && this.known.ids.has(sessionID));
  }

  /** A byte stream to the server's port (a channel): the fast lane's upstream connection. */
  openServerSocket(): Promise<Duplex> {
    return this.link.openSocket('127.0.0.1', this.config.opencode.port);
  }

  /** The server's own Authorization header and which server it is for. */
  serverCredentials(): { authorization: string; instance: number; host: string } {
    return { authorization: this.server.authorization(), instance: this.server.instance, host: `127.0.0.1:${this.config.opencode.port}` };
  }

  /** Marks use of the server until the returned release is called: no idle stop under it. */
  hold(): () => void {
    return this.server.acquire();
  }

  /** One request through to the server, with its password; failures mapped (forward.ts). */
  forward(o: ForwardRequest): ReturnType<typeof forward> {
    return forward(this.server, o);
  }

  /** Whether the session has that message (a prompt that may or may not have arrived). */
  async hasMessage(sessionID: string, messageID: string, directory: string | null): Promise<boolean> {
    const r = await callServer(this.server, this.name, `/session/${sessionID}/message/${messageID}`, { accept: [404], ...(directory ? { directory } : {}) });
    return r.status !== 404;
  }

  /** The jump host's link this workspace goes through, or null for a direct one. */
  get jumpLink(): Link | null {
    return this.jump?.link ?? null;
  }

  async close(o: { stopServer: boolean }): Promise<void> {
    try {
      await this.server.close(o);
      await this.link.close();
    } finally {
      await this.jump?.release();
    }
  }
}
