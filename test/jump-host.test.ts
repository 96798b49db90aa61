// Workspaces behind one jump host, through the config an operator writes: one SSH
// connection to the jump host's sshd carries them all; a message works on each;
// killing that sshd drops them all and they come back by themselves once it is
// back, still over one connection; `warren check` proves the jump hop first; and a
// reload that stops using the jump host closes its connection.
import t from 'tap';
import fs from 'node:fs';
import { createJumpHost, createWorkspaces, run, waitFor } from '../container/testbed/index.js';
import { readEvents, startDaemon, type RunningDaemon } from './helpers/daemon.js';

const isolated = process.getuid?.() === 0;
t.plan(1);
t.test('two workspaces behind one jump host', { skip: !isolated && 'needs root: the jump host is an sshd in the host namespace' }, async (t) => {
  const [jump, wss] = await Promise.all([createJumpHost({ name: 'jump-bastion' }), createWorkspaces(2, { namePrefix: 'jump' })]);
  t.teardown(async () => {
    await Promise.all(wss.map((w) => w.close()));
    await jump.close();
  });
  const jumpHosts = { bastion: { host: jump.host, port: jump.port, user: jump.user, privateKeyPath: jump.privateKeyPath, hostKeyFingerprint: jump.hostKeyFingerprint } };
  const d = await startDaemon(t, wss, { workspace: { transport: { kind: 'jump', via: 'bastion' } }, config: { jumpHosts } });
  const warren = (...args: string[]) => run([process.execPath, 'dist/src/cli/main.js', ...args], { timeoutMs: 60_000 });
  const statusOf = async () => (await (await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() })).json()) as {
    workspaces: Array<{ name: string; target: string; tunnel: { state: string }; via: { name: string; state: string } | null }>;
  };
  const logins = () => jump.logLines(/Accepted publickey for /);

  await t.test('one connection to the jump host carries both, and status says so', async (t) => {
    t.equal(await jump.connections(), 1, 'one TCP connection to the jump sshd');
    t.equal(logins(), 1, 'one login in its log');
    const s = await statusOf();
    for (const w of s.workspaces) {
      t.equal(w.tunnel.state, 'up');
      t.match(w.target, new RegExp(`@${w.name === wss[0]!.name ? wss[0]!.host : wss[1]!.host}:22 via bastion$`), 'the route in the target');
      t.same(w.via && { name: w.via.name, state: w.via.state }, { name: 'bastion', state: 'up' });
    }
    const table = await warren('status', '--socket', d.socket);
    t.match(table.stdout, /up via bastion/, 'the table shows the route');
  });

  await t.test('a message through the gateway works on each', async (t) => {
    await Promise.all(wss.map(async (w) => {
      const created = await fetch(`${d.base}/v1/workspaces/${w.name}/sessions`, { method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: '{}' });
      t.equal(created.status, 201, `${w.name}: session created`);
      const { id } = await created.json() as { id: string };
      const res = await fetch(`${d.base}/v1/workspaces/${w.name}/sessions/${id}/messages`, {
        method: 'POST', headers: d.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ text: 'hello through the bastion' }),
      });
      const events = await readEvents(res);
      const last = events.at(-1);
      t.equal(last?.event, 'done', `${w.name}: the reply finished (${JSON.stringify(last?.data)})`);
      t.ok(String(last?.data.text ?? '').length > 0, `${w.name}: with text`);
    }));
  });

  await t.test('the jump sshd killed: all down; restarted: all up again by themselves, one connection at a time', async (t) => {
    await jump.killSshd();
    await waitFor('both tunnels to notice', async () => (await statusOf()).workspaces.every((w) => w.tunnel.state !== 'up'), { timeoutMs: 15_000 });
    await jump.startSshd();
    let most = 0;
    await waitFor('both tunnels up again', async () => {
      most = Math.max(most, await jump.connections());
      return (await statusOf()).workspaces.every((w) => w.tunnel.state === 'up');
    }, { timeoutMs: 30_000 });
    t.ok(most <= 1, `never more than one connection to the jump sshd while they came back (most: ${most})`);
    t.equal(await jump.connections(), 1, 'one connection now');
    t.equal(logins(), 2, 'one more login, not one per workspace');
    t.equal(jump.logLines(/MaxStartups/), 0, 'nothing throttled');
  });

  await t.test('warren check proves the jump hop before the workspace\'s own steps', async (t) => {
    const r = await warren('check', '--config', d.configPath, wss[0]!.name);
    t.equal(r.code, 0, r.stdout + r.stderr);
    const steps = r.stdout.split('\n').filter((l) => l.startsWith('  ok   ')).map((l) => l.slice(7, 19).trim());
    t.same(steps.slice(0, 5), ['via reach', 'via hostkey', 'via auth', 'via forward', 'reach sshd'], r.stdout);
    t.match(r.stdout, new RegExp(`${wss[0]!.name} \\(\\S+@${wss[0]!.host.replace(/\./g, '\\.')}:22 via bastion\\)`));
  });

  await t.test('a command without the daemon goes through the jump host too', async (t) => {
    const r = await warren('sessions', wss[0]!.name, '--json', '--config', d.configPath);
    t.equal(r.code, 0, r.stderr);
    t.ok(Array.isArray(JSON.parse(r.stdout)), 'the sessions, as JSON');
  });

  await t.test('a reload keeps the jump link while a workspace behind it stays, and closes it when none does', async (t) => {
    const before = logins();
    await reload(d, (c) => { delete c.workspaces[wss[1]!.name]; });
    t.equal(await jump.connections(), 1, 'still one connection');
    t.equal(logins(), before, 'no new login');
    await reload(d, (c) => {
      const w = c.workspaces[wss[0]!.name];
      w.transport = { kind: 'tcp' };
      delete c.jumpHosts;
    });
    await waitFor('the jump connection to close', async () => (await jump.connections()) === 0, { timeoutMs: 10_000 });
    const s = await statusOf();
    t.equal(s.workspaces[0]?.via, null, 'a direct workspace has no route');
    await waitFor('the workspace up directly', async () => (await statusOf()).workspaces[0]?.tunnel.state === 'up', { timeoutMs: 15_000 });
    t.pass('up without the jump host');
  });

  async function reload(dm: RunningDaemon, edit: (c: any) => void): Promise<void> {
    const c = JSON.parse(fs.readFileSync(dm.configPath, 'utf8'));
    edit(c);
    fs.writeFileSync(dm.configPath, JSON.stringify(c, null, 2));
    const r = await warren('reload', '--socket', dm.socket);
    if (r.code !== 0) throw new Error(`reload failed: ${r.stdout}${r.stderr}`);
  }
});
