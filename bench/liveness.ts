// Liveness: how long a link takes to notice a frozen workspace (every process
// SIGSTOPped: TCP still acks, nothing answers), and how long it takes to be up
// again once sshd returns after being killed. The reconnect is split into the
// wait for the scheduled (jittered, exponential) backoff and the connect itself,
// so the goal "<= 1 s + backoff" compares the connect part. A fresh link per
// measurement: each starts from the first backoff step, as a link that has been
// up for a while would.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { createWorkspace, waitFor, type Workspace } from '../container/testbed/index.js';
import { DEFAULT_KEEPALIVE, Link, type LinkState, type StateChange } from '../src/ssh/link.js';
import { median, ms, spread, withRange, type Row, type Verdict } from './report.js';

export interface LivenessResult {
  rounds: number;
  detectMs: number; detectMaxMs: number;
  reconnectMs: number; backoffWaitMs: number; connectMs: number; connectMaxMs: number;
  /** Each round's figures: a bound holds only if it holds in every round. */
  samples: { detect: number[]; connect: number[] };
}

/** A bound on each round (a dead peer is noticed in time every time, not on average): one round past it misses the goal. */
function everyRound(xs: number[], bound: number): Verdict {
  return xs.length < 3 ? 'noise' : xs.every((v) => v <= bound);
}

function newLink(ws: Workspace): Link {
  return new Link({ name: ws.name, user: ws.user, transport: { kind: 'tcp', host: ws.host, port: ws.port },
    privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint] }).start();
}

/** performance.now() of every state change, in order. */
function recordStates(link: Link): Array<{ to: LinkState; t: number }> {
  const seen: Array<{ to: LinkState; t: number }> = [];
  link.on('state', (c: StateChange) => seen.push({ to: c.to, t: performance.now() }));
  return seen;
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function detectFrozen(ws: Workspace): Promise<number> {
  const link = newLink(ws);
  try {
    await link.waitForUp(10_000);
    // Keepalives running, then freeze at a random point of the probe cycle.
    await waitFor('a first keepalive round trip', () => link.snapshot().keepaliveRttMs !== null, { timeoutMs: 10_000 });
    await delay(Math.random() * DEFAULT_KEEPALIVE.intervalMs);
    const states = recordStates(link);
    const t0 = performance.now();
    await ws.freeze();
    try {
      await waitFor('the link to notice the frozen workspace', () => states.length > 0, { timeoutMs: 15_000, intervalMs: 5 });
      return states[0]!.t - t0;
    } finally {
      await ws.thaw();
    }
  } finally {
    await link.close();
  }
}

async function reconnect(ws: Workspace): Promise<{ total: number; backoffWait: number; connect: number }> {
  const link = newLink(ws);
  try {
    await link.waitForUp(10_000);
    const states = recordStates(link);
    await ws.killSshd();
    await waitFor('the link to notice sshd is gone', () => link.state !== 'up', { timeoutMs: 10_000, intervalMs: 5 });
    // Our own fast probe says when sshd listens again (startSshd polls more slowly).
    let listening: number | undefined;
    let stop = false;
    const probe = (async () => {
      while (!stop && listening === undefined) {
        if (await tcpOpen(ws.host, ws.port)) listening = performance.now();
        else await delay(2);
      }
    })();
    await ws.startSshd();
    await waitFor('sshd to listen', () => listening !== undefined, { timeoutMs: 10_000, intervalMs: 2 });
    stop = true;
    await probe;
    await waitFor('the link to be up again', () => link.state === 'up', { timeoutMs: 30_000, intervalMs: 5 });
    const up = states.findLast((s) => s.to === 'up')!.t;
    // The attempt that succeeded began at the last 'connecting' before it.
    const attempt = states.findLast((s) => s.to === 'connecting' && s.t <= up)!.t;
    const from = Math.max(attempt, listening!);
    return { total: up - listening!, backoffWait: Math.max(0, attempt - listening!), connect: up - from };
  } finally {
    await link.close();
  }
}

export async function benchLiveness(o: { rounds: number }): Promise<LivenessResult> {
  const ws = await createWorkspace({ name: 'bench-live', fakeModel: false });
  try {
    const detect: number[] = [];
    const rec: Array<{ total: number; backoffWait: number; connect: number }> = [];
    for (let i = 0; i < o.rounds; i++) {
      detect.push(await detectFrozen(ws));
      rec.push(await reconnect(ws));
    }
    return {
      rounds: o.rounds,
      detectMs: median(detect), detectMaxMs: Math.max(...detect),
      reconnectMs: median(rec.map((r) => r.total)), backoffWaitMs: median(rec.map((r) => r.backoffWait)),
      connectMs: median(rec.map((r) => r.connect)), connectMaxMs: Math.max(...rec.map((r) => r.connect)),
      samples: { detect, connect: rec.map((r) => r.connect) },
    };
  } finally {
    await ws.close();
  }
}

export function livenessRows(r: LivenessResult): Row[] {
  const ka = DEFAULT_KEEPALIVE;
  return [
    { what: 'dead peer (workspace frozen) noticed', value: withRange(spread(r.samples.detect), (n) => ms(n)),
      anchor: `keepalive ${ka.intervalMs} + ${ka.timeoutMs} ms`, ratio: '', goal: '<= 3000 ms every round', met: everyRound(r.samples.detect, 3000) },
    { what: 'reconnect after sshd returns, minus backoff', value: withRange(spread(r.samples.connect), (n) => ms(n)),
      anchor: `total ${ms(r.reconnectMs)}, of it backoff ${ms(r.backoffWaitMs)}`, ratio: '', goal: '<= 1000 ms + backoff every round', met: everyRound(r.samples.connect, 1000) },
  ];
}

export function formatLiveness(r: LivenessResult): string {
  return [
    `frozen workspace (SIGSTOP) noticed after ${ms(r.detectMs)} median, ${ms(r.detectMaxMs)} max (keepalive every ${DEFAULT_KEEPALIVE.intervalMs} ms, timeout ${DEFAULT_KEEPALIVE.timeoutMs} ms)`,
    `sshd killed and restarted: up again ${ms(r.reconnectMs)} after sshd listened (median), of which ${ms(r.backoffWaitMs)} waiting for the scheduled backoff`
      + ` and ${ms(r.connectMs)} connecting (max ${ms(r.connectMaxMs)}); ${r.rounds} rounds, a fresh link each`,
  ].join('\n');
}
