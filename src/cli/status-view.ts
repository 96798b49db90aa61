// The `warren status` table: one row per workspace, in units a person reads at a
// glance, and never wider than a terminal line of 200 columns.
import type { BrokerStatus, WorkspaceStatus } from '../broker/status.js';
import { formatTable } from './table.js';

export const MAX_WIDTH = 200;
const HEADER = ['WORKSPACE', 'TARGET', 'TUNNEL', 'UPTIME', 'RTT', 'CHANNELS', 'IN/OUT', 'RECONNECTS', 'OPENCODE', 'IDLE', 'LAST ERROR'];
const COL = { target: 1, tunnel: 2, opencode: 8, error: 10 } as const;
/** The narrowest LAST ERROR cell worth showing, even when the rest of the row is wide. */
const MIN_ERROR_WIDTH = 16;
const MAX_TARGET_WIDTH = 40;
const MIN_TARGET_WIDTH = 10;
const MAX_VERSION_WIDTH = 12;

const RESET = '\x1b[0m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';

export interface StatusViewOptions {
  color: boolean;
  /** The clock "12s ago" is measured against (ms since the epoch); defaults to now. */
  now?: number;
  /** Total width to fit in; defaults to (and never exceeds) 200 columns. */
  width?: number;
}

export function formatStatusTable(status: BrokerStatus, o: StatusViewOptions): string {
  const now = o.now ?? Date.now();
  const width = Math.min(o.width ?? MAX_WIDTH, MAX_WIDTH);
  const footer = status.daemon ? `${formatFooter(status.daemon, now)}\n` : '';
  if (status.workspaces.length === 0) return `no workspaces configured\n${footer}`;

  const rows = status.workspaces.map((w) => row(w, now));
  fitWidth(rows, width);

  const style = o.color ? colorFor(status.workspaces) : undefined;
  return formatTable(HEADER, rows, style) + footer;
}

/**
 * Every column but LAST ERROR is short and bounded; LAST ERROR gets what is left.
 * When that is too little, TARGET gives way first (the name is never cut: it is how
 * an operator tells the rows apart).
 */
function fitWidth(rows: string[][], width: number): void {
  const colWidth = (i: number) => Math.max(HEADER[i]!.length, ...rows.map((r) => r[i]!.length));
  const fixed = () => HEADER.slice(0, -1).reduce((sum, _h, i) => sum + colWidth(i) + 2, 0);
  let room = width - fixed();
  if (room < MIN_ERROR_WIDTH) {
    const target = Math.max(MIN_TARGET_WIDTH, colWidth(COL.target) - (MIN_ERROR_WIDTH - room));
    for (const r of rows) r[COL.target] = truncate(r[COL.target]!, target);
    room = Math.max(MIN_ERROR_WIDTH, width - fixed());
  }
  for (const r of rows) r[COL.error] = truncate(r[COL.error]!, room);
}

function row(w: WorkspaceStatus, now: number): string[] {
  const t = w.tunnel;
  const oc = w.opencode;
  return [
    clean(w.name),
    truncate(clean(w.target), MAX_TARGET_WIDTH),
    t.state,
    t.uptimeMs === null ? '-' : formatDuration(t.uptimeMs),
    t.keepaliveRttMs === null ? '-' : formatRtt(t.keepaliveRttMs),
    String(t.openChannels),
    `${formatBytes(t.bytesIn)}/${formatBytes(t.bytesOut)}`,
    String(t.reconnects),
    oc.version === null ? oc.state : `${oc.state} ${truncate(clean(oc.version), MAX_VERSION_WIDTH)}`,
    oc.idleMs === null ? '-' : formatDuration(oc.idleMs),
    lastError(w, now),
  ];
}

function lastError(w: WorkspaceStatus, now: number): string {
  const t = w.tunnel;
  if (t.lastError !== null) {
    const at = t.lastErrorAt === null ? NaN : Date.parse(t.lastErrorAt);
    const msg = clean(t.lastError);
    return Number.isNaN(at) ? msg : `${formatDuration(Math.max(0, now - at))} ago: ${msg}`;
  }
  // With the tunnel healthy, a failed server is the thing an operator needs explained.
  if (w.opencode.state === 'failed' && w.opencode.lastFailure !== null) return `opencode: ${clean(w.opencode.lastFailure)}`;
  return '-';
}

function colorFor(wss: WorkspaceStatus[]): (cell: string, row: number, col: number) => string {
  return (cell, r, c) => {
    const w = r === 0 ? undefined : wss[r - 1];
    if (!w) return cell;
    if (c === COL.tunnel) {
      const code = w.tunnel.state === 'up' ? GREEN : w.tunnel.state === 'connecting' ? YELLOW : RED;
      return `${code}${cell}${RESET}`;
    }
    if (c === COL.opencode && w.opencode.state === 'failed') return `${RED}${cell}${RESET}`;
    return cell;
  };
}

function formatFooter(d: NonNullable<BrokerStatus['daemon']>, now: number): string {
  const started = Date.parse(d.startedAt);
  const up = Number.isNaN(started) ? '' : `, up ${formatDuration(Math.max(0, now - started))}`;
  return `daemon pid ${d.pid}, warren ${clean(d.version)}${up}, gateway ${d.gateway === null ? 'off' : clean(d.gateway)}`;
}

/** 850ms, 12s, 4m12s, 2h05m, 3d4h: the two largest units, rounded down (uptime never overstated). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.floor(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor(s / 3600) % 24}h`;
}

/** 512 B, 1.2 MiB, 34 GiB: one decimal below 10 units, whole numbers above. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  if (u === 0) return `${n} B`;
  let shown = v < 10 ? v.toFixed(1) : String(Math.round(v));
  // 1023.7 KiB rounds to "1024 KiB": say 1.0 MiB instead.
  if (shown === '1024' && u < units.length - 1) { shown = '1.0'; u++; }
  return `${shown} ${units[u]}`;
}

export function formatRtt(ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(1)}ms` : '-';
}

/** Cuts to `max` columns, marking the cut with an ellipsis. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

/** Text from the daemon or a remote host never reaches the terminal as control codes. */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}
