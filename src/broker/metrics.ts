// The daemon's status as Prometheus text exposition (format 0.0.4). Only numbers and
// the workspace name leave here: error messages, targets and versions reported by a
// remote server can carry hosts, paths or worse, so they are never labels.
import type { BrokerStatus, WorkspaceStatus } from './status.js';
import type { UsageRow } from './usage.js';

type Kind = 'gauge' | 'counter' | 'summary';
type Sample = [labels: string, value: number];

const TUNNEL_STATES = ['up', 'connecting', 'down'] as const;
const OPENCODE_STATES = ['stopped', 'starting', 'running', 'failed'] as const;

/** One family per entry, in output order: name, type, help, and its samples for one workspace. */
const PER_WORKSPACE: Array<[name: string, kind: Kind, help: string, samples: (w: WorkspaceStatus, ws: string) => Sample[]]> = [
  ['warren_tunnel_up', 'gauge', 'Whether the workspace\'s SSH link is up (1) or not (0).', (w, ws) => [[ws, bool(w.tunnel.state === 'up')]]],
  ['warren_tunnel_state', 'gauge', 'The SSH link\'s state: 1 for the current one, 0 for the others.',
    (w, ws) => TUNNEL_STATES.map((s) => [`${ws},state="${s}"`, bool(w.tunnel.state === s)])],
  ['warren_tunnel_reconnects_total', 'counter', 'SSH link reconnections after a loss.', (w, ws) => [[ws, w.tunnel.reconnects]]],
  ['warren_tunnel_failed_attempts_total', 'counter', 'SSH connection attempts that failed.', (w, ws) => [[ws, w.tunnel.failedAttempts]]],
  ['warren_tunnel_bytes_in_total', 'counter', 'Bytes received through the SSH link\'s channels.', (w, ws) => [[ws, w.tunnel.bytesIn]]],
  ['warren_tunnel_bytes_out_total', 'counter', 'Bytes sent through the SSH link\'s channels.', (w, ws) => [[ws, w.tunnel.bytesOut]]],
  ['warren_tunnel_open_channels', 'gauge', 'SSH channels open now.', (w, ws) => [[ws, w.tunnel.openChannels]]],
  ['warren_tunnel_channels_opened_total', 'counter', 'SSH channels opened.', (w, ws) => [[ws, w.tunnel.channelsOpened]]],
  ['warren_tunnel_keepalive_rtt_seconds', 'gauge', 'Round-trip time of the last SSH keepalive.',
    // No sample rather than a made-up 0 while no keepalive has been answered.
    (w, ws) => (w.tunnel.keepaliveRttMs === null ? [] : [[ws, w.tunnel.keepaliveRttMs / 1000]])],
  ['warren_tunnel_uptime_seconds', 'gauge', 'Seconds the SSH link has been up (0 when it is not).', (w, ws) => [[ws, (w.tunnel.uptimeMs ?? 0) / 1000]]],
  ['warren_opencode_running', 'gauge', 'Whether the workspace\'s opencode server is running (1) or not (0).', (w, ws) => [[ws, bool(w.opencode.state === 'running')]]],
  ['warren_opencode_state', 'gauge', 'The opencode server\'s state: 1 for the current one, 0 for the others.',
    (w, ws) => OPENCODE_STATES.map((s) => [`${ws},state="${s}"`, bool(w.opencode.state === s)])],
  ['warren_opencode_starts_total', 'counter', 'opencode servers warren started.', (w, ws) => [[ws, w.opencode.starts]]],
  ['warren_opencode_restarts_total', 'counter', 'opencode servers restarted after they died.', (w, ws) => [[ws, w.opencode.restarts]]],
  ['warren_opencode_adoptions_total', 'counter', 'Running opencode servers warren found and adopted.', (w, ws) => [[ws, w.opencode.adoptions]]],
  ['warren_opencode_active_streams', 'gauge', 'Event streams open to the opencode server now.', (w, ws) => [[ws, w.opencode.activeStreams]]],
  ['warren_messages_total', 'counter', 'Chat messages sent.', (w, ws) => [[ws, w.messages.total]]],
  ['warren_messages_failed_total', 'counter', 'Chat messages whose reply failed.', (w, ws) => [[ws, w.messages.failed]]],
  ['warren_messages_in_flight', 'gauge', 'Chat messages awaiting their reply now.', (w, ws) => [[ws, w.messages.inFlight]]],
];

const TOKEN_KINDS = [['input', 'input'], ['output', 'output'], ['reasoning', 'reasoning'], ['cacheRead', 'cache_read'], ['cacheWrite', 'cache_write']] as const;

/**
 * `usage`: per workspace and model, every assistant message the daemon has read (the
 * rows of UsageLedger.totalsByModel). The model name is the one label a remote server
 * picks; it is escaped like the workspace's.
 */
export function renderMetrics(status: BrokerStatus, usage: readonly UsageRow[] = []): string {
  const out: string[] = [];
  const wss = status.workspaces.map((w) => [w, `workspace="${escapeLabel(w.name)}"`] as const);
  for (const [name, kind, help, samples] of PER_WORKSPACE) {
    family(out, name, kind, help);
    for (const [w, ws] of wss) for (const [labels, v] of samples(w, ws)) out.push(`${name}{${labels}} ${num(v)}`);
  }
  // A summary without quantiles: sum and count are what rate() needs for an average.
  family(out, 'warren_message_duration_seconds', 'summary', 'Time from sending a chat message to the end of its reply.');
  for (const [w, ws] of wss) out.push(`warren_message_duration_seconds_sum{${ws}} ${num(w.messages.durationMsSum / 1000)}`);
  for (const [w, ws] of wss) out.push(`warren_message_duration_seconds_count{${ws}} ${num(w.messages.durationCount)}`);
  const um = usage.map((r) => [r, `workspace="${escapeLabel(r.workspace)}",model="${escapeLabel(r.key)}"`] as const);
  family(out, 'warren_opencode_tokens_total', 'counter', 'Tokens of assistant messages as opencode recorded them, by kind (input, output, reasoning, cache_read, cache_write).');
  for (const [r, l] of um) for (const [field, kind] of TOKEN_KINDS) out.push(`warren_opencode_tokens_total{${l},kind="${kind}"} ${num(r.tokens[field])}`);
  family(out, 'warren_opencode_cost_usd_total', 'counter', 'Cost of assistant messages as opencode recorded it, in US dollars.');
  for (const [r, l] of um) out.push(`warren_opencode_cost_usd_total{${l}} ${num(r.cost)}`);
  family(out, 'warren_opencode_assistant_messages_total', 'counter', 'Assistant messages read from the workspace\'s history.');
  for (const [r, l] of um) out.push(`warren_opencode_assistant_messages_total{${l}} ${num(r.messages)}`);
  family(out, 'warren_workspaces', 'gauge', 'Workspaces the daemon is configured with.');
  out.push(`warren_workspaces ${wss.length}`);
  if (status.daemon) {
    family(out, 'warren_build_info', 'gauge', 'Always 1; the version label is the running warren\'s.');
    out.push(`warren_build_info{version="${escapeLabel(status.daemon.version)}"} 1`);
  }
  return `${out.join('\n')}\n`;
}

function family(out: string[], name: string, kind: Kind, help: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${kind}`);
}

/** Label values escape backslash, double quote and line feed; nothing else is special. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function bool(b: boolean): number {
  return b ? 1 : 0;
}

/** Go's ParseFloat spellings, which Prometheus reads, for the values JS can produce. */
function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
