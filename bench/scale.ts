// Scale: N test-bed workspaces (no fake model, so memory fits) on one broker.
// Measures the time until every link is up, the broker's RSS per idle link, its
// CPU while idle, and a reconnect storm: every sshd killed and restarted at once,
// converging without attempts dropped by MaxStartups.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createWorkspaces, waitFor, type Workspace } from '../container/testbed/index.js';
import { Broker } from '../src/broker/broker.js';
import type { WarrenConfig, WorkspaceConfig } from '../src/config/schema.js';
import { ms, type Row } from './report.js';

export interface ScaleResult {
  n: number; upMs: number; rssPerLinkKiB: number; idleCpuPct: number;
  stormMs: number; stormFailedAttempts: number; stormReconnects: number;
  /** Lines where sshd logged MaxStartups throttling (it logs drops themselves only at VERBOSE), over every workspace, during the storm. */
  maxStartupsDrops: number;
}

function configOf(wss: Workspace[]): WarrenConfig {
  const workspaces = new Map<string, WorkspaceConfig>(wss.map((w) => [w.name, {
    name: w.name, host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprints: [w.hostKeyFingerprint],
    importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
  }]));
  return { workspaces, gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'silent', path: null };
}

export async function benchScale(n: number): Promise<ScaleResult> {
  const wss = await createWorkspaces(n, { fakeModel: false, namePrefix: 'scale' });
  let broker: Broker | undefined;
  try {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    broker = new Broker(configOf(wss));
    const b = broker;
    await waitFor('every link up', () => b.status().workspaces.every((w) => w.tunnel.state === 'up'), { timeoutMs: 120_000, intervalMs: 20 });
    const upMs = performance.now() - t0;
    // Let the first keepalives settle, then measure memory and idle CPU over 5 s.
    await new Promise((r) => setTimeout(r, 2000));
    global.gc?.();
    const rssPerLinkKiB = (process.memoryUsage().rss - rssBefore) / 1024 / n;
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const cpu = process.cpuUsage(cpu0);
    const idleCpuPct = ((cpu.user + cpu.system) / 1000) / (performance.now() - w0) * 100;
    const before = b.status().workspaces.reduce((s, w) => s + w.tunnel.failedAttempts, 0);
    const s0 = performance.now();
    await Promise.all(wss.map((w) => w.killSshd()));
    await waitFor('every link to notice', () => b.status().workspaces.every((w) => w.tunnel.state !== 'up'), { timeoutMs: 30_000, intervalMs: 20 });
    await Promise.all(wss.map((w) => w.startSshd()));
    const restarted = performance.now();
    await waitFor('every link up again', () => b.status().workspaces.every((w) => w.tunnel.state === 'up'), { timeoutMs: 120_000, intervalMs: 20 });
    const stormMs = performance.now() - restarted;
    void s0;
    const st = b.status().workspaces;
    const maxStartupsDrops = wss.reduce((sum, w) => {
      const log = fs.readFileSync(path.join(w.dir, 'sshd.log'), 'utf8');
      return sum + (log.match(/MaxStartups/g)?.length ?? 0);
    }, 0);
    return {
      maxStartupsDrops,
      n, upMs, rssPerLinkKiB, idleCpuPct, stormMs,
      stormFailedAttempts: st.reduce((s, w) => s + w.tunnel.failedAttempts, 0) - before,
      stormReconnects: st.reduce((s, w) => s + w.tunnel.reconnects, 0),
    };
  } finally {
    await broker?.close({ stopServers: false });
    await Promise.all(wss.map((w) => w.close()));
  }
}

const SELF = fileURLToPath(import.meta.url);

/**
 * Runs the scale benchmark in a fresh process: its RSS per link must not be
 * muddied by what earlier sections left in this one's heap.
 */
export async function benchScaleIsolated(n: number): Promise<ScaleResult> {
  const child = spawn(process.execPath, ['--expose-gc', SELF, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const [code] = await once(child, 'exit') as [number | null];
  if (code !== 0) throw new Error(`the scale benchmark exited ${code}`);
  return JSON.parse(out) as ScaleResult;
}

export function scaleRows(r: ScaleResult): Row[] {
  return [
    { what: `all ${r.n} links up`, value: ms(r.upMs), anchor: '', ratio: '', goal: '<= 5000 ms', met: r.upMs <= 5000 },
    { what: 'broker RSS per idle link', value: `${r.rssPerLinkKiB.toFixed(0)} KiB`, anchor: '', ratio: '', goal: '<= 1024 KiB', met: r.rssPerLinkKiB <= 1024 },
    { what: `CPU while idle, ${r.n} links`, value: `${r.idleCpuPct.toFixed(1)}% of a core`, anchor: '', ratio: '', goal: '', met: null },
    { what: `reconnect storm, ${r.n} sshds restarted at once`, value: ms(r.stormMs), anchor: `${r.stormReconnects} reconnects, ${r.stormFailedAttempts} refused while sshd was down`, ratio: '',
      goal: '<= 10000 ms', met: r.stormMs <= 10_000 },
    { what: 'reconnect storm, MaxStartups throttling lines in the sshd logs', value: String(r.maxStartupsDrops), anchor: '', ratio: '', goal: '0', met: r.maxStartupsDrops === 0 },
  ];
}

export function formatScale(r: ScaleResult): string {
  return [
    `${r.n} workspaces on one broker:`,
    `  all links up in ${r.upMs.toFixed(0)} ms (goal <= 5000 ms) ${r.upMs <= 5000 ? 'met' : 'NOT MET'}`,
    `  RSS per idle link ${r.rssPerLinkKiB.toFixed(0)} KiB (goal <= 1024 KiB) ${r.rssPerLinkKiB <= 1024 ? 'met' : 'NOT MET'}`,
    `  CPU while idle ${r.idleCpuPct.toFixed(1)}% of one core`,
    `  reconnect storm (every sshd killed, then restarted): all up again ${r.stormMs.toFixed(0)} ms after the restart (goal <= 10000 ms) ${r.stormMs <= 10_000 ? 'met' : 'NOT MET'};`
      + ` ${r.stormReconnects} reconnects, ${r.stormFailedAttempts} failed attempts while sshd was down or refusing;`
      + ` ${r.maxStartupsDrops} MaxStartups throttling lines in the sshd logs`,
  ].join('\n');
}

// Run directly (as benchScaleIsolated does): node --expose-gc dist/bench/scale.js N, prints JSON.
if (process.argv[1] && SELF === path.resolve(process.argv[1])) {
  process.stdout.write(`${JSON.stringify(await benchScale(Number(process.argv[2] ?? 100)))}\n`);
}
