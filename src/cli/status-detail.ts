// `warren status <workspace>`: everything the daemon knows of one workspace, as
// "key: value" lines, errors whole (wrapped, never cut) with their times.
import type { WorkspaceStatus } from '../broker/status.js';
import { formatBytes, formatDuration, formatRtt } from './status-view.js';
import { displayWidth, sanitize, wrapWidth } from './text-width.js';

export interface DetailOptions {
  /** The clock "12s ago" is measured against (ms since the epoch); defaults to now. */
  now?: number;
  /** Lines wrap at this many display columns; defaults to 80. */
  width?: number;
}

export function formatStatusDetail(w: WorkspaceStatus, o: DetailOptions = {}): string {
  const now = o.now ?? Date.now();
  const t = w.tunnel;
  const oc = w.opencode;
  const m = w.messages;
  const ago = (iso: string | null | undefined) => {
    if (!iso) return '-';
    const at = Date.parse(iso);
    return Number.isNaN(at) ? iso : `${iso} (${formatDuration(Math.max(0, now - at))} ago)`;
  };
  const orDash = (v: string | number | null | undefined) => (v === null || v === undefined ? '-' : String(v));
  const avg = m.durationCount > 0 ? `, ${formatDuration(m.durationMsSum / m.durationCount)} on average` : '';
  const fields: Array<[string, string]> = [
    ['workspace', w.name],
    ['target', w.target],
    ...(w.via ? [['via', `jump host ${w.via.name} (${w.via.target}): ${w.via.state}${w.via.lastError === null ? '' : `, last error: ${w.via.lastError}`}`] as [string, string]] : []),
    ['tunnel', `${t.state} since ${ago(t.since)}`],
    ['uptime', t.uptimeMs === null ? '-' : formatDuration(t.uptimeMs)],
    ['keepalive rtt', t.keepaliveRttMs === null ? '-' : formatRtt(t.keepaliveRttMs)],
    ['channels', `${t.openChannels} open, ${t.channelsOpened} opened`],
    ['bytes in/out', `${formatBytes(t.bytesIn)} / ${formatBytes(t.bytesOut)}`],
    ['reconnects', String(t.reconnects)],
    ['failed attempts', String(t.failedAttempts)],
    ['next attempt', orDash(t.nextAttemptAt)],
    ['cipher', orDash(t.cipher)],
    ['native crypto', t.nativeCrypto ? 'yes' : 'no'],
    ['last error', t.lastError === null ? '-' : `${t.lastErrorCode ?? 'error'}: ${t.lastError}`],
    ['last error at', ago(t.lastErrorAt)],
    ['opencode', oc.version === null ? oc.state : `${oc.state} ${oc.version}`],
    ['opencode port', String(oc.port)],
    ['opencode pid', orDash(oc.pid)],
    ['starts', `${oc.starts} (${oc.restarts} restarts, ${oc.adoptions} adopted)`],
    ['idle', oc.idleMs === null ? '-' : formatDuration(oc.idleMs)],
    ['active streams', String(oc.activeStreams)],
    ['last failure', orDash(oc.lastFailure)],
    ['last failure at', ago(oc.lastFailureAt)],
    ['messages', `${m.total} (${m.failed} failed, ${m.inFlight} in flight${avg})`],
    ...(w.usage ? [['today (UTC)', usageToday(w.usage, ago)] as [string, string]] : []),
  ];
  const width = o.width ?? 80;
  const keyWidth = Math.max(...fields.map(([k]) => k.length)) + 2;
  const lines = fields.flatMap(([k, v]) => indent(`${k}:`.padEnd(keyWidth), sanitize(v), width));
  const recent = w.recentErrors ?? [];
  lines.push(recent.length === 0 ? 'recent errors: none' : 'recent errors (newest first):');
  for (const e of recent) {
    lines.push(...indent(`  ${e.at}  `, sanitize(`${e.source} ${e.code ?? 'error'}: ${e.message}`), width));
  }
  return `${lines.join('\n')}\n`;
}

function usageToday(u: NonNullable<WorkspaceStatus['usage']>, ago: (iso: string | null) => string): string {
  if (u.asOf === null) return 'not read yet (warren usage reads it)';
  const t = u.tokens;
  return `${u.messages} assistant messages, $${u.cost} (tokens: input ${t.input}, output ${t.output}, reasoning ${t.reasoning}, cache read ${t.cacheRead}, cache write ${t.cacheWrite}), as of ${ago(u.asOf)}`;
}

/** `head` then `text` wrapped to `width`, continuation lines indented under the text. */
function indent(head: string, text: string, width: number): string[] {
  const pad = displayWidth(head);
  const wrapped = wrapWidth(text, Math.max(20, width - pad));
  return wrapped.map((l, i) => `${i === 0 ? head : ' '.repeat(pad)}${l}`);
}
