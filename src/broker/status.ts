// What `warren status --json` prints and GET /v1/workspaces answers: one object per
// workspace. The spec fixes the outline ({name, tunnel: {state, lastError}, opencode:
// {state}}); the rest is warren's and documented here field by field.
import type { LinkSnapshot } from '../ssh/link.js';
import type { ServerSnapshot } from '../opencode/server.js';
import type { RecentError } from './error-history.js';
import type { UsageTokens } from '../opencode/usage-ledger.js';

export type { RecentError } from './error-history.js';

/** The link's snapshot as operators read it: the spec's three states, the last error flattened. */
export type TunnelStatus = Omit<LinkSnapshot, 'name' | 'target' | 'state' | 'lastError'> & {
  /** The spec's three states; a link being (re)connected or waiting to is "connecting"/"down". */
  state: 'up' | 'connecting' | 'down';
  /** The last error's one-line message, or null. */
  lastError: string | null;
  lastErrorCode: string | null;
  lastErrorAt: string | null;
};

export interface OpencodeStatus {
  state: 'stopped' | 'starting' | 'running' | 'failed';
  version: string | null;
  port: number;
  pid: number | null;
  starts: number;
  restarts: number;
  adoptions: number;
  lastFailure: string | null;
  /** When the last failure happened (ISO time), or null; absent from daemons before it was added. */
  lastFailureAt?: string | null;
  /** Milliseconds without requests or streams while running, else null. */
  idleMs: number | null;
  activeStreams: number;
}

export interface MessageStats {
  total: number;
  failed: number;
  inFlight: number;
  /** Sum and count of completed message durations, for averages and metrics. */
  durationMsSum: number;
  durationCount: number;
}

export interface WorkspaceStatus {
  name: string;
  /** user@host:port, or the transport command. */
  target: string;
  tunnel: TunnelStatus;
  opencode: OpencodeStatus;
  messages: MessageStats;
  /** The last few tunnel errors and server failures, newest first (at most 5). */
  recentErrors?: RecentError[];
  /** The jump host the tunnel goes through (its own link's state and last error), or null for a direct one; absent from daemons before it was added. */
  via?: JumpStatus | null;
  /** Today's tokens and cost (UTC day), as of the daemon's last read; absent from daemons before it was added. */
  usage?: UsageStatus;
}

/**
 * Today's usage as the daemon last read it: every minute while the server runs
 * (WARREN_USAGE_REFRESH_MS), and on every usage request. `asOf` null: not read yet.
 */
export interface UsageStatus { since: string; messages: number; tokens: UsageTokens; cost: number; asOf: string | null }

export interface JumpStatus {
  name: string;
  /** user@host:port of the jump host's sshd. */
  target: string;
  state: 'up' | 'connecting' | 'down';
  lastError: string | null;
}

export interface DaemonStatus {
  pid: number; version: string; startedAt: string; gateway: string | null;
  /** Message runs held: running, finished (kept for replay), and the bytes the finished ones hold. */
  runs?: { running: number; finished: number; finishedBytes: number };
}

export interface BrokerStatus { workspaces: WorkspaceStatus[]; daemon?: DaemonStatus }

export function tunnelStatus(l: LinkSnapshot): TunnelStatus {
  const state = l.state === 'up' ? 'up' : l.state === 'connecting' ? 'connecting' : 'down';
  return {
    state, since: l.since, uptimeMs: l.uptimeMs, keepaliveRttMs: l.keepaliveRttMs, openChannels: l.openChannels,
    channelsOpened: l.channelsOpened, bytesIn: l.bytesIn, bytesOut: l.bytesOut, reconnects: l.reconnects,
    failedAttempts: l.failedAttempts, lastError: l.lastError?.message ?? null, lastErrorCode: l.lastError?.code ?? null,
    lastErrorAt: l.lastError?.at ?? null, nextAttemptAt: l.nextAttemptAt, nativeCrypto: l.nativeCrypto, cipher: l.cipher,
  };
}

export function jumpStatus(l: LinkSnapshot): JumpStatus {
  const t = tunnelStatus(l);
  return { name: l.name, target: l.target, state: t.state, lastError: t.lastError };
}

export function opencodeStatus(s: ServerSnapshot): OpencodeStatus {
  return {
    state: s.state, version: s.version, port: s.port, pid: s.pid, starts: s.starts, restarts: s.restarts,
    adoptions: s.adoptions, lastFailure: s.lastFailure?.message ?? null, lastFailureAt: s.lastFailure?.at ?? null, idleMs: s.idleMs, activeStreams: s.activeStreams,
  };
}
