// `warren attach`: OpenCode's real TUI on the host, in a real terminal (tmux), on a
// workspace's server through the daemon's gateway. It opens the named session (one
// the CLI made in another directory), a typed message gets its reply on screen, the
// token is in no process's argv, and the TUI works again after every sshd was killed
// and started, and after opencode itself died. While it is attached the server is
// not idle-stopped; once it quits, it is. Errors a person meets are one line.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createWorkspace, run, waitFor } from '../container/testbed/index.js';
import { startDaemon } from './helpers/daemon.js';
import { cliSession, expectNothingLeft } from './helpers/runtime.js';
import { everyArgv, hostClient, tmuxPane } from './helpers/clients.js';

const IDLE_MS = 4000;
const ws = await createWorkspace({ name: 'attachtui' });
t.teardown(() => ws.close());
// A token of its own: the argv check looks at every process on the machine.
const d = await startDaemon(t, [ws], { token: `attach-tui-${randomBytes(12).toString('hex')}`, workspace: { opencode: { idleTimeoutMs: IDLE_MS } } });
const client = await hostClient(t);
const warren = [process.execPath, path.resolve('dist/src/cli/main.js')];

async function opencodeState(): Promise<{ state: string; activeStreams: number }> {
  const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() });
  return ((await r.json()) as { workspaces: Array<{ opencode: { state: string; activeStreams: number } }> }).workspaces[0]!.opencode;
}
const tunnelState = async () => ((await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json()) as { workspaces: Array<{ tunnel: { state: string } }> }).workspaces[0]!.tunnel.state;

t.test('warren attach says in one line what is wrong', async (t) => {
  const attach = (args: string[], env: NodeJS.ProcessEnv = client.env) => run([...warren, 'attach', ...args], { env, timeoutMs: 120_000 });
  const noClient = await attach([ws.name, '--socket', d.socket], { ...client.env, PATH: '/usr/bin:/bin' });
  t.equal(noClient.code, 1);
  t.match(noClient.stderr, /^warren: opencode is not installed on this host \(not found on PATH\); install it with npm install -g opencode-ai@\d+\.\d+\.\d+\n$/);

  const oldDir = path.join(client.home, 'old-opencode');
  fs.mkdirSync(oldDir);
  fs.writeFileSync(path.join(oldDir, 'opencode'), '#!/bin/sh\necho 1.17.2\n', { mode: 0o755 });
  const old = await attach([ws.name, '--socket', d.socket], { ...client.env, PATH: `${oldDir}:/usr/bin:/bin` });
  t.equal(old.code, 1);
  t.match(old.stderr, /^warren: opencode on this host is 1\.17\.2 but workspace attachtui runs \d+\.\d+\.\d+; install the same version here: npm install -g opencode-ai@\d+\.\d+\.\d+\n$/);

  const missing = await attach([ws.name, '--session', 'ses_000000000000AAAAAAAAAAAAAA', '--socket', d.socket]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^warren: session ses_000000000000AAAAAAAAAAAAAA not found in workspace attachtui \(searched: [^\n]*\)\n$/);

  const unknown = await attach(['nosuch', '--socket', d.socket]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^warren: no workspace "nosuch" is configured\n$/);

  const noDaemon = await attach([ws.name, '--socket', path.join(client.home, 'none.sock')]);
  t.equal(noDaemon.code, 1);
  t.match(noDaemon.stderr, /^warren: no warren daemon is answering on .*none\.sock: start one with warren daemon, or pass --socket\n$/);

  const bad = await attach([ws.name, '--session', 'not-an-id', '--socket', d.socket]);
  t.equal(bad.code, 2);
  t.equal(bad.stderr.split('\n').filter(Boolean).length, 1, 'a bad session id: one line');
  const help = await attach(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: warren attach <workspace>/);
});

t.test('the TUI opens the session, answers a typed message, and survives sshd and opencode dying', async (t) => {
  const dir = `${ws.home}/projects/tui`;
  const id = await cliSession(ws, dir, 'made by the CLI for the TUI');
  const pane = await tmuxPane(t, `warren-attach-${process.pid}`, [...warren, 'attach', ws.name, '--session', id, '--socket', d.socket], client.env);
  // The TUI's own start, the daemon's cold opencode start and the import: over 60 s on a loaded machine.
  await pane.waitFor('the TUI to show the session', /made by the CLI for the TUI/, 120_000);
  t.pass('the session\'s history is on screen');
  const screen = await pane.waitFor('the session\'s directory in the footer', /projects\/tui/);
  t.match(screen, /projects\/tui/, 'in the session\'s own directory');

  await pane.type('typed into the TUI');
  await pane.waitFor('the reply on screen', /echo: "?typed into the TUI/);
  t.pass('a typed message gets its reply on screen');
  t.same(everyArgv().filter((a) => a.includes(d.token!)), [], 'no process\'s argv holds the token');

  // While the TUI is attached its event stream holds the server: no idle stop.
  const until = Date.now() + 2 * IDLE_MS;
  await waitFor('two idle timeouts to pass with the server running', async () => {
    const s = await opencodeState();
    if (s.state !== 'running') throw new Error(`opencode went ${s.state} while the TUI was attached`);
    return Date.now() > until;
  }, { timeoutMs: 4 * IDLE_MS, intervalMs: 250 });
  t.pass('not idle-stopped while attached');

  await ws.killSshd();
  await waitFor('the tunnel to go down', async () => (await tunnelState()) !== 'up', { timeoutMs: 30_000 });
  await ws.startSshd();
  await waitFor('the tunnel to come back', async () => (await tunnelState()) === 'up', { timeoutMs: 30_000 });
  await pane.type('after sshd came back');
  await pane.waitFor('the reply after the restart', /echo: "?after sshd came back/, 60_000);
  t.pass('the TUI works again after every sshd was killed and started');

  await ws.runAsUser(['pkill', '-KILL', '-u', ws.user, '-f', 'opencode serve']);
  await pane.type('after opencode died');
  await pane.waitFor('the reply after the crash', /echo: "?after opencode died/, 90_000);
  t.pass('the TUI works again after opencode died (restarted on demand)');
  const history = await fetch(`${d.base}/v1/workspaces/${ws.name}/opencode/session/${id}/message`, { headers: d.headers() }).then((r) => r.json()) as Array<{ info: { role: string }; parts: Array<{ type: string; text?: string }> }>;
  const typed = history.filter((m) => m.info.role === 'user').map((m) => m.parts.filter((p) => p.type === 'text').map((p) => p.text).join(''));
  t.same(typed, ['"made by the CLI for the TUI"', 'typed into the TUI', 'after sshd came back', 'after opencode died'], 'every typed turn is in the history once');

  await run(['tmux', 'send-keys', '-t', `warren-attach-${process.pid}`, 'C-c']);
  const end = await pane.waitFor('the TUI to quit', /EXIT:\d+/, 30_000);
  t.match(end, /EXIT:0/, 'warren attach exits 0 with the TUI');
  await waitFor('the idle stop once nothing is attached', async () => (await opencodeState()).state === 'stopped', { timeoutMs: IDLE_MS + 20_000 });
  t.pass('stopped when idle after the TUI quit');
});

t.test('afterwards nothing is left running', async (t) => {
  await d.stop();
  await expectNothingLeft(t, ws, 20_000);
});
