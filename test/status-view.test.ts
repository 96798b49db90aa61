// The `warren status` table and the Prometheus rendering of the same status: columns,
// units, truncation, colour only on request, and nothing but numbers and names in metrics.
import t, { type Test } from 'tap';
import type { BrokerStatus, WorkspaceStatus } from '../src/broker/status.js';
import { formatStatusTable, formatBytes, formatDuration, formatRtt } from '../src/cli/status-view.js';
import { formatStatusDetail } from '../src/cli/status-detail.js';
import { displayWidth, sanitize, terminalWidth, truncateWidth, wrapWidth } from '../src/cli/text-width.js';
import { formatTable } from '../src/cli/table.js';
import { renderMetrics, escapeLabel } from '../src/broker/metrics.js';

const NOW = Date.parse('2025-01-02T03:04:05.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function ws(name: string, o: { tunnel?: Partial<WorkspaceStatus['tunnel']>; opencode?: Partial<WorkspaceStatus['opencode']>; target?: string; usage?: WorkspaceStatus['usage'] } = {}): WorkspaceStatus {
  return {
    ...(o.usage ? { usage: o.usage } : {}),
    name, target: o.target ?? `workspace@10.0.0.2:22`,
    tunnel: {
      state: 'up', since: ago(3_600_000), uptimeMs: 2 * 3_600_000 + 5 * 60_000 + 7000, keepaliveRttMs: 1.234, openChannels: 3, channelsOpened: 120,
      bytesIn: 1.2 * 1024 * 1024, bytesOut: 340 * 1024, reconnects: 2, failedAttempts: 5, lastError: null, lastErrorCode: null, lastErrorAt: null,
      nextAttemptAt: null, nativeCrypto: true, cipher: 'aes128-gcm@openssh.com', ...o.tunnel,
    },
    opencode: {
      state: 'running', version: '1.18.33', port: 4096, pid: 42, starts: 1, restarts: 0, adoptions: 1, lastFailure: null, idleMs: 4 * 60_000 + 12_000,
      activeStreams: 1, ...o.opencode,
    },
    messages: { total: 10, failed: 1, inFlight: 2, durationMsSum: 12_500, durationCount: 9 },
  };
}

const SECRET = 'connection refused by 10.9.8.7 with password hunter2';
/** Today's usage as the daemon read it a minute ago: 1500 tokens of all kinds. */
const TODAY: WorkspaceStatus['usage'] = {
  since: '2025-01-02T00:00:00.000Z', messages: 3, tokens: { input: 1000, output: 300, reasoning: 100, cacheRead: 80, cacheWrite: 20 }, cost: 0.0123, asOf: ago(60_000),
};
const status: BrokerStatus = {
  workspaces: [
    ws('alpha', { usage: TODAY }),
    ws('beta', {
      tunnel: { state: 'down', uptimeMs: null, keepaliveRttMs: null, lastError: SECRET, lastErrorCode: 'WARREN_ERR_CONNECT', lastErrorAt: ago(12_000) },
      opencode: { state: 'failed', version: null, idleMs: null, lastFailure: 'exited with 1' },
    }),
  ],
  daemon: { pid: 4321, version: '0.1.0', startedAt: ago(3 * 86_400_000 + 4 * 3_600_000), gateway: '127.0.0.1:7391' },
};

const lines = (s: string) => s.replace(/\n$/, '').split('\n');
const cols = (line: string) => line.split(/ {2,}/);

t.test('units a person reads at a glance', async (t) => {
  t.equal(formatDuration(850), '850ms');
  t.equal(formatDuration(12_400), '12s');
  t.equal(formatDuration(4 * 60_000 + 12_000), '4m12s');
  t.equal(formatDuration(2 * 3_600_000 + 5 * 60_000 + 59_000), '2h05m');
  t.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 59 * 60_000), '3d4h');
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(1.2 * 1024 * 1024), '1.2 MiB');
  t.equal(formatBytes(340 * 1024), '340 KiB');
  t.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB', 'never "1024 KiB"');
  t.equal(formatRtt(1.234), '1.2ms');
  t.equal(formatRtt(12), '12.0ms');
});

t.test('-o wide: every column in order, one row per workspace, footer', async (t) => {
  const out = formatStatusTable(status, { color: false, now: NOW, view: 'wide' });
  const [header, a, b, footer, ...rest] = lines(out);
  t.same(cols(header!), ['WORKSPACE', 'TARGET', 'TUNNEL', 'UPTIME', 'RTT', 'CHANNELS', 'IN/OUT', 'RECONNECTS', 'OPENCODE', 'IDLE', 'TODAY', 'LAST ERROR']);
  t.same(cols(a!), ['alpha', 'workspace@10.0.0.2:22', 'up', '2h05m', '1.2ms', '3', '1.2 MiB/340 KiB', '2', 'running 1.18.33', '4m12s', '1.5k $0.01', '-']);
  t.same(cols(b!), ['beta', 'workspace@10.0.0.2:22', 'down', '-', '-', '3', '1.2 MiB/340 KiB', '2', 'failed', '-', '-', `12s ago: ${SECRET}`]);
  t.equal(footer, 'daemon pid 4321, warren 0.1.0, up 3d4h, gateway 127.0.0.1:7391');
  t.same(rest, []);
  t.notMatch(out, /\x1b/, 'no escape codes without colour');
  // Columns line up: each header starts where its cells start.
  const at = header!.indexOf('LAST ERROR');
  t.equal(b!.indexOf('12s ago'), at);
});

t.test('without a daemon section there is no footer; a failed server explains itself', async (t) => {
  const out = formatStatusTable({ workspaces: [ws('gamma', { opencode: { state: 'failed', lastFailure: 'port 4096 is busy' } })] }, { color: false, now: NOW });
  t.equal(lines(out).length, 2);
  t.match(lines(out)[1]!, /opencode: port 4096 is busy$/);
});

t.test('colour: tunnel green/yellow/red, a failed server red', async (t) => {
  const s: BrokerStatus = { workspaces: [ws('a'), ws('b', { tunnel: { state: 'connecting' } }), ws('c', { tunnel: { state: 'down' }, opencode: { state: 'failed' } })] };
  const out = lines(formatStatusTable(s, { color: true, now: NOW }));
  t.match(out[1]!, /\x1b\[32mup\x1b\[0m/);
  t.match(out[2]!, /\x1b\[33mconnecting\x1b\[0m/);
  t.match(out[3]!, /\x1b\[31mdown\x1b\[0m/);
  t.match(out[3]!, /\x1b\[31mfailed 1\.18\.33\x1b\[0m/);
  t.notMatch(out[1]!, /\x1b\[31m/, 'a running server is not red');
  // Alignment ignores the codes: stripped, the coloured table is the plain one.
  const plain = formatStatusTable(s, { color: false, now: NOW });
  // eslint-disable-next-line no-control-regex
  t.equal(formatStatusTable(s, { color: true, now: NOW }).replace(/\x1b\[\d+m/g, ''), plain);
});

t.test('-o wide: a long error is cut with an ellipsis to keep the table within 200 columns', async (t) => {
  const long = `cannot connect: ${'x'.repeat(400)}`;
  const s: BrokerStatus = { workspaces: [ws('alpha', { tunnel: { lastError: long, lastErrorAt: ago(90_000) } }), ws('beta')] };
  const out = lines(formatStatusTable(s, { color: false, now: NOW, view: 'wide' }));
  for (const l of out) t.ok(l.length <= 200, `${l.length} columns`);
  t.match(out[1]!, /1m30s ago: cannot connect: x+…$/);
  t.equal(out[1]!.length, 200, 'uses the room it has');

  // The widest row warren can produce: a 63-letter name and a long transport command.
  // The target gives way, the name never does.
  const wide: BrokerStatus = { workspaces: [ws('b'.repeat(63), {
    target: 'docker exec -i some-very-long-container-name-for-workspace sshd -i',
    tunnel: { lastError: long, lastErrorAt: ago(90_000), keepaliveRttMs: 1234.5, uptimeMs: 999 * 86_400_000, bytesIn: 1000 * 1024, bytesOut: 1000 * 1024 ** 3 },
    opencode: { state: 'starting', version: '1.18.33-beta.12' },
  })] };
  const w = lines(formatStatusTable(wide, { color: false, now: NOW, view: 'wide' }));
  for (const l of w) t.ok(l.length <= 200, `${l.length} columns`);
  t.match(w[1]!, new RegExp(`^${'b'.repeat(63)}  docker exec[^…]*…  `), 'the name is never cut, the target is');
  t.match(w[1]!, /1m30s ago: \S+…$/);
  // A wider terminal: the wide view uses it.
  const wider = lines(formatStatusTable({ workspaces: [s.workspaces[0]!] }, { color: false, now: NOW, width: 250, view: 'wide' }));
  t.equal(wider[1]!.length, 250);
});

t.test('control characters from the daemon never reach the terminal', async (t) => {
  const s: BrokerStatus = { workspaces: [ws('alpha', { tunnel: { lastError: 'bad\x1b[2Jthing\nnext\u202eevil', lastErrorAt: null } })] };
  const out = formatStatusTable(s, { color: false, now: NOW, width: 120 });
  t.notMatch(out, /[\x1b\u202e]/);
  t.equal(lines(out).length, 2);
  t.match(out, /bad\\u001b\[2Jthing next\\u202eevil$/m, 'escapes shown, line breaks as spaces');
});

t.test('the default view: the columns an operator needs first, within the width, errors cut with a pointer', async (t) => {
  const out = lines(formatStatusTable(status, { color: false, now: NOW }));
  t.same(cols(out[0]!), ['WORKSPACE', 'TUNNEL', 'RTT', 'OPENCODE', 'IDLE', 'TODAY', 'LAST ERROR']);
  t.same(cols(out[1]!), ['alpha', 'up', '1.2ms', 'running 1.18.33', '4m12s', '1.5k $0.01', '-'], "today's tokens and cost");
  t.match(out[2]!, /^beta +down +- +failed +- +- +12s ago: conn.*…$/, 'a dash when nothing was read yet');
  t.equal(out[3], 'errors cut short: warren status <workspace> shows them whole');
  for (const l of out) t.ok(displayWidth(l) <= 80, `${displayWidth(l)} columns: ${l}`);
  t.equal(displayWidth(out[2]!), 80, 'the error uses the room there is');

  // Narrow terminals and wide names (CJK: two columns a character): the name gives way, then IDLE and RTT go.
  const cjk: BrokerStatus = { workspaces: [ws('工作区-东京-生产环境-一号机', { tunnel: { state: 'down', lastError: SECRET, lastErrorAt: ago(5000) } }), ws('beta')], daemon: status.daemon! };
  for (const width of [80, 60, 50]) {
    const n = lines(formatStatusTable(cjk, { color: false, now: NOW, width }));
    for (const l of n) t.ok(displayWidth(l) <= width, `${width}: ${displayWidth(l)} columns: ${l}`);
    t.match(n[1]!, /^工作区-[^ ]*… /, 'the name is cut by display width');
  }
  t.notMatch(lines(formatStatusTable(cjk, { color: false, now: NOW, width: 50 }))[0]!, /IDLE/);
  t.notMatch(lines(formatStatusTable(cjk, { color: false, now: NOW, width: 50 }))[0]!, /TODAY/, 'TODAY goes last of all');
});

t.test('the detail view: every field, errors whole with their times, wrapped under their key', async (t) => {
  const long = `cannot connect to workspace@10.9.8.7:22: ${'connection refused '.repeat(6)}`.trim();
  const w: WorkspaceStatus = {
    ...ws('beta', { tunnel: { state: 'down', uptimeMs: null, keepaliveRttMs: null, lastError: long, lastErrorCode: 'WARREN_ERR_CONNECT', lastErrorAt: ago(12_000) } }),
    recentErrors: [
      { at: ago(12_000), source: 'tunnel', code: 'WARREN_ERR_CONNECT', message: 'refused\x1b[2J\nagain' },
      { at: ago(60_000), source: 'opencode', code: null, message: 'exited with 1' },
    ],
  };
  const out = formatStatusDetail(w, { now: NOW, width: 80 });
  const l = lines(out);
  for (const x of l) t.ok(displayWidth(x) <= 80, `${displayWidth(x)} columns: ${x}`);
  t.equal(l[0], 'workspace:       beta');
  t.match(out, /^tunnel: +down since 2025-01-02T02:04:05\.000Z \(1h00m ago\)$/m);
  t.match(out, /^last error: +WARREN_ERR_CONNECT: cannot connect to workspace@10\.9\.8\.7:22:\n {17}connection refused/m);
  t.match(out, /^last error at: +2025-01-02T03:03:53\.000Z \(12s ago\)$/m);
  t.match(out, /^opencode: +running 1\.18\.33$/m);
  t.match(out, /^messages: +10 \(1 failed, 2 in flight, 1s on average\)$/m);
  t.match(out, /^recent errors \(newest first\):\n {2}2025-01-02T03:03:53\.000Z {2}tunnel WARREN_ERR_CONNECT: refused\\u001b\[2J again\n {2}2025-01-02T03:03:05\.000Z {2}opencode error: exited with 1\n$/m);
  t.match(formatStatusDetail(ws('alpha'), { now: NOW }), /^recent errors: none$/m, 'a daemon without the history');
  t.match(formatStatusDetail(ws('alpha', { usage: TODAY }), { now: NOW, width: 200 }),
    /^today \(UTC\): +3 assistant messages, \$0\.0123 \(tokens: input 1000, output 300, reasoning 100, cache read 80, cache write 20\), as of 2025-01-02T03:03:05\.000Z \(1m00s ago\)$/m);
  t.match(formatStatusDetail(ws('alpha', { usage: { ...TODAY!, asOf: null } }), { now: NOW }), /^today \(UTC\): +not read yet/m);
});

t.test('display width: sanitised, measured and cut in terminal columns', async (t) => {
  t.equal(sanitize('a\nb\r\n\tc'), 'a b c', 'line breaks and tabs are a space');
  t.equal(sanitize('x\x1b[31my\u009b\u202e\u200bz'), 'x\\u001b[31my\\u009b\\u202e\\u200bz', 'the rest a visible escape');
  t.equal(sanitize(sanitize('\x1b\n')), sanitize('\x1b\n'), 'idempotent');
  t.equal(displayWidth('日本語'), 6);
  t.equal(displayWidth('e\u0301'), 1, 'a combining mark takes no column');
  t.equal(displayWidth('👍'), 2);
  t.equal(truncateWidth('日本語のタイトル', 7), '日本語…');
  t.equal(truncateWidth('👨‍👩‍👧family', 3), '👨‍👩‍👧…', 'whole graphemes only');
  t.equal(truncateWidth('short', 10), 'short');
  t.same(wrapWidth('aaa bbb ccc', 7), ['aaa bbb', 'ccc']);
  t.equal(terminalWidth({ isTTY: true, columns: 132 }, { COLUMNS: '50' }), 132);
  t.equal(terminalWidth({ isTTY: false }, { COLUMNS: '50' }), 50);
  t.equal(terminalWidth({}, { COLUMNS: 'wide' }), 80);
  const table = lines(formatTable(['ID', 'TITLE', 'SOURCE'], [['a', '東京\nの話', 'server'], ['b', 'plain', 'server']]));
  t.equal(table.length, 3, 'a line break in a cell does not split its row');
  t.equal(table[1]!, 'a   東京 の話  server');
  t.equal(displayWidth(table[1]!.slice(0, table[1]!.indexOf('server'))), table[2]!.indexOf('server'), 'aligned by display width');
});

t.test('no workspaces: one line', async (t) => {
  t.equal(formatStatusTable({ workspaces: [] }, { color: true }), 'no workspaces configured\n');
});

// ---- metrics ----

const FAMILIES: Array<[string, string]> = [
  ['warren_tunnel_up', 'gauge'], ['warren_tunnel_state', 'gauge'], ['warren_tunnel_reconnects_total', 'counter'],
  ['warren_tunnel_failed_attempts_total', 'counter'], ['warren_tunnel_bytes_in_total', 'counter'], ['warren_tunnel_bytes_out_total', 'counter'],
  ['warren_tunnel_open_channels', 'gauge'], ['warren_tunnel_channels_opened_total', 'counter'], ['warren_tunnel_keepalive_rtt_seconds', 'gauge'],
  ['warren_tunnel_uptime_seconds', 'gauge'], ['warren_opencode_running', 'gauge'], ['warren_opencode_state', 'gauge'],
  ['warren_opencode_starts_total', 'counter'], ['warren_opencode_restarts_total', 'counter'], ['warren_opencode_adoptions_total', 'counter'],
  ['warren_opencode_active_streams', 'gauge'], ['warren_messages_total', 'counter'], ['warren_messages_failed_total', 'counter'],
  ['warren_messages_in_flight', 'gauge'], ['warren_message_duration_seconds', 'summary'],
  ['warren_opencode_tokens_total', 'counter'], ['warren_opencode_cost_usd_total', 'counter'], ['warren_opencode_assistant_messages_total', 'counter'],
  ['warren_workspaces', 'gauge'], ['warren_build_info', 'gauge'],
];
const USAGE_ONLY = ['warren_opencode_tokens_total', 'warren_opencode_cost_usd_total', 'warren_opencode_assistant_messages_total'];

/** The samples of the text, as name -> (labels -> value), checking each line's syntax on the way. */
function parse(t: Test, text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  t.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      t.match(line, /^# (HELP warren_\w+ \S.*|TYPE warren_\w+ (gauge|counter|summary))$/);
      continue;
    }
    const m = /^(warren_\w+)(?:\{((?:\w+="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/.exec(line);
    if (!t.ok(m, `sample syntax: ${line}`) || !m) continue;
    if (!out.has(m[1]!)) out.set(m[1]!, new Map());
    out.get(m[1]!)!.set(m[2] ?? '', m[3]!);
  }
  return out;
}

t.test('metrics: HELP and TYPE for every family, samples for both workspaces', async (t) => {
  const text = renderMetrics(status);
  for (const [name, type] of FAMILIES) {
    t.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `HELP ${name}`);
    t.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `TYPE ${name}`);
  }
  const m = parse(t, text);
  const a = 'workspace="alpha"';
  const b = 'workspace="beta"';
  for (const [name] of FAMILIES.filter(([n]) => !USAGE_ONLY.includes(n)).filter(([n]) => !['warren_workspaces', 'warren_build_info', 'warren_message_duration_seconds', 'warren_tunnel_state', 'warren_opencode_state', 'warren_tunnel_keepalive_rtt_seconds'].includes(n))) {
    t.ok(m.get(name)?.has(a), `${name} alpha`);
    t.ok(m.get(name)?.has(b), `${name} beta`);
  }
  t.equal(m.get('warren_tunnel_up')?.get(a), '1');
  t.equal(m.get('warren_tunnel_up')?.get(b), '0');
  t.same([...m.get('warren_tunnel_state')!.entries()], [
    [`${a},state="up"`, '1'], [`${a},state="connecting"`, '0'], [`${a},state="down"`, '0'],
    [`${b},state="up"`, '0'], [`${b},state="connecting"`, '0'], [`${b},state="down"`, '1'],
  ]);
  t.equal(m.get('warren_opencode_state')?.get(`${b},state="failed"`), '1');
  t.equal(m.get('warren_opencode_state')?.get(`${b},state="running"`), '0');
  t.equal(m.get('warren_opencode_state')?.size, 8);
  t.equal(m.get('warren_tunnel_keepalive_rtt_seconds')?.get(a), '0.001234');
  t.notOk(m.get('warren_tunnel_keepalive_rtt_seconds')?.has(b), 'no RTT sample while there is none');
  t.equal(m.get('warren_tunnel_uptime_seconds')?.get(a), '7507');
  t.equal(m.get('warren_tunnel_uptime_seconds')?.get(b), '0');
  t.equal(m.get('warren_tunnel_bytes_in_total')?.get(a), String(1.2 * 1024 * 1024));
  t.equal(m.get('warren_message_duration_seconds_sum')?.get(a), '12.5');
  t.equal(m.get('warren_message_duration_seconds_count')?.get(b), '9');
  t.equal(m.get('warren_workspaces')?.get(''), '2');
  t.same([...m.get('warren_build_info')!.entries()], [['version="0.1.0"', '1']]);
  // Each family's samples are contiguous, as the format requires.
  const order = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^\w+/.exec(l)![0].replace(/_(sum|count)$/, ''));
  t.same(order.filter((n, i) => n !== order[i - 1]), [...new Set(order)]);
});

t.test('metrics: tokens by kind, cost and messages per workspace and model', async (t) => {
  const rows = [
    { workspace: 'alpha', key: 'fake/fake-model', messages: 3, tokens: { input: 1000, output: 300, reasoning: 100, cacheRead: 80, cacheWrite: 20 }, cost: 0.0123 },
    { workspace: 'alpha', key: 'odd"model\n', messages: 1, tokens: { input: 1, output: 2, reasoning: 0, cacheRead: 0, cacheWrite: 0 }, cost: 0 },
  ];
  const m = parse(t, renderMetrics(status, rows));
  const l = 'workspace="alpha",model="fake/fake-model"';
  t.same([...m.get('warren_opencode_tokens_total')!.entries()].filter(([k]) => k.startsWith(l)), [
    [`${l},kind="input"`, '1000'], [`${l},kind="output"`, '300'], [`${l},kind="reasoning"`, '100'], [`${l},kind="cache_read"`, '80'], [`${l},kind="cache_write"`, '20'],
  ]);
  t.equal(m.get('warren_opencode_cost_usd_total')?.get(l), '0.0123');
  t.equal(m.get('warren_opencode_assistant_messages_total')?.get(l), '3');
  t.equal(m.get('warren_opencode_assistant_messages_total')?.get('workspace="alpha",model="odd\\"model\\n"'), '1', 'a model name is escaped like any label');
});

t.test('metrics: no error text, targets or versions from the workspace leak', async (t) => {
  const text = renderMetrics(status);
  for (const leak of ['hunter2', '10.9.8.7', 'connection refused', 'exited with 1', 'workspace@', '1.18.33', 'aes128', 'WARREN_ERR']) t.notMatch(text, leak);
});

t.test('metrics: label values are escaped', async (t) => {
  t.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const text = renderMetrics({ workspaces: [ws('we"ird\\na\nme')] });
  t.match(text, /^warren_tunnel_up\{workspace="we\\"ird\\\\na\\nme"\} 1$/m);
  parse(t, text);
  t.notMatch(text, /warren_build_info/, 'no build info without a daemon section');
  t.match(text, /^warren_workspaces 1$/m);
});

t.test('metrics: no workspaces still renders every family header', async (t) => {
  const text = renderMetrics({ workspaces: [] });
  t.match(text, /^warren_workspaces 0$/m);
  t.match(text, /^# TYPE warren_tunnel_up gauge$/m);
  parse(t, text);
});
