// `warren status` against a fake daemon: a unix socket answering the one-line control
// protocol with a fixed status. main.ts is not involved; the command is called in
// process, or in a child that reports errors the way main.ts does.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { BrokerStatus, WorkspaceStatus } from '../src/broker/status.js';
import { statusCommand, askDaemon, type StatusIo } from '../src/cli/commands/status.js';
import { defaultSocketPath } from '../src/broker/control-path.js';
import { WarrenError } from '../src/errors.js';
import { waitFor } from '../container/testbed/wait.js';

const STATUS_JS = pathToFileURL(path.resolve(import.meta.dirname, '..', 'src', 'cli', 'commands', 'status.js')).href;

function ws(name: string, state: WorkspaceStatus['tunnel']['state']): WorkspaceStatus {
  return {
    name, target: `workspace@10.0.0.2:22`,
    tunnel: {
      state, since: '2025-01-02T03:00:00.000Z', uptimeMs: state === 'up' ? 65_000 : null, keepaliveRttMs: state === 'up' ? 0.8 : null, openChannels: 1,
      channelsOpened: 4, bytesIn: 2048, bytesOut: 100, reconnects: 0, failedAttempts: 0, lastError: state === 'up' ? null : 'connection refused',
      lastErrorCode: null, lastErrorAt: null, nextAttemptAt: null, nativeCrypto: true, cipher: null,
    },
    opencode: { state: 'running', version: '1.18.33', port: 4096, pid: 7, starts: 1, restarts: 0, adoptions: 0, lastFailure: null, idleMs: 500, activeStreams: 0 },
    messages: { total: 0, failed: 0, inFlight: 0, durationMsSum: 0, durationCount: 0 },
  };
}
const STATUS: BrokerStatus = {
  workspaces: [ws('alpha', 'up'), ws('beta', 'down')],
  daemon: { pid: 99, version: '0.1.0', startedAt: new Date().toISOString(), gateway: '127.0.0.1:7391' },
};

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-status-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface FakeDaemon { path: string; requests: string[]; open: Set<net.Socket>; close(): Promise<void> }

/** Answers each request line with `reply` (a string is sent as is), or never when reply is null. */
async function fakeDaemon(t: Test, reply: unknown): Promise<FakeDaemon> {
  const p = path.join(tmpDir(t), 'warren.sock');
  const requests: string[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      requests.push(buf.slice(0, nl + 1));
      if (reply !== null) sock.end(`${typeof reply === 'string' ? reply : JSON.stringify(reply)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(p, resolve));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return { path: p, requests, open, close };
}

/** An io that keeps what the command writes. */
function capture(o: { tty?: boolean; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): StatusIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: { write: (s: string) => { out += s; }, isTTY: o.tty ?? false, columns: 200 },
    err: { write: (s: string) => { err += s; } },
    env: o.env ?? {},
    ...(o.signal ? { signal: o.signal } : {}),
    stdout: () => out,
    stderr: () => err,
  };
}

/** `warren status ...` in a child, failing the way main.ts does (one line, the error's exit code). */
function spawnStatus(t: Test, args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<{ code: number | null; signal: string | null }> } {
  const script = `import { statusCommand } from ${JSON.stringify(STATUS_JS)};
statusCommand(process.argv.slice(1)).then((c) => { process.exitCode = c; },
  (e) => { process.stderr.write('warren: ' + e.message + '\\n'); process.exitCode = e.exitCode ?? 1; });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, out: () => out, err: () => err, exited };
}

/** Resolves when the child's output satisfies `ok`; fails at the deadline or if the child exits first. */
function outputUntil(c: ReturnType<typeof spawnStatus>, what: string, ok: (out: string) => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!ok(c.out())) return;
      done();
      resolve();
    };
    const onExit = () => { done(); reject(new Error(`the child exited before ${what}: ${c.err()}`)); };
    const timer = setTimeout(() => { done(); reject(new Error(`no ${what} within ${ms} ms; stdout so far: ${JSON.stringify(c.out().slice(-500))}`)); }, ms);
    const done = () => { clearTimeout(timer); c.child.stdout!.off('data', check); c.child.off('close', onExit); };
    c.child.stdout!.on('data', check);
    c.child.once('close', onExit);
    check();
  });
}

const NO_DAEMON = (p: string) => `no warren daemon is answering on ${p}: start one with warren daemon, or pass --socket`;

t.test('--json prints the status exactly as the daemon sent it', async (t) => {
  const d = await fakeDaemon(t, STATUS);
  const io = capture();
  t.equal(await statusCommand(['--socket', d.path, '--json'], io), 0);
  t.equal(io.stdout(), `${JSON.stringify(STATUS, null, 2)}\n`);
  t.same(JSON.parse(io.stdout()), STATUS);
  t.same(d.requests, ['{"cmd":"status"}\n'], 'one request line');
});

t.test('the table, and the socket from $WARREN_SOCKET', async (t) => {
  const d = await fakeDaemon(t, STATUS);
  const io = capture({ env: { WARREN_SOCKET: d.path } });
  t.equal(await statusCommand([], io), 0);
  const lines = io.stdout().trimEnd().split('\n');
  t.match(lines[0], /^WORKSPACE +TUNNEL +RTT +OPENCODE +IDLE +LAST ERROR$/);
  t.match(lines[1], /^alpha +up +0\.8ms +running 1\.18\.33 +500ms +-$/);
  t.match(lines[2], /^beta .* down .* connection refused$/);
  t.match(lines[3], /^daemon pid 99, warren 0\.1\.0, up \S+, gateway 127\.0\.0\.1:7391$/);
  t.equal(lines.length, 4);
  t.notMatch(io.stdout(), /\x1b/, 'no colour when not on a terminal');

  const tty = capture({ env: { WARREN_SOCKET: d.path }, tty: true });
  await statusCommand([], tty);
  t.match(tty.stdout(), /\x1b\[32mup\x1b\[0m/, 'colour on a terminal');
  const noColor = capture({ env: { WARREN_SOCKET: d.path, NO_COLOR: '1' }, tty: true });
  await statusCommand([], noColor);
  t.notMatch(noColor.stdout(), /\x1b/, 'NO_COLOR is honoured');
});

t.test('no daemon: one line naming the socket, exit 1', async (t) => {
  const dir = tmpDir(t);
  const missing = path.join(dir, 'nothing.sock');
  const stale = path.join(dir, 'stale.sock');
  fs.writeFileSync(stale, ''); // not a listening socket: ECONNREFUSED
  for (const p of [missing, stale]) {
    const err = await statusCommand(['--socket', p], capture()).then(() => null, (e: unknown) => e);
    t.ok(err instanceof WarrenError, p);
    t.equal((err as WarrenError).code, 'WARREN_ERR_NO_DAEMON');
    t.equal((err as WarrenError).exitCode, 1);
    t.equal((err as WarrenError).message, NO_DAEMON(p));
  }
  const c = spawnStatus(t, ['--socket', missing, '--json']);
  const r = await c.exited;
  t.equal(r.code, 1);
  t.equal(c.out(), '');
  t.equal(c.err(), `warren: ${NO_DAEMON(missing)}\n`);
});

t.test('usage errors exit 2', async (t) => {
  for (const argv of [['alpha', 'beta'], ['--interval', '5'], ['--interval', 'soon'], ['--socket', ''], ['-o', 'yaml'],
    ['--watch=abc'], ['--watch', '0'], ['--watch', '-1'], ['--watch=0.01'], ['--watch', '2', '--interval', '500']]) {
    const err = await statusCommand(argv, capture()).then(() => null, (e: unknown) => e);
    t.equal((err as WarrenError | null)?.code, 'WARREN_ERR_USAGE', argv.join(' '));
    t.equal((err as WarrenError | null)?.exitCode, 2);
  }
  // Unknown options are parseArgs errors, which main.ts turns into usage errors.
  const err = await statusCommand(['--frob'], capture()).then(() => null, (e: unknown) => e);
  t.match((err as { code?: string }).code, /^ERR_PARSE_ARGS/);
});

t.test('a reply that is not a status is a one-line error, not a crash', async (t) => {
  for (const [reply, want] of [
    ['not json', /answered something that is not JSON/],
    [{ error: { code: 'X', message: 'unknown command' } }, /refused the request: unknown command$/],
    [{ hello: 1 }, /answered something that is not a status/],
  ] as const) {
    const d = await fakeDaemon(t, reply);
    const err = await statusCommand(['--socket', d.path], capture()).then(() => null, (e: unknown) => e);
    t.ok(err instanceof WarrenError);
    t.equal((err as WarrenError).code, 'WARREN_ERR_CONTROL');
    t.match((err as WarrenError).message, want);
    t.notMatch((err as WarrenError).message, /\n/);
    await d.close();
  }
});

t.test('a daemon that never answers: the request fails at its deadline', async (t) => {
  const d = await fakeDaemon(t, null);
  const started = Date.now();
  const err = await askDaemon(d.path, { cmd: 'status' }, 300).then(() => null, (e: unknown) => e);
  const took = Date.now() - started;
  t.equal((err as WarrenError | null)?.code, 'WARREN_ERR_CONTROL_TIMEOUT');
  t.match((err as WarrenError).message, `did not answer within 300 ms`);
  t.ok(took >= 290 && took < 3000, `failed after ${took} ms`);
  t.equal(d.requests.length, 1, 'the request was sent');

  // The command's own deadline is 5 s.
  const t0 = Date.now();
  const err2 = await statusCommand(['--socket', d.path, '--json'], capture()).then(() => null, (e: unknown) => e);
  const took2 = Date.now() - t0;
  t.equal((err2 as WarrenError | null)?.code, 'WARREN_ERR_CONTROL_TIMEOUT');
  t.ok(took2 >= 4900 && took2 < 9000, `failed after ${took2} ms`);
  // The client hung up: the daemon is not left holding the connections.
  await waitFor('the client to hang up', () => d.open.size === 0, { timeoutMs: 2000 });
  t.pass('client connections closed');
});

t.test('--watch not on a terminal: frames separated by a blank line, survives the daemon going away, exits 0 on SIGTERM', async (t) => {
  const d = await fakeDaemon(t, STATUS);
  const c = spawnStatus(t, ['--watch', '--interval', '100', '--socket', d.path]);
  await outputUntil(c, 'two frames', (out) => out.split('\n\n').length >= 3);
  const frames = c.out().split('\n\n').slice(0, 2);
  for (const f of frames) {
    t.match(f, /^WORKSPACE /);
    t.match(f, /\ndaemon pid 99, /);
  }
  t.notMatch(c.out(), /\x1b/, 'no escape codes in a pipe');

  await d.close();
  await outputUntil(c, 'the no-daemon frame', (out) => out.includes(`\n\nwarren: ${NO_DAEMON(d.path)}\n`));
  t.equal(c.child.exitCode, null, 'still watching');

  c.child.kill('SIGTERM');
  const r = await c.exited;
  t.same(r, { code: 0, signal: null });
  t.equal(c.err(), '');
});

t.test('--watch on a terminal redraws in place and gives the cursor back', async (t) => {
  const d = await fakeDaemon(t, STATUS);
  const stop = new AbortController();
  const io = capture({ tty: true, signal: stop.signal });
  const before = process.listenerCount('SIGINT');
  const running = statusCommand(['--watch=0.1', '--socket', d.path], io);
  await waitFor('two frames', () => io.stdout().split('\x1b[H\x1b[2J').length >= 3);
  stop.abort();
  t.equal(await running, 0);
  const out = io.stdout();
  t.ok(out.startsWith('\x1b[?25l'), 'cursor hidden first');
  t.ok(out.endsWith('\x1b[?25h'), 'cursor shown last');
  const frame = out.split('\x1b[H\x1b[2J')[1]!;
  t.match(frame, /^warren status, every 0.1s, at \d\d:\d\d:\d\d \(Ctrl-C quits\)\n\nWORKSPACE /);
  t.equal(process.listenerCount('SIGINT'), before, 'signal handlers removed');
});

t.test('--watch --json in a pipe: JSON frames on stdout, errors on stderr', async (t) => {
  const d = await fakeDaemon(t, STATUS);
  const stop = new AbortController();
  const io = capture({ signal: stop.signal });
  const running = statusCommand(['--watch', '--json', '--interval', '100', '--socket', d.path], io);
  await waitFor('two frames', () => io.stdout().split('\n\n').length >= 2);
  await d.close();
  await waitFor('the no-daemon error', () => io.stderr().includes(NO_DAEMON(d.path)));
  stop.abort();
  t.equal(await running, 0);
  const frames = io.stdout().trimEnd().split('\n\n');
  for (const f of frames) t.same(JSON.parse(f), STATUS);
});

t.test('the default socket path', async (t) => {
  t.equal(defaultSocketPath({ WARREN_SOCKET: '/x/w.sock', XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/x/w.sock');
  t.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/warren.sock');
  t.equal(defaultSocketPath({}, 0), '/run/warren/warren.sock');
  t.equal(defaultSocketPath({}, 1000), '/tmp/warren-1000/warren.sock');
});
