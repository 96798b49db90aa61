// One broker holding N links, measured in a fresh process so that its memory is
// only the links: the time until every link is up (from the links' own state
// events, not a poll: a poll that backs off to 200 ms blurs a 1 s figure by a
// fifth), when each came up, the attempts that failed, the CPU spent bringing them
// up, then, idle, RSS, heap and fds per link and the CPU of keeping them alive.
// The links go to `targets` round robin: the per-link cost curve runs more links
// than there are test-bed sshds, since what is measured is the broker's side.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Broker } from '../src/broker/broker.js';
import type { WarrenConfig, WorkspaceConfig } from '../src/config/schema.js';
import { Semaphore } from '../src/ssh/semaphore.js';

export interface Target { host: string; port: number; user: string; privateKeyPath: string; hostKeyFingerprint: string }

export interface LinksJob {
  n: number;
  targets: Target[];
  /** Handshakes at once (the process-wide limiter); default: the broker's own. */
  handshakes?: number;
  /** Milliseconds idle before and during the memory and CPU readings. */
  idleMs?: number;
}

export interface LinksResult {
  n: number;
  upMs: number;
  /** When the links came up, ms after the start: the 10th, 50th and 90th percentile. */
  upAt: { p10: number; p50: number; p90: number };
  failedAttempts: number;
  /** CPU of this process from the start until every link was up. */
  upCpuMs: number;
  rssPerLinkKiB: number;
  heapPerLinkKiB: number;
  fdsPerLink: number;
  idleCpuPct: number;
  load: string;
}

const fds = () => fs.readdirSync('/proc/self/fd').length;
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

function configOf(job: LinksJob): WarrenConfig {
  const workspaces = new Map<string, WorkspaceConfig>();
  for (let i = 0; i < job.n; i++) {
    const w = job.targets[i % job.targets.length]!;
    const name = `link-${i + 1}`;
    workspaces.set(name, {
      name, host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprints: [w.hostKeyFingerprint],
      importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
      opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
    });
  }
  return { workspaces, gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'silent', path: null };
}

/** Resolves with each link's time to up (ms after t0) once every link is up. */
export function allUp(broker: Broker, t0: number, timeoutMs: number): Promise<number[]> {
  const names = broker.names;
  const at = new Map<string, number>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${names.length - at.size} of ${names.length} links not up after ${timeoutMs} ms`)), timeoutMs);
    const check = () => {
      if (at.size < names.length) return;
      clearTimeout(timer);
      resolve([...at.values()]);
    };
    for (const name of names) {
      const link = broker.workspace(name).link;
      if (link.state === 'up') at.set(name, performance.now() - t0);
      link.on('state', (c: { to: string }) => {
        if (c.to !== 'up' || at.has(name)) return;
        at.set(name, performance.now() - t0);
        check();
      });
    }
    check();
  });
}

export async function measureLinks(job: LinksJob): Promise<LinksResult> {
  const idleMs = job.idleMs ?? 5000;
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const fds0 = fds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const broker = new Broker(configOf(job), job.handshakes ? { handshakeLimiter: new Semaphore(job.handshakes) } : {});
  try {
    const ups = await allUp(broker, t0, 180_000);
    const upMs = performance.now() - t0;
    const upCpuMs = cpuMs(process.cpuUsage(cpu0));
    const failedAttempts = broker.status().workspaces.reduce((s, w) => s + w.tunnel.failedAttempts, 0);
    // The first keepalives settle, then memory and idle CPU.
    await new Promise((r) => setTimeout(r, 2000));
    global.gc?.();
    const mem = process.memoryUsage();
    const fdsNow = fds();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, idleMs));
    const idleCpuPct = cpuMs(process.cpuUsage(c0)) / (performance.now() - w0) * 100;
    return {
      n: job.n, upMs, upAt: { p10: pct(ups, 0.1), p50: pct(ups, 0.5), p90: pct(ups, 0.9) }, failedAttempts, upCpuMs,
      rssPerLinkKiB: (mem.rss - rss0) / 1024 / job.n, heapPerLinkKiB: (mem.heapUsed - heap0) / 1024 / job.n,
      fdsPerLink: (fdsNow - fds0) / job.n, idleCpuPct, load: os.loadavg().map((l) => l.toFixed(1)).join(' '),
    };
  } finally {
    await broker.close({ stopServers: false });
  }
}

const SELF = fileURLToPath(import.meta.url);

/** measureLinks in a fresh process: its RSS per link is the links', not what an earlier run left in the heap. */
export async function measureLinksIsolated(job: LinksJob): Promise<LinksResult> {
  const child = spawn(process.execPath, ['--expose-gc', SELF, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const [code] = await once(child, 'exit') as [number | null];
  if (code !== 0) throw new Error(`the links measurement of ${job.n} exited ${code}`);
  return JSON.parse(out) as LinksResult;
}

if (process.argv[1] && SELF === path.resolve(process.argv[1])) {
  process.stdout.write(`${JSON.stringify(await measureLinks(JSON.parse(process.argv[2]!) as LinksJob))}\n`);
}
