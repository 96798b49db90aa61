// warren as a library: the same capabilities as the daemon, in-process.
//
//   import { createBroker } from 'warren';
//   const broker = createBroker('/etc/warren/config.json');
//   const { text } = await broker.sendMessage('alpha', sessionID, { text: 'hello', onDelta: (d) => process.stdout.write(d) });
//   const client = await broker.opencodeClient('alpha');   // @opencode-ai/sdk/v2, over the tunnel
//   await broker.close();
//
// This file is the package's whole public surface (docs/integrator.md, "The library"):
// createBroker and the types its methods take and give, config loading, the errors and
// their codes. The layers underneath (the SSH link, the dispatcher, the opencode server)
// are seen only through the narrow interfaces below, never as their classes, so they can
// change without breaking an integrator. The classes satisfy these interfaces; the
// compiler checks it where createBroker hands its Broker out.
import type { OpencodeClient } from '@opencode-ai/sdk/v2/client';
import { createBroker as createBrokerInternal } from './broker/broker.js';
import type { BrokerStatus } from './broker/status.js';
import type { WarrenConfig } from './config/index.js';
import type { Logger } from './log.js';
import type { PermissionReply } from './opencode/ask.js';
import type { ChatOptions } from './opencode/chat.js';
import type { SessionInfo } from './opencode/locate.js';
import type { ServerSnapshot, ServerState } from './opencode/server.js';
import type { SessionRow } from './opencode/sessions.js';
import type { LinkSnapshot, LinkState } from './ssh/link.js';
import type { WarrenError } from './errors.js';
import type { RunBounds } from './broker/runs.js';
import type { UsageQuery, UsageReport } from './broker/usage.js';

export interface BrokerOptions {
  /** A pino logger; the default is silent. */
  logger?: Logger;
  /** Shown in status(): where your gateway listens, if you run one. */
  gateway?: string | null;
  /** How long and how many finished message runs stay replayable: 15 min, 1,000 runs, 64 MiB unless given. */
  runs?: RunBounds;
}

/** What sendMessage takes besides the workspace and session: the text, callbacks, deadlines. */
export type SendMessageOptions = Omit<ChatOptions, 'sessionID' | 'directory' | 'messageID' | 'follow'>;

export interface SendMessageResult {
  sessionID: string;
  messageID: string;
  /** The complete reply: the onDelta pieces add up to exactly this. */
  text: string;
  /** Whether the session had to be found in another data directory and imported first. */
  imported: boolean;
}

export interface ReloadResult { added: string[]; removed: string[]; changed: string[]; unchanged: string[] }

/** A workspace's SSH link, as much of it as a caller needs: its state, and waiting for it. */
export interface WorkspaceLink {
  readonly name: string;
  /** user@host:port, or the transport command. */
  readonly target: string;
  readonly state: LinkState;
  readonly lastError: WarrenError | null;
  /** Resolves once the link is up; WAIT_UP_TIMEOUT after `ms` (LINK_CLOSED once closed). */
  waitForUp(ms: number): Promise<void>;
  snapshot(): LinkSnapshot;
}

/** A workspace's opencode server: started on demand, stopped when idle. */
export interface WorkspaceServer {
  readonly state: ServerState;
  /** Resolves when the server answers, starting it (or taking over a running one) first. */
  ensureRunning(): Promise<void>;
  /** Stops it; the next request starts it again. */
  stop(): Promise<void>;
  snapshot(): ServerSnapshot;
}

/** One workspace of a broker (broker.workspace(name)). */
export interface WorkspaceRuntime {
  readonly name: string;
  readonly link: WorkspaceLink;
  readonly server: WorkspaceServer;
  answerPermission(sessionID: string, requestID: string, reply: PermissionReply): Promise<void>;
  answerQuestion(sessionID: string, requestID: string, answers: string[][] | 'reject'): Promise<void>;
}

/** Every configured workspace's link and server, and the verbs of the gateway. Failures are WarrenErrors. */
export interface Broker {
  /** The configured workspaces' names. */
  readonly names: string[];
  has(name: string): boolean;
  /** UNKNOWN_WORKSPACE when there is none of that name. */
  workspace(name: string): WorkspaceRuntime;
  /** The object `warren status --json` prints. */
  status(): BrokerStatus;
  sessions(name: string): Promise<SessionRow[]>;
  createSession(name: string, o?: { directory?: string; title?: string }): Promise<SessionInfo>;
  /** Locates (and imports) the session like the gateway, then streams the reply. */
  sendMessage(name: string, sessionID: string, o: SendMessageOptions): Promise<SendMessageResult>;
  answerPermission(name: string, sessionID: string, requestID: string, reply: PermissionReply): Promise<void>;
  answerQuestion(name: string, sessionID: string, requestID: string, answers: string[][] | 'reject'): Promise<void>;
  /**
   * Tokens and cost of the workspaces' agents in a window (`warren usage`): every
   * workspace when `names` is null; one that cannot be read is listed in `errors`.
   * `parseUsageQuery('7d', 'model')` makes the query from a person's words.
   */
  usageReport(names: readonly string[] | null, q: UsageQuery): Promise<UsageReport>;
  /** The SDK v2 client, its fetch over the tunnel; the server is started first. */
  opencodeClient(name: string, o?: { directory?: string }): Promise<OpencodeClient>;
  /** As SIGHUP: only added, removed and changed workspaces are touched. */
  reload(config: WarrenConfig | string): Promise<ReloadResult>;
  /** Closes every link; stops the opencode servers unless stopServers is false. */
  close(o?: { stopServers?: boolean }): Promise<void>;
}

/** A started broker for a config file (loaded and checked like the daemon's) or a config object. */
export function createBroker(config: WarrenConfig | string, options: BrokerOptions = {}): Broker {
  return createBrokerInternal(config, options);
}

export type { OpencodeClient };
export type { BrokerStatus, WorkspaceStatus, TunnelStatus, OpencodeStatus, MessageStats, DaemonStatus } from './broker/status.js';
export { loadConfig, validateConfig } from './config/index.js';
export { parseUsageQuery } from './broker/usage.js';
export type { UsageBy, UsageQuery, UsageReport, UsageRow, UsageTokens } from './broker/usage.js';
export type { UsageStatus } from './broker/status.js';
export type {
  WarrenConfig, WorkspaceConfig, GatewayConfig, TransportConfig, OpencodeConfig, KeepaliveConfig, LogLevel, JumpHostConfig, WorkspaceTransport,
} from './config/index.js';
export type { LinkSnapshot, LinkState, ServerSnapshot, ServerState, SessionInfo, SessionRow };
export type { ToolEvent } from './opencode/chat.js';
export { PERMISSION_REPLIES, type PermissionReply } from './opencode/ask.js';
export type { PermissionRequest, QuestionRequest, QuestionInfo, QuestionAnswer } from '@opencode-ai/sdk/v2';
export * from './errors.js';
export { warrenVersion } from './version.js';
