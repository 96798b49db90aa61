// The workspace test bed: what a client sees of one workspace, and that it leaves nothing behind.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkspace, run, runOk, fingerprintOfPublicKey, opencodeVersion } from '../container/testbed/index.js';
import { sshHandshake } from './helpers/net.js';

t.test('a workspace', async (t) => {
  const ws = await createWorkspace({ name: 'alpha' });
  t.teardown(() => ws.close());

  t.test('sshd answers with the advertised host key, the same one ssh-keygen reports', async (t) => {
    const keyscan = await runOk(['ssh-keyscan', '-T', '5', '-t', 'ed25519', '-p', String(ws.port), ws.host]);
    const line = keyscan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
    t.ok(line, 'ssh-keyscan saw an ed25519 host key');
    const served = fingerprintOfPublicKey(line!.split(' ').slice(1).join(' '));
    t.equal(served, ws.hostKeyFingerprint, 'served key matches the advertised fingerprint');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyscan-'));
    t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
    fs.writeFileSync(path.join(tmp, 'k.pub'), `${line!.split(' ').slice(1).join(' ')}\n`);
    const lf = await runOk(['ssh-keygen', '-lf', path.join(tmp, 'k.pub')]);
    t.equal(lf.stdout.split(' ')[1], ws.hostKeyFingerprint, 'ssh-keygen -lf prints the same fingerprint');
    const hs = await sshHandshake(ws);
    t.equal(hs.fingerprint, ws.hostKeyFingerprint, 'ssh2 sees the same host key');
    t.ok(hs.authenticated, 'and logs in with the client key');
  });

  t.test('login works with the client key and fails with any other', async (t) => {
    const ok = await run(ws.sshArgv(['id', '-un']));
    t.equal(ok.code, 0, `ssh with the client key exits 0 ${ok.stderr}`);
    t.equal(ok.stdout.trim(), ws.user);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otherkey-'));
    t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
    await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id')]);
    const other = await sshHandshake({ ...ws, privateKeyPath: path.join(tmp, 'id') });
    t.notOk(other.authenticated, 'another key is refused');
    t.match(other.error, /authentication/i);
    const bad = await run(ws.sshArgv(['id', '-un']).map((a) => (a === ws.privateKeyPath ? path.join(tmp, 'id') : a)));
    t.equal(bad.code, 255);
    t.match(bad.stderr, /Permission denied/);
  });

  t.test('the shipped sshd_config forwards to the workspace loopback only, and gives no TTY', async (t) => {
    // -W asks sshd for a direct-tcpip channel, as warren does; PermitOpen allows 127.0.0.1 only.
    const ok = await run(ws.sshArgv([], ['-W', `127.0.0.1:${ws.modelPort}`]), { input: 'GET /v1/models HTTP/1.0\r\n\r\n', timeoutMs: 15_000 });
    t.match(ok.stdout, /fake-model/, 'a forward to 127.0.0.1 inside the workspace works');
    const denied = await run(ws.sshArgv([], ['-W', `${ws.host}:${ws.port}`]), { timeoutMs: 15_000 });
    t.not(denied.code, 0, 'a forward to any other address is refused');
    t.match(denied.stderr, /forwarding failed|prohibited|open failed/);
    const tty = await run(ws.sshArgv(['true'], ['-tt']));
    t.match(tty.stderr, /PTY allocation request failed/, 'no TTY');
  });

  t.test('opencode run as the workspace user gets the fake model\'s echo', async (t) => {
    const prompt = 'testbed says hello 42';
    const r = await run(ws.sshArgv(['sh', '-c', `mkdir -p ~/projects/one && cd ~/projects/one && opencode run "${prompt}"`]), { timeoutMs: 90_000 });
    t.equal(r.code, 0, `opencode run exits 0 ${r.stderr.slice(-200)}`);
    t.match(r.stdout, `echo: `);
    t.match(r.stdout, prompt);
    const log = fs.readFileSync(ws.modelLogPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; prompt: string });
    t.ok(log.some((e) => e.kind === 'chat' && e.prompt.includes(prompt)), 'the fake model answered that prompt');
    const version = await run(ws.sshArgv(['opencode', '--version']));
    t.equal(version.stdout.trim(), opencodeVersion(), 'the pinned opencode is on the user\'s PATH');
  });
});

t.test('close leaves no namespace, veth, process, user or directory behind', async (t) => {
  const ws = await createWorkspace({ name: 'gone' });
  // Something running as the user that the workspace did not start itself.
  const bg = await run(ws.sshArgv(['sh', '-c', 'nohup sleep 300 >/dev/null 2>&1 & echo started']));
  t.equal(bg.stdout.trim(), 'started');
  t.ok(ws.leftovers().length > 0, 'while up, there is something to clean');
  await ws.close();
  t.same(ws.leftovers(), [], 'nothing left');
  t.notOk(fs.existsSync(ws.dir), 'state directory removed');
  if (ws.netns) {
    const list = await runOk(['ip', 'netns', 'list']);
    t.notMatch(list.stdout, new RegExp(`^${ws.netns}\\b`, 'm'), 'namespace gone');
    t.notOk(fs.existsSync(`/sys/class/net/wtb${ws.slot}h`), 'veth gone');
    const pg = await run(['pgrep', '-u', String(ws.uid)]);
    t.equal(pg.stdout.trim(), '', 'no process of the workspace user');
    const id = await run(['id', ws.user]);
    t.not(id.code, 0, 'user removed');
  }
});

t.test('many workspaces at once: each its own host key and login, all gone after', async (t) => {
  const { createWorkspaces } = await import('../container/testbed/index.js');
  const wss = await createWorkspaces(12, { fakeModel: false, namePrefix: 'many' });
  t.teardown(() => Promise.all(wss.map((w) => w.close())));
  t.equal(new Set(wss.map((w) => w.hostKeyFingerprint)).size, 12, 'distinct host keys');
  t.equal(new Set(wss.map((w) => `${w.host}:${w.port}`)).size, 12, 'distinct addresses');
  const logins = await Promise.all(wss.map((w) => sshHandshake(w)));
  t.same(logins.map((l, i) => l.authenticated && l.fingerprint === wss[i]!.hostKeyFingerprint), wss.map(() => true), 'every one answers with its own key');
  await Promise.all(wss.map((w) => w.close()));
  t.same(wss.flatMap((w) => w.leftovers()), [], 'nothing left');
});
