// The broker: every configured workspace's runtime (link + opencode server), kept
// running side by side. One workspace's trouble never reaches another: each has its
// own link, server and failures. A reload changes only the workspaces whose config
// changed; the others keep their links and streams.
import type { OpencodeClient } from '@opencode-ai/sdk/v2/client';
import { loadConfig, type WarrenConfig, type WorkspaceConfig } from '../config/index.js';
import { silentLogger, type Logger } from '../log.js';
import { opencodeClientOverLink } from '../opencode/client.js';
import type { PermissionReply } from '../opencode/ask.js';
import type { ChatOptions, ChatResult } from '../opencode/chat.js';
import type { SessionInfo } from '../opencode/locate.js';
import type { SessionRow } from '../opencode/sessions.js';
import type { WaitUpOptions } from '../ssh/link.js';
import { Semaphore, defaultHandshakeLimiter } from '../ssh/semaphore.js';
import path from 'node:path';
import { UnknownWorkspaceError } from '../errors.js';
import { MessageRuns } from './message-runs.js';
import type { RunBounds } from './runs.js';
import { RECONNECT_WAIT_MS } from '../opencode/across-drops.js';
import { warrenVersion } from '../version.js';
import { jumpStatus, opencodeStatus, tunnelStatus, type BrokerStatus, type MessageStats, type UsageStatus, type WorkspaceStatus } from './status.js';
import { WorkspaceRuntime } from './workspace.js';
import { ErrorHistory } from './error-history.js';
import { JumpPool } from './jump-pool.js';
import { usageReport, type UsageQuery, type UsageReport, type UsageRow } from './usage.js';


/** UTC midnight of the day `now` falls in: where "today" starts in status and metrics. */
export function startOfUtcDay(now = Date.now()): number {
  return now - (now % 86_400_000);
}

export interface BrokerOptions {
  logger?: Logger;
  handshakeLimiter?: Semaphore;
  /** Shown in status: where the gateway listens, if there is one. */
  gateway?: string | null;
  /** Where Idempotency-Keys are kept across restarts (idempotency.json); none: in memory only. */
  stateDir?: string | null;
  /** How long and how many finished message runs stay replayable (runs.ts has the defaults). */
  runs?: RunBounds;
  /**
   * How often today's usage is read, on servers that run anyway (quietly: no idle stop
   * is put off, no server started); 0, the default, never. The daemon reads every 60 s.
   */
  usageRefreshMs?: number;
}

export interface ReloadResult { added: string[]; removed: string[]; changed: string[]; unchanged: string[] }

interface Entry { runtime: WorkspaceRuntime; stats: MessageStats; key: string; errors: ErrorHistory }

export class Broker {
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logger;
  private readonly limiter: Semaphore;
  /** One link per jump host, shared by the workspaces behind it. */
  private readonly jumps: JumpPool;
  private readonly startedAt = new Date().toISOString();
  private gatewayValue: string | null;
  private closed = false;
  private readonly usageTimer: NodeJS.Timeout | undefined;
  /** Message runs: started once, owned by warren, found again by id or Idempotency-Key. */
  readonly messages: MessageRuns;

  constructor(config: WarrenConfig, o: BrokerOptions = {}) {
    this.log = o.logger ?? silentLogger;
    this.messages = new MessageRuns(this, { idempotencyFile: o.stateDir ? path.join(o.stateDir, 'idempotency.json') : null, logger: this.log, runs: o.runs });
    this.limiter = o.handshakeLimiter ?? defaultHandshakeLimiter;
    this.gatewayValue = o.gateway ?? null;
    this.jumps = new JumpPool({ logger: this.log, handshakeLimiter: this.limiter });
    for (const ws of config.workspaces.values()) this.add(ws);
    if (o.usageRefreshMs) {
      this.usageTimer = setInterval(() => {
        for (const e of this.entries.values()) void e.runtime.refreshUsageQuietly(startOfUtcDay());
      }, o.usageRefreshMs).unref();
    }
  }

  get names(): string[] { return [...this.entries.keys()]; }

  set gateway(listen: string | null) { this.gatewayValue = listen; }

  /** Library calls made right after createBroker wait this long for the tunnel (the gateway never waits). */
  private static readonly UP_WAIT_MS = RECONNECT_WAIT_MS;

  /**
   * The runtime once its tunnel is up (waiting up to UP_WAIT_MS), or the error that
   * says why not; failFast: at once when its last attempt failed in a way retrying
   * does not heal (a one-shot caller such as `warren attach`; the link keeps trying).
   */
  async ready(name: string, o: WaitUpOptions = {}): Promise<WorkspaceRuntime> {
    const rt = this.workspace(name);
    if (rt.link.state !== 'up') await rt.link.waitForUp(Broker.UP_WAIT_MS, o);
    return rt;
  }

  /** The runtime of a workspace, or UnknownWorkspaceError. */
  workspace(name: string): WorkspaceRuntime {
    const e = this.entries.get(name);
    if (!e) throw new UnknownWorkspaceError(name);
    return e.runtime;
  }

  has(name: string): boolean { return this.entries.has(name); }

  status(): BrokerStatus {
    const workspaces: WorkspaceStatus[] = [...this.entries.values()].map(({ runtime, stats, errors }) => ({
      name: runtime.name,
      target: runtime.link.target,
      tunnel: tunnelStatus(runtime.link.snapshot()),
      opencode: opencodeStatus(runtime.server.snapshot()),
      messages: { ...stats },
      recentErrors: errors.list(),
      via: runtime.jumpLink ? jumpStatus(runtime.jumpLink.snapshot()) : null,
      usage: usageToday(runtime),
    }));
    return { workspaces, daemon: { pid: process.pid, version: warrenVersion(), startedAt: this.startedAt, gateway: this.gatewayValue, runs: this.messages.registry.stats() } };
  }

  async sessions(name: string): Promise<SessionRow[]> { return (await this.ready(name)).sessions(); }

  /** Tokens and cost of one workspace's agents in the window; its errors as they are. */
  async usage(name: string, q: UsageQuery): Promise<UsageRow[]> { return (await this.ready(name)).usage(q); }

  /**
   * The same over several workspaces (all without names): one that fails is listed in
   * `errors`. A link whose last attempt failed in a way retrying does not heal (refused,
   * rejected) fails at once rather than holding up the others' rows.
   */
  usageReport(names: readonly string[] | null, q: UsageQuery): Promise<UsageReport> {
    const list = names ?? this.names;
    for (const n of list) this.workspace(n);
    return usageReport(list.map((n) => ({ name: n, usage: async (qq: UsageQuery) => (await this.ready(n, { failFast: true })).usage(qq) })), q);
  }

  /** Per workspace and model, everything read so far: the Prometheus counters. */
  usageTotals(): UsageRow[] {
    return [...this.entries.values()].flatMap((e) => e.runtime.usageLedger.totalsByModel());
  }

  async createSession(name: string, o: { directory?: string; title?: string } = {}): Promise<SessionInfo> {
    return (await this.ready(name)).createSession(o);
  }

  /** Sends a message (locating/importing the session first) and counts it for status and metrics. */
  async sendMessage(name: string, sessionID: string, o: Omit<ChatOptions, 'sessionID' | 'directory'>, known?: SessionInfo): Promise<ChatResult & { imported: boolean }> {
    const e = this.entries.get(name);
    if (!e) throw new UnknownWorkspaceError(name);
    if (e.runtime.link.state !== 'up') await e.runtime.link.waitForUp(Broker.UP_WAIT_MS);
    const started = Date.now();
    e.stats.total++;
    e.stats.inFlight++;
    try {
      const r = await e.runtime.chat(sessionID, o, known);
      e.stats.durationMsSum += Date.now() - started;
      e.stats.durationCount++;
      return r;
    } catch (err) {
      e.stats.failed++;
      throw err;
    } finally {
      e.stats.inFlight--;
    }
  }

  /**
   * Answers a run's `permission` event (ChatOptions.onPermission): 'once', 'always'
   * (opencode stops asking for the request's `always` patterns in that directory while
   * the server runs) or 'reject' (the tool fails and the run ends). REQUEST_NOT_FOUND
   * when the session has no such request pending.
   */
  async answerPermission(name: string, sessionID: string, requestID: string, reply: PermissionReply): Promise<void> {
    return (await this.ready(name)).answerPermission(sessionID, requestID, reply);
  }

  /**
   * Answers a run's `question` event (ChatOptions.onQuestion): one list of chosen
   * labels per question, in order, or 'reject' to dismiss it (the run ends).
   */
  async answerQuestion(name: string, sessionID: string, requestID: string, answers: string[][] | 'reject'): Promise<void> {
    return (await this.ready(name)).answerQuestion(sessionID, requestID, answers);
  }

  /** The official SDK v2 client for a workspace, its fetch over the tunnel (the server started on demand). */
  async opencodeClient(name: string, o: { directory?: string } = {}): Promise<OpencodeClient> {
    const rt = await this.ready(name);
    await rt.server.ensureRunning();
    return opencodeClientOverLink(rt.link, {
      dispatcher: rt.server.dispatcher, baseUrl: rt.server.baseUrl, authorization: () => rt.server.authorization(),
      ...(o.directory !== undefined ? { directory: o.directory } : {}),
    }).client;
  }

  /** Applies a new config: only workspaces that were added, removed or changed are touched. */
  async reload(next: WarrenConfig | string): Promise<ReloadResult> {
    const config = typeof next === 'string' ? loadConfig(next) : next;
    const result: ReloadResult = { added: [], removed: [], changed: [], unchanged: [] };
    // Held across the reload: a jump host that stays in use keeps its link while the
    // workspaces behind it are closed and added again, rather than reconnecting.
    const holds = [...(config.jumpHosts?.values() ?? [])].map((j) => this.jumps.acquire(j));
    try {
      await this.swap(config, result);
    } finally {
      await Promise.all(holds.map((h) => h.release()));
    }
    this.log.info(result, 'config reloaded');
    return result;
  }

  private async swap(config: WarrenConfig, result: ReloadResult): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [name, e] of this.entries) {
      const now = config.workspaces.get(name);
      if (!now) {
        result.removed.push(name);
        this.entries.delete(name);
        closing.push(e.runtime.close({ stopServer: true }));
      } else if (keyOf(now) !== e.key) {
        result.changed.push(name);
        this.entries.delete(name);
        closing.push(e.runtime.close({ stopServer: true }));
      } else {
        result.unchanged.push(name);
      }
    }
    await Promise.all(closing);
    for (const ws of config.workspaces.values()) {
      if (this.entries.has(ws.name)) continue;
      if (!result.changed.includes(ws.name)) result.added.push(ws.name);
      this.add(ws);
    }
  }

  /** The jump hosts' links open now, with how many workspaces go through each. */
  jumpHosts(): Array<{ name: string; state: string; workspaces: number }> {
    return this.jumps.list().map(({ link, refs }) => ({ name: link.name, state: link.state, workspaces: refs }));
  }

  /** Closes every workspace; stops the opencode servers warren runs unless told not to. */
  async close(o: { stopServers?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.usageTimer);
    await Promise.all([...this.entries.values()].map((e) => e.runtime.close({ stopServer: o.stopServers ?? true })));
    this.entries.clear();
  }

  private add(ws: WorkspaceConfig): void {
    const runtime = new WorkspaceRuntime(ws, { logger: this.log, handshakeLimiter: this.limiter, jumps: this.jumps });
    const errors = new ErrorHistory();
    errors.watch(runtime);
    this.entries.set(ws.name, { runtime, key: keyOf(ws), errors, stats: { total: 0, failed: 0, inFlight: 0, durationMsSum: 0, durationCount: 0 } });
    runtime.start();
  }
}

function usageToday(rt: WorkspaceRuntime): UsageStatus {
  const since = startOfUtcDay();
  const [row] = rt.usageLedger.rows(since, 'workspace');
  const asOf = rt.usageLedger.asOf;
  return { since: new Date(since).toISOString(), messages: row!.messages, tokens: row!.tokens, cost: row!.cost, asOf: asOf === null ? null : new Date(asOf).toISOString() };
}

function keyOf(ws: WorkspaceConfig): string {
  return JSON.stringify(ws);
}

/** The library entry point: a started broker for a config object or file. */
export function createBroker(config: WarrenConfig | string, o: BrokerOptions = {}): Broker {
  return new Broker(typeof config === 'string' ? loadConfig(config) : config, o);
}
