// Scale behind one jump host: the test-bed workspaces written into a config as an
// operator would (jumpHosts + transport {kind: jump}), loaded by the config loader,
// on one broker. Measures the time until every link is up, then a storm: the jump
// host's sshd killed and started again, until every workspace is up again. Counts
// the logins and the MaxStartups lines in the jump host's log (it logs at VERBOSE,
// where sshd names each connection it drops), and the connections to it.
import { performance } from 'node:perf_hooks';
import { createJumpHost, waitFor, type Workspace } from '../container/testbed/index.js';
import { Broker } from '../src/broker/broker.js';
import { validateConfig } from '../src/config/index.js';
import { allUp } from './scale-links.js';

export interface JumpScaleResult {
  n: number; upMs: number; stormMs: number;
  /** Logins to the jump sshd: the first connection, and the storm's. */
  loginsAtUp: number; loginsAfterStorm: number;
  /** From the jump sshd's start until warren's link to it was up again (its reconnect backoff, then one handshake). */
  jumpBackMs: number;
  /** The most TCP connections to the jump sshd seen at once while the links came back. */
  mostConnections: number;
  maxStartupsLines: number;
  stormFailedAttempts: number;
}

export async function benchJump(wss: Workspace[]): Promise<JumpScaleResult> {
  const jump = await createJumpHost({ name: 'scale-bastion' });
  let broker: Broker | undefined;
  try {
    const raw = {
      jumpHosts: { bastion: { host: jump.host, port: jump.port, user: jump.user, privateKeyPath: jump.privateKeyPath, hostKeyFingerprint: jump.hostKeyFingerprint } },
      workspaces: Object.fromEntries(wss.map((w) => [w.name, {
        host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprint: w.hostKeyFingerprint,
        transport: { kind: 'jump', via: 'bastion' },
      }])),
      logLevel: 'silent',
    };
    const config = validateConfig(raw, { baseDir: process.cwd(), path: null });
    const t0 = performance.now();
    broker = new Broker(config);
    const b = broker;
    await allUp(b, t0, 120_000);
    const upMs = performance.now() - t0;
    const loginsAtUp = jump.logLines(/Accepted publickey for /);
    const before = b.status().workspaces.reduce((s, w) => s + w.tunnel.failedAttempts, 0);
    await jump.killSshd();
    await waitFor('every link to notice', () => b.status().workspaces.every((w) => w.tunnel.state !== 'up'), { timeoutMs: 30_000, intervalMs: 20 });
    const back = allUp(b, 0, 120_000);
    const jumpLink = b.workspace(wss[0]!.name).jumpLink!;
    const jumpBack = new Promise<number>((resolve) => {
      const on = (c: { to: string }) => {
        if (c.to !== 'up') return;
        jumpLink.off('state', on);
        resolve(performance.now());
      };
      jumpLink.on('state', on);
    });
    await jump.startSshd();
    const restarted = performance.now();
    let mostConnections = 0;
    let done = false;
    const sampling = (async () => {
      while (!done) {
        mostConnections = Math.max(mostConnections, await jump.connections());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await back;
    const stormMs = performance.now() - restarted;
    const jumpBackMs = (await jumpBack) - restarted;
    done = true;
    await sampling;
    return {
      n: wss.length, upMs, stormMs, jumpBackMs, loginsAtUp, loginsAfterStorm: jump.logLines(/Accepted publickey for /) - loginsAtUp, mostConnections,
      maxStartupsLines: jump.logLines(/MaxStartups/),
      stormFailedAttempts: b.status().workspaces.reduce((s, w) => s + w.tunnel.failedAttempts, 0) - before,
    };
  } finally {
    await broker?.close({ stopServers: false });
    await jump.close();
  }
}
