// Many links at once: the process-wide handshake cap keeps sshd's MaxStartups from
// dropping connections, so 60 links to one sshd all come up on the first attempt.
import t from 'tap';
import { createWorkspace } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';
import { Semaphore } from '../src/ssh/semaphore.js';

t.test('60 links connecting at once to one sshd: all up, none dropped, the cap held', async (t) => {
  const ws = await createWorkspace({ name: 'crowd', fakeModel: false });
  t.teardown(() => ws.close());
  const limiter = new Semaphore(8);
  let peak = 0;
  const acquire = limiter.acquire.bind(limiter);
  limiter.acquire = async (signal?: AbortSignal) => {
    const release = await acquire(signal);
    peak = Math.max(peak, limiter.inProgress);
    return release;
  };
  const links = Array.from({ length: 60 }, (_, i) => new Link({
    name: `crowd-${i}`, user: ws.user, transport: { kind: 'tcp', host: ws.host, port: ws.port },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint], handshakeLimiter: limiter,
  }));
  t.teardown(() => Promise.all(links.map((l) => l.close())));
  for (const l of links) l.start();
  await Promise.all(links.map((l) => l.waitForUp(30_000)));
  t.equal(links.filter((l) => l.state === 'up').length, 60, 'all up');
  t.equal(links.reduce((n, l) => n + l.snapshot().failedAttempts, 0), 0, 'no attempt failed');
  t.ok(peak <= 8, `at most 8 handshakes at once (peak ${peak})`);
  const rs = await Promise.all(links.map((l) => l.exec(['true'])));
  t.ok(rs.every((r) => r.code === 0), 'every link works');
});
