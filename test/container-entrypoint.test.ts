// The image's entrypoint and sshd_config, run for real inside a workspace's
// namespace (Docker cannot run here): keys installed, fingerprint printed, and a
// key restricted with permitopen gets exactly the forwards it allows.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createWorkspace, run, runOk, waitFor, SSHD_CONFIG } from '../container/testbed/index.js';
import { sshHandshake } from './helpers/net.js';

const entrypoint = path.resolve(import.meta.dirname, '..', '..', 'container', 'entrypoint.sh');
const isRoot = process.getuid?.() === 0;

t.test('entrypoint', { skip: !isRoot && 'needs root for a namespace' }, async (t) => {
  const ws = await createWorkspace({ name: 'image' });
  t.teardown(() => ws.close());
  if (!ws.isolated) return t.plan(0, 'skipped: loopback mode');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entrypoint-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id')]);
  const pub = fs.readFileSync(path.join(tmp, 'id.pub'), 'utf8').trim();
  const env = (extra: Record<string, string>) => Object.entries({
    WARREN_WORKSPACE_USER: ws.user, WARREN_SSHD_CONFIG: SSHD_CONFIG, WARREN_CONF_DIR: path.join(tmp, 'conf'),
    WARREN_HOST_KEY: path.join(tmp, 'host_key'), PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...extra,
  }).map(([k, v]) => `${k}=${v}`);

  t.test('without an authorized key sshd starts and says how to add one, yet nobody logs in; a bad port is refused', async (t) => {
    fs.rmSync(path.join(ws.home, '.ssh', 'authorized_keys'), { force: true });
    const child = spawn('ip', ['netns', 'exec', ws.netns!, 'env', '-i', ...env({ WARREN_SSH_PORT: '2223' }), 'sh', entrypoint],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    t.teardown(() => { child.kill('SIGKILL'); });
    await waitFor('sshd on port 2223', () => /Server listening on .* port 2223/.test(out), { timeoutMs: 10_000 });
    t.match(out, /no authorized key yet: run warren add <name> --docker <this container>/);
    const hs = await sshHandshake({ host: ws.host, port: 2223, user: ws.user, privateKeyPath: path.join(tmp, 'id') });
    t.equal(hs.authenticated, false, 'no key logs in');
    const badPort = await ws.runInside(['env', '-i', ...env({ WARREN_SSH_PORT: '22; reboot' }), 'sh', entrypoint]);
    t.equal(badPort.code, 2);
    t.match(badPort.stderr, /WARREN_SSH_PORT must be a port number/);
  });

  t.test('serves the printed host key, and a permitopen key forwards to its one target only', async (t) => {
    const key = `restrict,port-forwarding,permitopen="127.0.0.1:${ws.modelPort}" ${pub}`;
    const child = spawn('ip', ['netns', 'exec', ws.netns!, 'env', '-i', ...env({ WARREN_SSH_PORT: '2222', WARREN_AUTHORIZED_KEY: key }), 'sh', entrypoint],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    t.teardown(() => { child.kill('SIGKILL'); });
    const fp = await waitFor('the entrypoint to print the host key', () => /host key (SHA256:\S+)/.exec(out)?.[1], { timeoutMs: 10_000 });
    await waitFor('sshd on port 2222', () => /Server listening on .* port 2222/.test(out), { timeoutMs: 10_000 });
    const hs = await sshHandshake({ host: ws.host, port: 2222, user: ws.user, privateKeyPath: path.join(tmp, 'id') });
    t.equal(hs.fingerprint, fp, 'sshd serves the fingerprint the entrypoint printed');
    t.ok(hs.authenticated, 'the authorized key logs in');
    // Log in with the entrypoint's key; the host key is new, so no known_hosts pinning here.
    const asEntrypointKey = (argv: string[]) => argv
      .map((a) => (a === ws.privateKeyPath ? path.join(tmp, 'id') : a))
      .map((a) => (a.startsWith('UserKnownHostsFile=') ? 'UserKnownHostsFile=/dev/null' : a))
      .map((a) => (a === 'StrictHostKeyChecking=yes' ? 'StrictHostKeyChecking=no' : a));
    const ssh = (target: string) => run(asEntrypointKey(ws.sshArgv([], ['-W', target, '-p', '2222'])),
      { input: 'GET /v1/models HTTP/1.0\r\n\r\n', timeoutMs: 15_000 });
    const allowed = await ssh(`127.0.0.1:${ws.modelPort}`);
    t.match(allowed.stdout, /fake-model/, 'the permitted target is reachable');
    const denied = await ssh('127.0.0.1:22');
    t.notMatch(denied.stdout, /SSH-2.0/, 'another loopback port is not');
    t.match(denied.stderr, /forwarding failed|prohibited|open failed/);
    const exec = await run(asEntrypointKey(ws.sshArgv(['id', '-un'], ['-p', '2222'])));
    t.equal(exec.stdout.trim(), ws.user, 'exec still works for the restricted key (warren starts opencode this way)');
  });
});
