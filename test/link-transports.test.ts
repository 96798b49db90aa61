// Other ways to reach sshd: a command's stdio (`docker exec -i CTR sshd -i` in
// production, `ip netns exec NS sshd -i` here: no network port at all), and a jump
// through another link's forwarded channel.
import t from 'tap';
import { createWorkspace } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';
import { linkTo, nextState } from './helpers/link.js';

const ws = await createWorkspace({ name: 'transports' });
t.teardown(() => ws.close());

t.test('stdio transport: SSH over sshd -i', async (t) => {
  const link = linkTo(t, ws, { transport: { kind: 'command', argv: ws.sshdInetdArgv() } });
  link.start();
  await link.waitForUp(10_000);
  t.match(link.target, /command /);
  const r = await link.exec(['id', '-un']);
  t.equal(r.stdout.trim(), ws.user, 'logged in as the workspace user');
  const sock = await link.openSocket('127.0.0.1', ws.modelPort!);
  sock.end('GET /v1/models HTTP/1.0\r\n\r\n');
  let body = '';
  for await (const chunk of sock) body += String(chunk);
  t.match(body, /fake-model/, 'forwards work over it');
});

t.test('stdio transport with a host key other than the pinned one never comes up', async (t) => {
  const link = linkTo(t, ws, { transport: { kind: 'command', argv: ws.sshdInetdArgv() }, hostKeyFingerprints: [`SHA256:${'B'.repeat(43)}`] });
  const down = nextState(link, 'down', 10_000);
  link.start();
  t.equal((await down).error?.code, 'WARREN_ERR_HOST_KEY_MISMATCH');
});

t.test('a command that cannot run is a clear connect error', async (t) => {
  const link = linkTo(t, ws, { transport: { kind: 'command', argv: ['/nonexistent/docker', 'exec', '-i', 'x'] } });
  const down = nextState(link, 'down', 10_000);
  link.start();
  const d = await down;
  t.equal(d.error?.code, 'WARREN_ERR_CONNECT');
  t.match(d.error?.message, /cannot run transport command \/nonexistent\/docker/);
});

t.test('a command that ends before sshd answers (docker exec into a stopped container) says why, and a one-shot gives up at once', async (t) => {
  const said = 'Error response from daemon: Container alpha is not running';
  const link = linkTo(t, ws, { failFast: true, transport: { kind: 'command', argv: ['sh', '-c', `echo "${said}" >&2; exit 1`] } });
  link.start();
  const started = Date.now();
  const err = await link.waitForUp(10_000).then(() => null, (e: Error & { code?: string }) => e);
  t.equal(err?.code, 'WARREN_ERR_CONNECT');
  t.match(err?.message, `transport command sh exited (code 1) before sshd answered: ${said}`);
  t.ok(Date.now() - started < 5_000, 'not retried for the full wait: it stays so until someone starts the container');
});

t.test('jump host: a link through another link\'s forwarded channel', { skip: !ws.isolated && 'needs a namespace' }, async (t) => {
  // A second sshd on the workspace's own loopback: reachable only through a forward.
  await ws.startLoopbackSshd(2222);
  const outer = linkTo(t, ws);
  outer.start();
  await outer.waitForUp(10_000);
  const inner = new Link({
    name: `${ws.name}-inner`, user: ws.user, transport: { kind: 'jump', via: outer, host: '127.0.0.1', port: 2222 },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint],
  });
  t.teardown(() => inner.close());
  inner.start();
  await inner.waitForUp(10_000);
  t.match(inner.target, /127\.0\.0\.1:2222 via /);
  const r = await inner.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']);
  t.match(r.stdout, /^127\.0\.0\.1 \d+ 127\.0\.0\.1 2222$/m, 'the inner session arrived through the forward');
  t.equal(outer.snapshot().openChannels, 1, 'carried by one channel of the outer link');
  const down = nextState(inner, 'down', 10_000);
  await outer.close();
  t.equal((await down).error?.code, 'WARREN_ERR_LINK_LOST', 'losing the outer link loses the inner one');
});
