// One-shot commands as a person meets them: a workspace that cannot be reached,
// whose sshd refuses the key, or whose host key is not the pinned one fails at once
// with one line that names it and says what to do, instead of sitting out the wait
// for the link in silence (`attach` too, through a daemon whose link keeps
// retrying). On a terminal, progress lines and readable logs on stderr; piped,
// neither progress nor anything but JSON logs. Real sshd, opencode and fake model.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkspace, run, runOk, type RunResult } from '../container/testbed/index.js';
import { UP_WAIT_MS } from '../src/cli/context.js';
import { quoteCommand } from '../src/ssh/quote.js';
import { startDaemon } from './helpers/daemon.js';
import { cliSession, configFile } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'oneshot' });
t.teardown(() => ws.close());
const main = 'dist/src/cli/main.js';
/** Nothing listens on port 1 of the workspace's address: the connection is refused. */
const CLOSED_PORT = 1;
const WRONG_PIN = `SHA256:${'A'.repeat(43)}`;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** Well under the wait a healing failure gets: the command did not sit it out. */
const FAST_MS = UP_WAIT_MS / 2;

/** A cold start, an import and a reply took over 60 s at load 14: the deadline is for hangs, not speed. */
const COMMAND_DEADLINE_MS = 150_000;

async function timed(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult & { ms: number }> {
  const started = Date.now();
  const r = await run(argv, { timeoutMs: COMMAND_DEADLINE_MS, env: { ...process.env, ...env } });
  return { ...r, ms: Date.now() - started };
}

/** The command under a pseudo-terminal (stdout and stderr both go to it): what a person sees. */
function onTerminal(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult & { ms: number }> {
  return timed(['script', '-qfec', quoteCommand(argv), '/dev/null'], env);
}

async function wrongKey(t: Test): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oneshot-key-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id')]);
  return path.join(tmp, 'id');
}

function oneLine(t: Test, r: RunResult & { ms: number }, code: RegExp, what: string): void {
  t.equal(r.code, 1, `${what}: exit 1`);
  t.equal(r.stdout, '', `${what}: nothing on stdout`);
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1, `${what}: one line (${r.stderr.trim()})`);
  t.match(r.stderr, /^warren: .*workspace oneshot/, `${what}: names the workspace`);
  t.match(r.stderr, code, `${what}: says what failed and what to do`);
  t.ok(r.ms < FAST_MS, `${what}: did not wait out the ${UP_WAIT_MS} ms for the link (${r.ms} ms)`);
}

t.test('chat and sessions: refused, wrong key, wrong pin: one line, exit 1, at once', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['refused', { port: CLOSED_PORT }, /connection refused \(is sshd running\? are host and port in the config right\?\)/],
    ['wrong key', { privateKeyPath: await wrongKey(t) }, /ssh login .* was refused: check privateKeyPath/],
    ['wrong pin', { hostKeyFingerprint: WRONG_PIN }, new RegExp(`host key .* is ${escape(ws.hostKeyFingerprint)}, expected ${WRONG_PIN}: .*update hostKeyFingerprint`)],
  ];
  for (const [what, override, message] of cases) {
    const cfg = configFile(t, [ws], { [ws.name]: override });
    oneLine(t, await timed([process.execPath, main, 'chat', ws.name, '--config', cfg, 'hello']), message, `chat, ${what}`);
    oneLine(t, await timed([process.execPath, main, 'sessions', ws.name, '--config', cfg]), message, `sessions, ${what}`);
  }
});

t.test('attach through a daemon whose link keeps retrying a refusal: one line at once', async (t) => {
  const d = await startDaemon(t, [ws], { workspace: { port: CLOSED_PORT }, waitUp: [] });
  for (const attempt of ['while the daemon tries', 'again, later']) {
    const r = await timed([process.execPath, main, 'attach', ws.name, '--socket', d.socket]);
    t.equal(r.code, 1, attempt);
    t.equal(r.stderr.split('\n').filter(Boolean).length, 1, `${attempt}: one line (${r.stderr.trim()})`);
    t.match(r.stderr, /^warren: cannot connect to workspace oneshot at .*:1: connection refused/, attempt);
    t.ok(r.ms < FAST_MS, `${attempt}: did not wait for the link (${r.ms} ms)`);
  }
  const status = JSON.parse((await runOk([process.execPath, main, 'status', '--json', '--socket', d.socket])).stdout) as { workspaces: Array<{ tunnel: { state: string } }> };
  t.not(status.workspaces[0]?.tunnel.state, 'up');
  t.match(d.log(), /reconnect scheduled/, 'the daemon keeps retrying');
});

t.test('progress on a terminal: connecting, starting opencode, importing; none when piped', async (t) => {
  const otherData = `${ws.home}/other-data`;
  const id = await cliSession(ws, `${ws.home}/projects/delta`, 'kept elsewhere', { XDG_DATA_HOME: otherData });
  const cfg = configFile(t, [ws], { [ws.name]: { importFrom: [otherData] } });
  const tty = await onTerminal([process.execPath, main, 'chat', ws.name, '--config', cfg, '--session', id, 'on a terminal']);
  t.equal(tty.code, 0, tty.stdout);
  const lines = tty.stdout.split(/\r?\n/);
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const connecting = at(new RegExp(`^connecting to oneshot \\(${ws.user}@${ws.host}:${ws.port}\\)…$`));
  const starting = at(/^starting opencode in oneshot…$/);
  const importing = at(new RegExp(`^importing session ${id} from ${otherData}…$`));
  const reply = at(/^echo: on a terminal$/);
  t.ok(connecting >= 0 && starting > connecting && importing > starting && reply > importing, `each on its own line, in order:\n${tty.stdout}`);

  const piped = await timed([process.execPath, main, 'chat', ws.name, '--config', cfg, '--session', id, 'piped']);
  t.equal(piped.code, 0, piped.stderr);
  t.equal(piped.stderr, '', 'nothing on a piped stderr');
  t.equal(piped.stdout, 'echo: piped\n');

  const sessions = await onTerminal([process.execPath, main, 'sessions', ws.name, '--config', cfg]);
  t.equal(sessions.code, 0, sessions.stdout);
  t.match(sessions.stdout, /^connecting to oneshot \(.*\)…\r?\n/, 'sessions too');
  t.match(sessions.stdout, id);
});

t.test('WARREN_LOG_LEVEL=info: readable lines on a terminal, JSON lines when piped', async (t) => {
  const cfg = configFile(t, [ws], { [ws.name]: { port: CLOSED_PORT } });
  const env = { WARREN_LOG_LEVEL: 'info', NO_COLOR: '1' };
  const tty = await onTerminal([process.execPath, main, 'sessions', ws.name, '--config', cfg], env);
  t.equal(tty.code, 1);
  const logLines = tty.stdout.split(/\r?\n/).filter((l) => /^\d\d:\d\d:\d\d /.test(l));
  t.ok(logLines.length >= 2, `log lines:\n${tty.stdout}`);
  t.match(tty.stdout, /^\d\d:\d\d:\d\d WARN  oneshot link state from=connecting to=down code=WARREN_ERR_CONNECT/m);
  t.notMatch(tty.stdout, /^\{/m, 'no JSON on a terminal');

  const piped = await timed([process.execPath, main, 'sessions', ws.name, '--config', cfg], env);
  t.equal(piped.code, 1);
  const lines = piped.stderr.split('\n').filter(Boolean);
  t.match(lines.at(-1), /^warren: cannot connect/, 'the error line last');
  const logs = lines.slice(0, -1).map((l) => JSON.parse(l) as { level: number; msg: string; ws?: string });
  t.ok(logs.length >= 2, 'JSON log lines');
  t.ok(logs.some((l) => l.msg === 'link state' && l.level === 40), 'the link going down, as JSON');
});
