// After close, nothing of a link remains in the process: no sockets, no timers, no
// child processes, also when the peer is frozen at the time of closing.
import t from 'tap';
import { request } from 'undici';
import { createWorkspace, waitFor } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';
import { createLinkDispatcher } from '../src/ssh/dispatcher.js';
import { startLocalForward } from '../src/ssh/local-forward.js';

const ws = await createWorkspace({ name: 'tidy' });
t.teardown(() => ws.close());
const target = await ws.startTarget();

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function sameAs(baseline: Record<string, number>): boolean {
  const now = resources();
  return Object.keys({ ...now, ...baseline }).every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0));
}

async function useEverything(link: Link) {
  link.start();
  await link.waitForUp(10_000);
  const dispatcher = createLinkDispatcher(link);
  const fwd = await startLocalForward(link, { host: '127.0.0.1', port: target.port });
  await Promise.all(Array.from({ length: 50 }, async () => (await request(`http://127.0.0.1:${target.port}/small`, { dispatcher })).body.text()));
  await (await fetch(`http://127.0.0.1:${fwd.port}/small`)).text();
  await link.exec(['true']);
  const stream = await request(`http://127.0.0.1:${target.port}/sse?count=1000&intervalMs=50`, { dispatcher });
  stream.body.on('data', () => {});
  stream.body.on('error', () => {});
  return { dispatcher, fwd };
}

t.test('close leaves no sockets, timers or processes', async (t) => {
  const baseline = resources();
  const link = new Link({ name: ws.name, user: ws.user, transport: { kind: 'tcp', host: ws.host, port: ws.port },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint] });
  const { dispatcher, fwd } = await useEverything(link);
  t.ok(link.snapshot().openChannels > 0, 'channels are open before close');
  await fwd.close();
  await link.close();
  await dispatcher.destroy();
  t.equal(link.snapshot().openChannels, 0, 'no channel open');
  await waitFor('handles to return to the baseline', () => sameAs(baseline), { timeoutMs: 5000 })
    .catch((err: Error) => t.fail(`${err.message}: ${JSON.stringify(resources())} vs ${JSON.stringify(baseline)}`));
  t.pass('back to the baseline');
});

t.test('close on a frozen peer returns promptly and leaves nothing', async (t) => {
  const baseline = resources();
  const link = new Link({ name: ws.name, user: ws.user, transport: { kind: 'command', argv: ws.sshdInetdArgv() },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint] });
  const { dispatcher, fwd } = await useEverything(link);
  await ws.freeze();
  t.teardown(() => ws.thaw());
  const started = Date.now();
  await fwd.close();
  await link.close();
  await dispatcher.destroy();
  t.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms despite the frozen peer`);
  await waitFor('handles to return to the baseline', () => sameAs(baseline), { timeoutMs: 5000 })
    .catch((err: Error) => t.fail(`${err.message}: ${JSON.stringify(resources())} vs ${JSON.stringify(baseline)}`));
  t.pass('back to the baseline');
});
