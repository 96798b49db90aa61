// The fallback for machines without root or namespaces: sshd on a 127.0.0.1 port as
// the workspace user. Forced here as root, and run for real as an unprivileged user.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createWorkspace, run, runOk, opencodeBinary } from '../container/testbed/index.js';
import { sshHandshake } from './helpers/net.js';

const repo = path.resolve(import.meta.dirname, '..', '..');

t.test('loopback mode: login, opencode and a clean teardown', async (t) => {
  const ws = await createWorkspace({ name: 'lo', mode: 'loopback' });
  t.teardown(() => ws.close());
  t.equal(ws.isolated, false, 'says plainly that isolation is weaker');
  t.equal(ws.host, '127.0.0.1');
  const hs = await sshHandshake(ws);
  t.equal(hs.fingerprint, ws.hostKeyFingerprint, 'advertised host key');
  t.ok(hs.authenticated, 'client key logs in');
  const r = await run(ws.sshArgv(['sh', '-c', 'cd ~/projects && opencode run "loopback hello"']), { timeoutMs: 90_000 });
  t.equal(r.code, 0, `opencode run exits 0 ${r.stderr.slice(-200)}`);
  t.match(r.stdout, 'echo: ');
  t.match(r.stdout, 'loopback hello');
  await ws.close();
  t.same(ws.leftovers(), [], 'nothing left');
});

const isRoot = process.getuid?.() === 0;
t.test('an unprivileged user gets a working workspace without root', { skip: !isRoot && 'needs root to create the unprivileged user' }, async (t) => {
  const user = `wtbdev${process.pid % 100000}`;
  const home = `/tmp/${user}-home`;
  await runOk(['useradd', '--home-dir', home, '--create-home', '--shell', '/bin/bash', user]);
  const uid = Number((await runOk(['id', '-u', user])).stdout.trim());
  t.teardown(async () => {
    await run(['pkill', '-KILL', '-u', user]);
    await run(['userdel', user]);
    fs.rmSync(home, { recursive: true, force: true });
  });
  const readable = await run(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'test', '-r', path.join(repo, 'dist', 'container', 'testbed', 'index.js')]);
  if (readable.code !== 0) {
    t.pass(`skipped: the checkout at ${repo} is not readable by other users`);
    return;
  }
  // A root workspace alongside: the unprivileged user's slots are numbered from 0 in
  // its own registry, and must never touch root's namespace or user of the same number.
  const neighbour = await createWorkspace({ name: 'neighbour' });
  t.teardown(() => neighbour.close());
  const testbed = pathToFileURL(path.join(repo, 'dist', 'container', 'testbed', 'index.js')).href;
  const script = `
    import { createWorkspace, run } from ${JSON.stringify(testbed)};
    const ws = await createWorkspace({ name: 'unpriv', slot: ${neighbour.slot} });
    console.log(JSON.stringify({ slot: ws.slot }));
    try {
      const r = await run(ws.sshArgv(['sh', '-c', 'id -un; cd ~/projects && opencode run "unprivileged hello"']), { timeoutMs: 90000 });
      console.log(JSON.stringify({ mode: ws.mode, isolated: ws.isolated, code: r.code, out: r.stdout, err: r.stderr }));
    } finally { await ws.close(); console.log(JSON.stringify({ leftovers: ws.leftovers() })); }`;
  // The machine's pinned opencode (world-readable): no second download as this user.
  const bin = await opencodeBinary();
  const r = await run(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'env', '-i', `HOME=${home}`, `PATH=${process.env.PATH}`,
    `WARREN_OPENCODE_BIN=${bin}`,
    process.execPath, '--input-type=module', '-e', script], { timeoutMs: 120_000, cwd: home });
  t.equal(r.code, 0, `the unprivileged run exits 0 ${r.stderr.slice(-300)}`);
  const [slot, first, second] = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(slot, { slot: neighbour.slot }, 'the unprivileged workspace had the same slot number as root\'s');
  t.match(first, { mode: 'loopback', isolated: false, code: 0 });
  t.match(String(first?.out), user, 'logged in as that user');
  t.match(String(first?.out), 'unprivileged hello', 'opencode answered through the fake model');
  t.match(r.stderr, /isolation is weaker/, 'says plainly that isolation is weaker');
  t.same(second, { leftovers: [] }, 'nothing left');
  t.same(neighbour.leftovers().filter((l) => /namespace|veth|user wtb/.test(l)).length, neighbour.isolated ? 3 : 1,
    "root's workspace of the same number still has its namespace, veth and user");
  const login = await run(neighbour.sshArgv(['true']));
  t.equal(login.code, 0, "and root's workspace still answers");
});
