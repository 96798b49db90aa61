// Security controls end to end, on real workspaces:
// - no secret (gateway token, opencode passwords, the client key) in any log line,
//   output, HTTP answer, error, status, or command line on the host or in the
//   workspace, across good runs and failures (wrong token, bad ids, a killed server,
//   a dropped link), with debug logging on;
// - the daemon listens on loopback TCP and its unix socket only, and a unix-socket
//   gateway is 0600 in a 0700 directory and still wants the token;
// - a client key restricted to `restrict,port-forwarding,permitopen="127.0.0.1:4096"`
//   still does all warren needs (start opencode, chat) and no other forward.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { Broker } from '../src/broker/broker.js';
import { validateConfig } from '../src/config/index.js';
import { startGateway } from '../src/gateway/server.js';
import { silentLogger } from '../src/log.js';
import { readEvents, startDaemon } from './helpers/daemon.js';
import { configFile, runtimeFor } from './helpers/runtime.js';

const [ws, restricted] = await createWorkspaces(2, { namePrefix: 'sec' });
t.teardown(() => Promise.all([ws!.close(), restricted!.close()]));
const W = ws!.name;
const warren = (args: string[], timeoutMs = 60_000) => run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs, env: { ...process.env, WARREN_LOG_LEVEL: 'debug' } });
const readPassword = async () => (await ws!.runAsUser(['sh', '-c', 'cat "${XDG_STATE_HOME:-$HOME/.local/state}/warren/opencode-4096.password"'])).stdout.trim();

async function tunnelState(base: string, headers: Record<string, string>): Promise<string> {
  const s = await (await fetch(`${base}/v1/workspaces`, { headers })).json() as { workspaces: Array<{ tunnel: { state: string } }> };
  return s.workspaces[0]!.tunnel.state;
}

t.test('no secret in any log, output, answer, status or command line', async (t) => {
  const d = await startDaemon(t, [ws!]);
  const cfg = configFile(t, [ws!]);
  const seen: Array<[string, string]> = [];
  const keep = (label: string, text: string) => { seen.push([label, text]); };
  const json = { 'content-type': 'application/json' };
  const gw = async (label: string, path: string, init: RequestInit = {}) => {
    const r = await fetch(`${d.base}${path}`, { ...init, headers: { ...d.headers(json), ...(init.headers as Record<string, string> ?? {}) } });
    keep(label, `${r.status} ${JSON.stringify([...r.headers])} ${await r.text()}`);
    return r;
  };
  const processLists = async (label: string) => {
    keep(`${label}: host ps`, (await run(['ps', '-eo', 'args'])).stdout);
    keep(`${label}: workspace ps`, (await ws!.runInside(['ps', '-eo', 'args'])).stdout);
  };

  const created = await fetch(`${d.base}/v1/workspaces/${W}/sessions`, { method: 'POST', headers: d.headers(json), body: '{"title":"secrets"}' });
  const session = (await created.json() as { id: string }).id;
  // A slow reply, so the command lines are read while everything is running.
  const res = await fetch(`${d.base}/v1/workspaces/${W}/sessions/${session}/messages`, { method: 'POST', headers: d.headers(json), body: JSON.stringify({ text: `[[fake:slow=100]] ${'streaming '.repeat(15)}` }) });
  let deltas = 0;
  const streamed = readEvents(res, (e) => { if (e.event === 'text') deltas++; });
  await waitFor('the reply to stream', () => deltas >= 2, { timeoutMs: 30_000 });
  await processLists('during a gateway message');
  keep('daemon environment', fs.readFileSync(`/proc/${d.child.pid}/environ`, 'utf8'));
  keep('gateway stream', JSON.stringify(await streamed));
  const firstPassword = await readPassword();

  // The CLI alongside the daemon (it adopts the server), with debug logging.
  const cli = spawn(process.execPath, ['dist/src/cli/main.js', 'chat', W, '--config', cfg, '--session', session, `[[fake:slow=100]] ${'from the cli '.repeat(10)}`], { env: { ...process.env, WARREN_LOG_LEVEL: 'debug' } });
  let cliOut = '';
  cli.stdout.on('data', (c: Buffer) => { cliOut += c.toString(); });
  cli.stderr.on('data', (c: Buffer) => { cliOut += c.toString(); });
  const cliDone = new Promise<number | null>((resolve) => cli.on('close', resolve));
  t.teardown(() => { cli.kill('SIGKILL'); });
  await waitFor('the CLI to stream', () => cliOut.includes('echo:'), { timeoutMs: 30_000 });
  await processLists('during a CLI chat');
  t.equal(await cliDone, 0, cliOut.slice(-300));
  keep('CLI chat', cliOut);

  for (const args of [['status', '--json'], ['status']]) {
    const r = await warren([...args, '--socket', d.socket]);
    keep(`warren ${args.join(' ')}`, r.stdout + r.stderr);
  }
  // Failures, each with its answer kept.
  t.equal((await gw('wrong token', '/v1/workspaces', { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.equal((await gw('token as Basic', '/v1/workspaces', { headers: { authorization: `Basic ${d.token}` } })).status, 401);
  t.equal((await gw('bad session id', `/v1/workspaces/${W}/sessions/ses_$(id)/messages`, { method: 'POST', body: '{"text":"x"}' })).status, 400);
  t.equal((await gw('unknown session', `/v1/workspaces/${W}/sessions/ses_0123456789abABCDEFGHIJKLMN/messages`, { method: 'POST', body: '{"text":"x"}' })).status, 404);
  t.equal((await gw('bad json', `/v1/workspaces/${W}/sessions`, { method: 'POST', body: '{"directory":' })).status, 400);
  t.equal((await gw('pass-through 404', `/v1/workspaces/${W}/opencode/session/ses_0123456789abABCDEFGHIJKLMN`)).status, 404);
  const bad = await warren(['chat', W, '--config', cfg, '--session', 'ses_nope', 'x']);
  keep('CLI bad session', bad.stdout + bad.stderr);
  // A killed server: the next message starts a new one, with a new password.
  await ws!.runAsUser(['pkill', '-KILL', '-u', ws!.user, '-f', 'opencode serve']);
  await waitFor('nothing listening on the port', async () => (await ws!.runInside(['ss', '-ltnH', 'sport = :4096'])).stdout.trim() === '', { timeoutMs: 10_000 });
  // The first request notices (502, "starts again on the next message"); never a 500.
  const noticed = await gw('message right after the server was killed', `/v1/workspaces/${W}/sessions/${session}/messages`, { method: 'POST', body: '{"text":"after the kill"}' });
  t.ok(noticed.status === 200 || noticed.status === 502, `200 or 502, got ${noticed.status}`);
  const againRes = await fetch(`${d.base}/v1/workspaces/${W}/sessions/${session}/messages`, { method: 'POST', headers: d.headers(json), body: '{"text":"again"}' });
  t.equal(againRes.status, 200, 'the next message gets a new server');
  keep('message on the new server', JSON.stringify(await readEvents(againRes)));
  const secondPassword = await readPassword();
  // The link down and back.
  await ws!.killSshd();
  await waitFor('the tunnel to go down', async () => (await tunnelState(d.base, d.headers())) !== 'up', { timeoutMs: 15_000 });
  t.equal((await gw('link down', `/v1/workspaces/${W}/sessions`)).status, 503);
  const down = await warren(['status', '--json', '--socket', d.socket]);
  keep('status with the link down', down.stdout + down.stderr);
  await ws!.startSshd();
  await waitFor('the tunnel back up', async () => (await tunnelState(d.base, d.headers())) === 'up', { timeoutMs: 30_000 });

  keep('daemon log', d.log());
  keep('opencode log in the workspace', (await ws!.runAsUser(['sh', '-c', 'cat "${XDG_STATE_HOME:-$HOME/.local/state}"/warren/*.log'])).stdout);
  keep('sshd log', fs.readFileSync(path.join(ws!.dir, 'sshd.log'), 'utf8'));
  keep('fake model log', fs.existsSync(ws!.modelLogPath) ? fs.readFileSync(ws!.modelLogPath, 'utf8') : '');

  t.ok(firstPassword.length >= 32 && secondPassword.length >= 32, 'both passwords were read from their state files');
  t.not(firstPassword, secondPassword, 'a restarted server has a new password');
  const keyLines = fs.readFileSync(ws!.privateKeyPath, 'utf8').split('\n').filter((l) => l.length >= 20 && !l.startsWith('-----'));
  t.ok(keyLines.length > 0);
  const secrets: Record<string, string> = {
    'gateway token': d.token!,
    'first opencode password': firstPassword,
    'second opencode password': secondPassword,
    'first Basic credentials': Buffer.from(`opencode:${firstPassword}`).toString('base64'),
    'second Basic credentials': Buffer.from(`opencode:${secondPassword}`).toString('base64'),
    ...Object.fromEntries(keyLines.map((l, i) => [`private key line ${i + 1}`, l])),
  };
  const leaks = seen.flatMap(([label, text]) => Object.entries(secrets).filter(([, v]) => text.includes(v)).map(([name]) => `${name} in ${label}`));
  t.same(leaks, [], `none of ${Object.keys(secrets).length} secrets in ${seen.length} outputs (${Math.round(seen.reduce((n, [, s]) => n + s.length, 0) / 1024)} KiB)`);
  t.match(d.log(), /"level":20/, 'the daemon log was at debug level');
});

function listeners(pid: number): { tcp: string[]; udp: string[]; unix: string[] } {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const rows = (file: string) => fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((c) => c.length > 9);
  const ipv4 = (hex: string) => hex.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join('.');
  const tcp = ['tcp', 'tcp6'].flatMap((f) => rows(f).filter((c) => c[3] === '0A' && inodes.has(c[9]!)).map((c) => {
    const [addr, port] = c[1]!.split(':');
    return `${addr!.length === 8 ? ipv4(addr!) : addr === '00000000000000000000000001000000' ? '::1' : `[${addr}]`}:${parseInt(port!, 16)}`;
  }));
  const udp = ['udp', 'udp6'].flatMap((f) => rows(f).filter((c) => inodes.has(c[9]!)).map((c) => c[1]!));
  const unix = fs.readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 8 && c[3] === '00010000' && inodes.has(c[6]!)).map((c) => c[7]!);
  return { tcp, udp, unix };
}

t.test('the daemon listens on loopback TCP and its own unix socket, nothing else', async (t) => {
  const d = await startDaemon(t, [ws!]);
  // Exercise it first: sockets made on demand (forwards, the opencode dispatcher) must not listen either.
  const s = await (await fetch(`${d.base}/v1/workspaces/${W}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' })).json() as { id: string };
  await readEvents(await fetch(`${d.base}/v1/workspaces/${W}/sessions/${s.id}/messages`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{"text":"hi"}' }));
  const l = listeners(d.child.pid!);
  t.same(l.tcp, [`127.0.0.1:${new URL(d.base).port}`], 'one TCP listener: the gateway, on loopback');
  t.same(l.unix, [d.socket], 'one unix listener: the control socket');
  t.same(l.udp, [], 'no UDP socket');
});

t.test('a gateway on a unix socket: 0600 in a 0700 directory, and the token is still required', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-gwsock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'run', 'gateway.sock');
  const config = validateConfig({ workspaces: { [W]: { host: ws!.host, port: ws!.port, user: ws!.user, privateKeyPath: ws!.privateKeyPath, hostKeyFingerprint: ws!.hostKeyFingerprint } } }, { baseDir: dir, path: null });
  const broker = new Broker(config);
  t.teardown(() => broker.close());
  const token = 'a-token-for-the-unix-gateway-42';
  const gateway = await startGateway(broker, { listen: sock, token, logger: silentLogger });
  t.teardown(() => gateway.close());
  t.equal(fs.statSync(sock).mode & 0o777, 0o600, 'socket 0600');
  t.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700, 'its directory 0700');
  const get = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    http.get({ socketPath: sock, path: '/v1/workspaces', headers }, (r) => { r.resume(); resolve(r.statusCode!); }).on('error', reject);
  });
  t.equal(await get({}), 401, 'no token: 401 on the socket too');
  t.equal(await get({ authorization: `Bearer ${token}` }), 200);
  // No name resolves to a socket, so no Host is a rebinding there; a browser's cross-site request still is refused.
  t.equal(await get({ authorization: `Bearer ${token}`, host: 'anything.example' }), 200, 'any Host on the socket');
  t.equal(await get({ authorization: `Bearer ${token}`, origin: 'https://evil.example' }), 403, 'a foreign Origin: 403 on the socket too');
});

t.test('a key restricted to opencode\'s port: warren works through it, other forwards are refused', async (t: Test) => {
  const ak = path.join(restricted!.home, '.ssh', 'authorized_keys');
  const original = fs.readFileSync(ak, 'utf8');
  t.teardown(() => fs.writeFileSync(ak, original));
  fs.writeFileSync(ak, `restrict,port-forwarding,permitopen="127.0.0.1:4096" ${original.trim()}\n`);
  const rt = runtimeFor(t, restricted!);
  await rt.link.waitForUp(15_000);
  const session = await rt.createSession({ title: 'restricted' });
  t.equal(rt.server.snapshot().startedHere, true, 'opencode started over exec');
  const r = await rt.chat(session.id, { text: 'through a restricted key' });
  t.equal(r.text, 'echo: through a restricted key', 'and a full message round trip through the permitted forward');
  const others: Array<[string, number]> = [['127.0.0.1', 22], ['127.0.0.1', 4097], ['localhost', 4096], [restricted!.host, 22]];
  if (restricted!.modelPort) others.push(['127.0.0.1', restricted!.modelPort]);
  for (const [host, port] of others) {
    await t.rejects(rt.link.openChannel(host, port), { code: 'WARREN_ERR_CHANNEL_PROHIBITED' }, `${host}:${port} is refused`);
  }
  t.equal(rt.link.state, 'up', 'the refusals leave the link up');
  t.equal((await rt.link.exec(['true'])).code, 0, 'and exec still works');
});
