// Isolation: from the host only sshd is reachable, and workspaces do not see each other.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createWorkspaces, waitFor } from '../container/testbed/index.js';
import { openPorts, probeTcp, sshHandshake } from './helpers/net.js';

const wss = await createWorkspaces(2, { namePrefix: 'iso' });
t.teardown(() => Promise.all(wss.map((w) => w.close())));
const [a, b] = wss as [typeof wss[0], typeof wss[0]];

t.test('from the host only sshd is reachable, even with opencode serving inside', { skip: !a.isolated && 'workspaces are not isolated in loopback mode' }, async (t) => {
  const serve = spawn(a.sshArgv(['opencode', 'serve', '--port', '4096', '--hostname', '127.0.0.1'])[0]!,
    a.sshArgv(['opencode', 'serve', '--port', '4096', '--hostname', '127.0.0.1']).slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  serve.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  t.teardown(async () => {
    serve.kill('SIGKILL');
    await a.runAsUser(['pkill', '-f', 'opencode serve']);
  });
  await waitFor('opencode serve to listen inside the workspace', () => out.includes('listening on http://127.0.0.1:4096'), { timeoutMs: 30_000 });
  const inside = await a.runInside([process.execPath, '-e',
    'fetch("http://127.0.0.1:4096/global/health").then(r=>r.text()).then(console.log)']);
  t.match(inside.stdout, /"healthy":true/, 'opencode answers on the workspace loopback');
  const model = await a.runInside([process.execPath, '-e',
    `fetch("http://127.0.0.1:${a.modelPort}/v1/models").then(r=>r.text()).then(console.log)`]);
  t.match(model.stdout, /fake-model/, 'the fake model answers on the workspace loopback');

  t.same(await openPorts(a.host), [22], 'a scan of every TCP port of the workspace address finds only sshd');
  for (const port of [4096, a.modelPort!]) {
    t.not(await probeTcp(a.host, port), 'open', `port ${port} is not reachable on the workspace address`);
    const onHost = await fetch(`http://127.0.0.1:${port}/global/health`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.text(), (err: Error) => err.message);
    t.notMatch(onHost, /healthy|fake-model/, `the host's own 127.0.0.1:${port} is not the workspace's`);
  }
});

t.test('two workspaces side by side do not see each other', { skip: !a.isolated && 'workspaces are not isolated in loopback mode' }, async (t) => {
  const probe = (host: string, port: number) => a.runInside([process.execPath, '-e', `
    const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
    s.setTimeout(2000, () => { console.log('timeout'); process.exit(0); });
    s.on('connect', () => { console.log('open'); process.exit(0); });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });`]);
  t.equal((await probe(a.host, 22)).stdout.trim(), 'open', 'a workspace reaches its own sshd');
  t.equal((await probe('127.0.0.1', 22)).stdout.trim(), 'ECONNREFUSED', 'sshd listens on the veth address only, not on loopback');
  const other = (await probe(b.host, 22)).stdout.trim();
  t.not(other, 'open', `A cannot reach B's sshd (${other})`);
  const bHostSide = b.host.replace(/\d+$/, (d) => String(Number(d) - 1));
  t.not((await probe(bHostSide, 22)).stdout.trim(), 'open', "nor the host side of B's link");
  const read = await a.runAsUser(['ls', b.home]);
  t.not(read.code, 0, "A's user cannot read B's home");
  t.match(read.stderr, /Permission denied/);
  const cross = await sshHandshake({ ...b, privateKeyPath: a.privateKeyPath });
  t.notOk(cross.authenticated, "A's key does not log into B");
});
