// The `warren status` table: one row per workspace, in units a person reads at a
// glance, fitted to the terminal's width. By default the columns an operator needs
// first; `wide` has every column. Cells are measured and cut in display columns.
import type { BrokerStatus, WorkspaceStatus } from '../broker/status.js';
import { fitTable, formatTable, type Shrink } from './table.js';
import { sanitize, truncateWidth } from './text-width.js';

type View = 'default' | 'wide';
interface Column { header: string; cell: (w: WorkspaceStatus, now: number) => string }

const COLUMNS = {
  name: { header: 'WORKSPACE', cell: (w) => w.name },
  target: { header: 'TARGET', cell: (w) => truncateWidth(sanitize(w.target), MAX_TARGET_WIDTH) },
  tunnel: { header: 'TUNNEL', cell: (w) => (w.via ? `${w.tunnel.state} via ${sanitize(w.via.name)}` : w.tunnel.state) },
  uptime: { header: 'UPTIME', cell: (w) => (w.tunnel.uptimeMs === null ? '-' : formatDuration(w.tunnel.uptimeMs)) },
  rtt: { header: 'RTT', cell: (w) => (w.tunnel.keepaliveRttMs === null ? '-' : formatRtt(w.tunnel.keepaliveRttMs)) },
  channels: { header: 'CHANNELS', cell: (w) => String(w.tunnel.openChannels) },
  bytes: { header: 'IN/OUT', cell: (w) => `${formatBytes(w.tunnel.bytesIn)}/${formatBytes(w.tunnel.bytesOut)}` },
  reconnects: { header: 'RECONNECTS', cell: (w) => String(w.tunnel.reconnects) },
  opencode: { header: 'OPENCODE', cell: (w) => (w.opencode.version === null ? w.opencode.state : `${w.opencode.state} ${truncateWidth(sanitize(w.opencode.version), MAX_VERSION_WIDTH)}`) },
  idle: { header: 'IDLE', cell: (w) => (w.opencode.idleMs === null ? '-' : formatDuration(w.opencode.idleMs)) },
  today: { header: 'TODAY', cell: (w) => (w.usage && w.usage.asOf !== null ? usageCell(w.usage) : '-') },
  error: { header: 'LAST ERROR', cell: (w, now) => lastError(w, now) },
} satisfies Record<string, Column>;
type Key = keyof typeof COLUMNS;

const LAYOUT: Record<View, { keys: Key[]; shrink: Array<[Key, number]>; drop: Key[] }> = {
  // An error cut short points to the detail view; when that is not enough the name
  // gives way (never below 10 columns), then the less urgent columns go (TODAY last).
  default: { keys: ['name', 'tunnel', 'rtt', 'opencode', 'idle', 'today', 'error'], shrink: [['error', 24], ['name', 16], ['error', 16], ['opencode', 9], ['name', 10], ['error', 8]], drop: ['idle', 'rtt', 'today'] },
  // Every column, in at least WIDE_MIN_WIDTH columns: on a narrower terminal its lines
  // wrap, as kubectl's -o wide does; it was asked for.
  wide: { keys: Object.keys(COLUMNS) as Key[], shrink: [['error', 16], ['target', 10], ['name', 16], ['error', 8]], drop: [] },
};
const WIDE_MIN_WIDTH = 200;
const MAX_TARGET_WIDTH = 40;
const MAX_VERSION_WIDTH = 12;

const RESET = '\x1b[0m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';

export interface StatusViewOptions {
  color: boolean;
  /** The clock "12s ago" is measured against (ms since the epoch); defaults to now. */
  now?: number;
  /** Total width to fit in, in display columns; defaults to 80. */
  width?: number;
  /** `default`: the columns an operator needs first; `wide`: all of them. */
  view?: View;
}

export function formatStatusTable(status: BrokerStatus, o: StatusViewOptions): string {
  const now = o.now ?? Date.now();
  const layout = LAYOUT[o.view ?? 'default'];
  const width = o.view === 'wide' ? Math.max(o.width ?? 0, WIDE_MIN_WIDTH) : o.width ?? 80;
  const footer = status.daemon ? `${truncateWidth(formatFooter(status.daemon, now), width)}\n` : '';
  if (status.workspaces.length === 0) return `no workspaces configured\n${footer}`;

  // Until the daemon has read some workspace's usage, TODAY would be a column of dashes.
  const read = status.workspaces.some((w) => w.usage && w.usage.asOf !== null);
  let keys = o.view === 'wide' || read ? layout.keys : layout.keys.filter((k) => k !== 'today');
  let rows: string[][] = [];
  for (let dropped = 0; ; dropped++) {
    rows = status.workspaces.map((w) => keys.map((k) => COLUMNS[k].cell(w, now)));
    const shrink: Shrink[] = layout.shrink.filter(([k]) => keys.includes(k)).map(([k, min]) => ({ col: keys.indexOf(k), min }));
    if (fitTable(keys.map((k) => COLUMNS[k].header), rows, width, shrink) || dropped >= layout.drop.length) break;
    keys = keys.filter((k) => k !== layout.drop[dropped]);
  }
  const errorCol = keys.indexOf('error');
  const cut = status.workspaces.some((w, i) => sanitize(lastError(w, now)) !== rows[i]![errorCol]);
  const hint = cut ? `${truncateWidth('errors cut short: warren status <workspace> shows them whole', width)}\n` : '';

  const style = o.color ? colorFor(status.workspaces, keys) : undefined;
  return formatTable(keys.map((k) => COLUMNS[k].header), rows, style) + hint + footer;
}

function lastError(w: WorkspaceStatus, now: number): string {
  const t = w.tunnel;
  if (t.lastError !== null) {
    const at = t.lastErrorAt === null ? NaN : Date.parse(t.lastErrorAt);
    const msg = t.lastError;
    return Number.isNaN(at) ? msg : `${formatDuration(Math.max(0, now - at))} ago: ${msg}`;
  }
  // With the tunnel healthy, a failed server is the thing an operator needs explained.
  if (w.opencode.state === 'failed' && w.opencode.lastFailure !== null) return `opencode: ${w.opencode.lastFailure}`;
  return '-';
}

function colorFor(wss: WorkspaceStatus[], keys: Key[]): (cell: string, row: number, col: number) => string {
  const COL = { tunnel: keys.indexOf('tunnel'), opencode: keys.indexOf('opencode') };
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
  return `daemon pid ${d.pid}, warren ${sanitize(d.version)}${up}, gateway ${d.gateway === null ? 'off' : sanitize(d.gateway)}`;
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

/** Today's tokens (all kinds) and cost, short: "1.5k $0.01", "820 <$0.01", "12M $31". */
export function usageCell(u: NonNullable<WorkspaceStatus['usage']>): string {
  const t = u.tokens;
  const n = t.input + t.output + t.reasoning + t.cacheRead + t.cacheWrite;
  const c = u.cost;
  const cost = c === 0 ? '$0' : c < 0.01 ? '<$0.01' : c < 100 ? `$${c.toFixed(2)}` : `$${Math.round(c)}`;
  return `${shortCount(n)} ${cost}`;
}

/** 820, 1.5k, 15k, 150k, 1.5M: at most four characters. */
function shortCount(n: number): string {
  if (n < 1000) return String(n);
  for (const [unit, size] of [['k', 1e3], ['M', 1e6], ['G', 1e9], ['T', 1e12]] as const) {
    const v = n / size;
    if (v < 9.95) return `${v.toFixed(1)}${unit}`;
    if (v < 999.5) return `${Math.round(v)}${unit}`;
  }
  return n.toExponential(0);
}

export function formatRtt(ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(1)}ms` : '-';
}
