// `warren status` and `warren sessions` as an operator runs them: the real CLI, a real
// daemon, a real workspace and one whose port has no sshd (so it has errors to show).
// Tables fit the width, -o wide has every column, the detail view shows the errors with
// their times, --watch takes seconds, and workspace text is sanitised and aligned by
// display width.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { displayWidth } from '../src/cli/text-width.js';
import { startDaemon } from './helpers/daemon.js';

const [one] = await createWorkspaces(1, { namePrefix: 'st' });
t.teardown(() => one!.close());
// Port 1 of the workspace's host: nothing listens, every attempt is refused.
const dead = { name: 'st-dead', host: one!.host, port: 1, user: one!.user, privateKeyPath: one!.privateKeyPath, hostKeyFingerprint: one!.hostKeyFingerprint };
const warren = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs: 30_000, env: { ...process.env, COLUMNS: '', ...env } });
const widest = (out: string) => Math.max(...out.trimEnd().split('\n').map(displayWidth));

const d = await startDaemon(t, [one!, dead], { waitUp: [one!.name] });
// The live one's RTT comes with its first keepalive answer, a second or more after
// it is up (a loaded run printed "-" here): the table below shows both.
await waitFor('the dead workspace to have an error, and the live one an RTT', async () => {
  const r = await warren(['status', '--json', '--socket', d.socket]);
  const s = JSON.parse(r.stdout) as { workspaces: Array<{ name: string; recentErrors?: unknown[]; tunnel: { keepaliveRttMs: number | null } }> };
  return (s.workspaces.find((w) => w.name === dead.name)?.recentErrors?.length ?? 0) >= 1
    && s.workspaces.find((w) => w.name === one!.name)?.tunnel.keepaliveRttMs != null;
}, { timeoutMs: 20_000 });

t.test('the table fits 80 columns off a terminal, or $COLUMNS; -o wide has every column', async (t) => {
  const r = await warren(['status', '--socket', d.socket]);
  t.equal(r.code, 0, r.stderr);
  t.comment(`\n${r.stdout}`);
  const lines = r.stdout.trimEnd().split('\n');
  t.match(lines[0], /^WORKSPACE +TUNNEL +RTT +OPENCODE +IDLE +LAST ERROR$/);
  t.match(r.stdout, new RegExp(`^${one!.name} +up +\\d+\\.\\dms +stopped +- +-$`, 'm'));
  t.match(r.stdout, /^st-dead +(down|connecting) +- +stopped +- +\d+\S* ago: /m);
  t.ok(widest(r.stdout) <= 80, `widest line ${widest(r.stdout)} columns`);

  const narrow = await warren(['status', '--socket', d.socket], { COLUMNS: '60' });
  t.ok(widest(narrow.stdout) <= 60, `$COLUMNS=60: widest line ${widest(narrow.stdout)} columns`);

  for (const args of [['-o', 'wide'], ['--output', 'wide']]) {
    const wide = await warren(['status', ...args, '--socket', d.socket]);
    t.equal(wide.code, 0, wide.stderr);
    t.match(wide.stdout, /^WORKSPACE +TARGET +TUNNEL +UPTIME +RTT +CHANNELS +IN\/OUT +RECONNECTS +OPENCODE +IDLE +TODAY +LAST ERROR$/m);
    t.match(wide.stdout, new RegExp(`^st-dead +${one!.user}@${one!.host.replace(/\./g, '\\.')}:1 `, 'm'));
  }
  const json = await warren(['status', '-o', 'json', '--socket', d.socket]);
  t.same((JSON.parse(json.stdout) as { workspaces: Array<{ name: string }> }).workspaces.map((w) => w.name), [one!.name, dead.name]);
});

t.test('the detail view: every field, the last errors with their times; an unknown workspace exits 2', async (t) => {
  const r = await warren(['status', dead.name, '--socket', d.socket]);
  t.equal(r.code, 0, r.stderr);
  t.comment(`\n${r.stdout}`);
  t.match(r.stdout, /^workspace: +st-dead$/m);
  t.match(r.stdout, new RegExp(`^target: +${one!.user}@${one!.host.replace(/\./g, '\\.')}:1$`, 'm'));
  t.match(r.stdout, /^tunnel: +(down|connecting) since \d{4}-\d\d-\d\dT[\d:.]+Z \(\S+ ago\)$/m);
  for (const key of ['uptime', 'keepalive rtt', 'channels', 'bytes in/out', 'reconnects', 'failed attempts', 'next attempt', 'cipher', 'opencode', 'opencode port', 'idle', 'messages']) {
    t.match(r.stdout, new RegExp(`^${key}: +\\S`, 'm'), key);
  }
  t.match(r.stdout, /^last error: +WARREN_ERR_CONNECT: cannot connect to workspace st-dead\b[^]*connection refused[^]*^last error at:/m);
  t.match(r.stdout, /^last error at: +\d{4}-\d\d-\d\dT[\d:.]+Z \(\S+ ago\)$/m);
  t.match(r.stdout, /^recent errors \(newest first\):\n {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}tunnel WARREN_ERR_\w+: /m);
  t.ok(widest(r.stdout) <= 80, 'wrapped to 80 columns');

  const json = await warren(['status', dead.name, '--json', '--socket', d.socket]);
  t.match(JSON.parse(json.stdout), { name: dead.name, recentErrors: [{ source: 'tunnel', code: /^WARREN_ERR_/, at: /Z$/ }] });

  const unknown = await warren(['status', 'nope', '--socket', d.socket]);
  t.equal(unknown.code, 2);
  t.equal(unknown.stdout, '');
  t.equal(unknown.stderr, `warren: the daemon on ${d.socket} has no workspace "nope" (it has: ${one!.name}, st-dead)\n`);
});

t.test('--watch SECONDS redraws; a bad interval or workspace exits 2', async (t) => {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'status', '--watch', '1', '--socket', d.socket], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const started = Date.now();
  await waitFor('two frames', () => out.split('\n\n').filter((f) => f.startsWith('WORKSPACE')).length >= 2, { timeoutMs: 10_000 });
  const took = Date.now() - started;
  t.ok(took >= 900, `the second frame came a second later (${took} ms)`);
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  for (const frame of out.split('\n\n').slice(0, 2)) t.match(frame, /^WORKSPACE +TUNNEL /);

  for (const args of [['--watch', 'abc'], ['--watch=abc'], ['--watch', '0'], ['--watch', '-2']]) {
    const r = await warren(['status', ...args, '--socket', d.socket]);
    t.equal(r.code, 2, args.join(' '));
    t.equal(r.stdout, '');
    t.match(r.stderr, /^warren: .*\n$/);
    if (args[1] === 'abc') t.match(r.stderr, /no workspace "abc" .*; --watch takes seconds: --watch 5\n$/);
  }
});

t.test('warren sessions: a title with a line break and CJK characters is one row, aligned by display width', async (t) => {
  const title = 'line one\nline two 日本語のタイトル\x1b[31m';
  for (const body of [{ title }, { title: 'plain title' }]) {
    const r = await fetch(`${d.base}/v1/workspaces/${one!.name}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
    t.equal(r.status, 201, await r.text());
  }
  const r = await warren(['sessions', one!.name, '--config', d.configPath]);
  t.equal(r.code, 0, r.stderr);
  t.comment(`\n${r.stdout}`);
  const lines = r.stdout.trimEnd().split('\n');
  t.equal(lines.length, 3, 'a header and one line per session');
  t.notMatch(r.stdout, /\x1b/, 'no escape code reaches the terminal');
  const row = lines.find((l) => l.includes('日本語'));
  t.match(row, /line one line two 日本語のタイトル\\u001b\[31m +server$/);
  const sourceAt = (l: string) => displayWidth(l.slice(0, l.lastIndexOf(l.endsWith('SOURCE') ? 'SOURCE' : 'server')));
  t.same(lines.map(sourceAt), [sourceAt(lines[0]!), sourceAt(lines[0]!), sourceAt(lines[0]!)], 'SOURCE starts at the same column on every line');
});
