// The SSH link against real sshd: host key pinning, auth failures with backoff,
// the two failure classes, exec, and failing fast while down.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkspace, run, runOk, waitFor } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';
import { linkTo, recordStates } from './helpers/link.js';

const ws = await createWorkspace({ name: 'linky' });
t.teardown(() => ws.close());

t.test('a host key other than the pinned one never connects, and says so', async (t) => {
  const wrong = 'SHA256:' + 'A'.repeat(43);
  const link = linkTo(t, ws, { hostKeyFingerprints: [wrong], backoff: { baseMs: 50, capMs: 200 } });
  const states = recordStates(link);
  const before = fs.readFileSync(path.join(ws.dir, 'sshd.log'), 'utf8').split('\n').length;
  link.start();
  await waitFor('two failed attempts', () => link.snapshot().failedAttempts >= 2, { timeoutMs: 10_000 });
  t.notOk(states.some((s) => s.to === 'up'), 'never up');
  t.equal(link.lastError?.code, 'WARREN_ERR_HOST_KEY_MISMATCH');
  t.match(link.lastError?.message, wrong, 'names the expected fingerprint');
  t.match(link.lastError?.message, ws.hostKeyFingerprint, 'and the one the server showed');
  t.match(link.lastError?.message, /update hostKeyFingerprint/, 'and what to do');
  const after = fs.readFileSync(path.join(ws.dir, 'sshd.log'), 'utf8').split('\n').slice(before - 1).join('\n');
  t.notMatch(after, /Accepted publickey/, 'no login happened: the key was refused before authentication');
  await t.rejects(link.exec(['true']), { code: 'WARREN_ERR_LINK_DOWN' }, 'work fails at once');
});

t.test('a malformed fingerprint is refused before anything connects', async (t) => {
  t.throws(() => new Link({ name: 'x', user: 'u', transport: { kind: 'tcp', host: ws.host, port: ws.port },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: ['md5:aa:bb'] }), { code: 'WARREN_ERR_HOST_KEY_FORMAT', exitCode: 2, message: /each a SHA256 fingerprint/ });
  t.throws(() => new Link({ name: 'x', user: 'u', transport: { kind: 'tcp', host: ws.host, port: ws.port },
    privateKeyPath: '/nonexistent/key', hostKeyFingerprints: [ws.hostKeyFingerprint] }), { code: 'WARREN_ERR_KEY_READ', message: /no such file/ });
});

t.test('a wrong client key: a clear auth error, and backoff instead of a hot loop', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wrongkey-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id')]);
  const link = linkTo(t, ws, { privateKeyPath: path.join(tmp, 'id'), backoff: { baseMs: 100, capMs: 2000, gateMs: 10_000 } });
  const states = recordStates(link);
  link.start();
  await waitFor('the first failure', () => link.lastError, { timeoutMs: 10_000 });
  t.equal(link.lastError?.code, 'WARREN_ERR_AUTH');
  t.match(link.lastError?.message, `as ${ws.user}`);
  t.match(link.lastError?.message, /check privateKeyPath/);
  const started = Date.now();
  await waitFor('3 s of retrying', () => Date.now() - started >= 3000 || undefined, { timeoutMs: 5000, intervalMs: 100 });
  const attempts = link.snapshot().failedAttempts;
  // Full jitter under ceilings 100, 200, 400, 800, 1600, 2000 ms: a hot loop would make hundreds.
  t.ok(attempts >= 2 && attempts <= 12, `${attempts} attempts in about 3 s`);
  // Between two attempts (during one, on a loaded machine, the state is 'connecting').
  await waitFor('a pause between attempts', () => link.state === 'down' || undefined, { timeoutMs: 5000, intervalMs: 10 });
  t.ok(link.snapshot().nextAttemptAt, 'status shows when the next attempt is due');
  t.notOk(states.some((s) => s.to === 'up'), 'never up');
});

t.test('up: exec, channels, and the two failure classes', async (t) => {
  const link = linkTo(t, ws);
  const states = recordStates(link);
  link.start();
  await link.waitForUp(10_000);
  t.same(states.map((s) => s.to), ['connecting', 'up'], 'connecting, then up');

  t.test('exec quotes every argument and reports exit codes', async (t) => {
    const tricky = ["it's", '$(touch /tmp/warren-pwned)', '`id`', 'a;b', 'new\nline', '*'];
    const r = await link.exec(['printf', '%s\\0', ...tricky]);
    t.equal(r.code, 0);
    t.same(r.stdout.split('\0').slice(0, -1), tricky, 'arrived byte for byte');
    t.notOk(fs.existsSync('/tmp/warren-pwned'), 'nothing was interpreted');
    const fail = await link.exec(['sh', '-c', 'echo oops >&2; exit 3']);
    t.equal(fail.code, 3);
    t.equal(fail.stderr, 'oops\n');
    const stdin = await link.exec(['cat'], { stdin: 'secret goes on stdin' });
    t.equal(stdin.stdout, 'secret goes on stdin');
    await t.rejects(link.exec(['echo', 'a\0b']), { code: 'WARREN_ERR_UNQUOTABLE' });
  });

  t.test('exec deadline kills the remote process', async (t) => {
    const marker = `warren-deadline-${process.pid}`;
    const started = Date.now();
    await t.rejects(link.exec(['bash', '-c', 'exec -a "$0" sleep 60', marker], { timeoutMs: 700 }), { code: 'WARREN_ERR_EXEC_TIMEOUT' });
    t.ok(Date.now() - started < 2000, 'fails at its deadline');
    await waitFor('the remote process to be gone', async () => (await run(['pgrep', '-f', marker])).code === 1, { timeoutMs: 5000 });
    t.pass('no process left in the workspace');
  });

  t.test('more concurrent execs than sshd allows sessions all succeed', async (t) => {
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => link.exec(['echo', String(i)])));
    t.same(rs.map((r) => r.stdout.trim()), Array.from({ length: 40 }, (_, i) => String(i)));
  });

  t.test('nothing listening: that request fails, the link stays up', async (t) => {
    await t.rejects(link.openSocket('127.0.0.1', 1), { code: 'WARREN_ERR_CHANNEL_REFUSED', message: /nothing listens on 127.0.0.1:1/ });
    await t.rejects(link.openSocket('127.0.0.2', ws.port), { code: 'WARREN_ERR_CHANNEL_PROHIBITED', message: /PermitOpen/ });
    t.equal(link.state, 'up');
    const r = await link.exec(['true']);
    t.equal(r.code, 0, 'and keeps working');
  });

  t.test('figures', async (t) => {
    await waitFor('a keepalive round trip', () => link.snapshot().keepaliveRttMs !== null, { timeoutMs: 5000 });
    const s = link.snapshot();
    t.match(s, { name: ws.name, target: `${ws.user}@${ws.host}:${ws.port}`, state: 'up', reconnects: 0, openChannels: 0, lastError: null, nextAttemptAt: null });
    t.ok(s.keepaliveRttMs! > 0 && s.keepaliveRttMs! < 1000, `keepalive RTT ${s.keepaliveRttMs} ms`);
    t.ok(s.bytesIn > 0 && s.bytesOut > 0, 'bytes counted');
    t.equal(typeof s.nativeCrypto, 'boolean');
    t.ok(s.cipher, `cipher ${s.cipher}`);
    t.ok(s.uptimeMs! >= 0);
  });
});

t.test('while not up, new work fails at once unless asked to wait', async (t) => {
  const link = linkTo(t, ws);
  const started = Date.now();
  await t.rejects(link.exec(['true']), { code: 'WARREN_ERR_LINK_DOWN' }, 'before start');
  link.start();
  await t.rejects(link.openSocket('127.0.0.1', ws.modelPort!), { code: 'WARREN_ERR_LINK_DOWN' }, 'while connecting');
  t.ok(Date.now() - started < 1000, `without waiting (${Date.now() - started} ms)`);
  const r = await link.exec(['echo', 'waited'], { waitForUpMs: 10_000 });
  t.equal(r.stdout, 'waited\n', 'waitForUpMs waits for up');
  await link.close();
  await t.rejects(link.exec(['true'], { waitForUpMs: 1000 }), { code: 'WARREN_ERR_LINK_CLOSED' });
  t.equal(link.state, 'stopped');
});
