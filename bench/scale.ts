// Scale: N test-bed workspaces (no fake model, so memory fits) on one broker.
// - Each workspace with its own sshd: the time until every link is up (several
//   runs, each in a fresh process), RSS per idle link, idle CPU, and a reconnect
//   storm (every sshd killed and restarted at once) converging without attempts
//   dropped by MaxStartups.
// - The same workspaces behind one jump host, through the config loader
//   (scale-jump.ts): all up, and a storm when the jump host's sshd restarts.
// - The per-link cost curve (scale-links.ts): a broker at increasing link counts,
//   each in a fresh process, the links spread over the N sshds.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createWorkspaces, waitFor, type Workspace } from '../container/testbed/index.js';
import { Broker } from '../src/broker/broker.js';
import type { WarrenConfig, WorkspaceConfig } from '../src/config/schema.js';
import { judge, ms, spread, withRange, type Row, type Spread, type Verdict } from './report.js';
import { benchJump, type JumpScaleResult } from './scale-jump.js';
import { allUp, measureLinksIsolated, type LinksResult, type Target } from './scale-links.js';

/** Runs of "all N links up", each in a fresh process. */
const UP_RUNS = 3;
const UP_GOAL_MS = 2000;
/** Link counts of the cost curve; it stops at the first count that does not come up. */
const CURVE = [50, 100, 200, 300, 400, 600];

export interface ScaleResult {
  n: number;
  /** Each run of "all links up", with when the links came up. */
  ups: LinksResult[];
  idleCpuPct: number;
  stormMs: number; stormFailedAttempts: number; stormReconnects: number;
  /** Lines where sshd logged MaxStartups throttling (it logs drops themselves only at VERBOSE), over every workspace, during the storm. */
  maxStartupsDrops: number;
  jump: JumpScaleResult;
  curve: LinksResult[];
  /** Why the curve stopped where it did, if it did. */
  curveStop: string | null;
}

function configOf(wss: Workspace[]): WarrenConfig {
  const workspaces = new Map<string, WorkspaceConfig>(wss.map((w) => [w.name, {
    name: w.name, host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprints: [w.hostKeyFingerprint],
    importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
  }]));
  return { workspaces, gateway: { listen: '127.0.0.1:7391', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'silent', path: null };
}

const targetsOf = (wss: Workspace[]): Target[] => wss.map((w) => ({ host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprint: w.hostKeyFingerprint }));

async function storm(wss: Workspace[]): Promise<Pick<ScaleResult, 'idleCpuPct' | 'stormMs' | 'stormFailedAttempts' | 'stormReconnects' | 'maxStartupsDrops'>> {
  const broker = new Broker(configOf(wss));
  try {
    await allUp(broker, performance.now(), 120_000);
    // Let the first keepalives settle, then measure idle CPU over 5 s (memory: the fresh processes of the up runs).
    await new Promise((r) => setTimeout(r, 2000));
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const cpu = process.cpuUsage(cpu0);
    const idleCpuPct = ((cpu.user + cpu.system) / 1000) / (performance.now() - w0) * 100;
    const before = broker.status().workspaces.reduce((s, w) => s + w.tunnel.failedAttempts, 0);
    await Promise.all(wss.map((w) => w.killSshd()));
    await waitFor('every link to notice', () => broker.status().workspaces.every((w) => w.tunnel.state !== 'up'), { timeoutMs: 30_000, intervalMs: 20 });
    const back = allUp(broker, 0, 120_000);
    await Promise.all(wss.map((w) => w.startSshd()));
    const restarted = performance.now();
    await back;
    const stormMs = performance.now() - restarted;
    const st = broker.status().workspaces;
    const maxStartupsDrops = wss.reduce((sum, w) => sum + (fs.readFileSync(path.join(w.dir, 'sshd.log'), 'utf8').match(/MaxStartups/g)?.length ?? 0), 0);
    return {
      idleCpuPct, stormMs, maxStartupsDrops,
      stormFailedAttempts: st.reduce((s, w) => s + w.tunnel.failedAttempts, 0) - before,
      stormReconnects: st.reduce((s, w) => s + w.tunnel.reconnects, 0),
    };
  } finally {
    await broker.close({ stopServers: false });
  }
}

export async function benchScale(n: number): Promise<ScaleResult> {
  const wss = await createWorkspaces(n, { fakeModel: false, namePrefix: 'scale' });
  try {
    const targets = targetsOf(wss);
    const ups: LinksResult[] = [];
    for (let i = 0; i < UP_RUNS; i++) ups.push(await measureLinksIsolated({ n, targets, idleMs: 1000 }));
    const s = await storm(wss);
    const jump = await benchJump(wss);
    const curve: LinksResult[] = [];
    let curveStop: string | null = null;
    for (const count of CURVE) {
      try {
        curve.push(await measureLinksIsolated({ n: count, targets }));
      } catch (err) {
        curveStop = `${count} links: ${(err as Error).message}`;
        break;
      }
    }
    return { n, ups, ...s, jump, curve, curveStop };
  } finally {
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

const verdictOf = (met: boolean): Verdict => met;
const oneRun = 'one run';

function upSpread(r: ScaleResult): { s: Spread; met: Verdict } {
  const v = r.ups.map((u) => u.upMs);
  return { s: spread(v), met: judge(v, v.map(() => UP_GOAL_MS), (a, b) => a - b, (c) => c <= 0).met };
}

export function scaleRows(r: ScaleResult): Row[] {
  const up = upSpread(r);
  const j = r.jump;
  const top = r.curve.at(-1);
  return [
    { what: `all ${r.n} links up (${r.ups.length} runs)`, value: withRange(up.s, (x) => ms(x)), anchor: `load ${r.ups.map((u) => u.load.split(' ')[0]).join(', ')}`, ratio: '', goal: `<= ${UP_GOAL_MS} ms`, met: up.met,
      // What bounds it, from this run: warren's own share of the CPU, no failed attempt; the rest is the sshds' per-connection work.
      limit: `warren's own CPU to bring them up was ${withRange(spread(r.ups.map((u) => u.upCpuMs)), (x) => ms(x))} of it and ${r.ups.reduce((a, u) => a + u.failedAttempts, 0)} attempts failed;`
        + ' the rest is CPU for sshd\'s work per connection (about 50 ms each here) on a machine under that load (see "Why all 100 links up ranged" in docs/benchmarks.md)' },
    { what: `broker RSS per idle link, ${r.n} links (${r.ups.length} runs)`, value: withRange(spread(r.ups.map((u) => u.rssPerLinkKiB)), (x) => `${x.toFixed(0)} KiB`), anchor: 'a fresh process each', ratio: '', goal: '<= 1024 KiB', met: judge(r.ups.map((u) => u.rssPerLinkKiB), r.ups.map(() => 1024), (a, b) => a - b, (c) => c <= 0).met },
    { what: `CPU while idle, ${r.n} links`, value: `${r.idleCpuPct.toFixed(1)}% of a core`, anchor: oneRun, ratio: '', goal: '', met: null },
    { what: `reconnect storm, ${r.n} sshds restarted at once`, value: ms(r.stormMs), anchor: `${oneRun}; ${r.stormReconnects} reconnects, ${r.stormFailedAttempts} refused while sshd was down`, ratio: '',
      goal: '<= 10000 ms', met: verdictOf(r.stormMs <= 10_000) },
    { what: 'reconnect storm, MaxStartups throttling lines in the sshd logs', value: String(r.maxStartupsDrops), anchor: oneRun, ratio: '', goal: '0', met: verdictOf(r.maxStartupsDrops === 0) },
    { what: `all ${j.n} links up behind one jump host`, value: ms(j.upMs), anchor: `${oneRun}; ${j.loginsAtUp} login to the jump host`, ratio: '', goal: '', met: null },
    { what: 'storm: the jump host\'s sshd restarted', value: ms(j.stormMs), anchor: `${oneRun}; ${j.loginsAfterStorm} login, at most ${j.mostConnections} connection at once`, ratio: '', goal: '<= 10000 ms', met: verdictOf(j.stormMs <= 10_000) },
    { what: 'storm behind the jump host: MaxStartups lines in its log (VERBOSE)', value: String(j.maxStartupsLines), anchor: oneRun, ratio: '', goal: '0', met: verdictOf(j.maxStartupsLines === 0) },
    ...(top ? [{ what: `links on one broker (cost curve, up to ${top.n})`, value: `${top.n} up in ${ms(top.upMs)}`, anchor: `${top.rssPerLinkKiB.toFixed(0)} KiB RSS, ${top.fdsPerLink.toFixed(1)} fd per link`, ratio: '', goal: '>= 300 links', met: verdictOf(top.n >= 300) }] : []),
  ];
}

export function formatCurve(curve: LinksResult[], stop: string | null): string {
  const head = ['links', 'all up', 'p50 up', 'failed', 'warren CPU to up', 'RSS/link', 'heap/link', 'fds/link', 'idle CPU', 'load'];
  const rows = curve.map((c) => [String(c.n), ms(c.upMs), ms(c.upAt.p50), String(c.failedAttempts), `${(c.upCpuMs / c.n).toFixed(1)} ms/link`,
    `${c.rssPerLinkKiB.toFixed(0)} KiB`, `${c.heapPerLinkKiB.toFixed(1)} KiB`, c.fdsPerLink.toFixed(2), `${c.idleCpuPct.toFixed(1)}%`, c.load.split(' ')[0]!]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}`;
  return [line(head), ...rows.map(line), ...(stop ? [`  stopped at ${stop}`] : [])].join('\n');
}

export function formatScale(r: ScaleResult): string {
  const up = upSpread(r);
  const j = r.jump;
  return [
    `${r.n} workspaces on one broker, each with its own sshd:`,
    ...r.ups.map((u, i) => `  run ${i + 1}: all links up in ${u.upMs.toFixed(0)} ms (10% up by ${u.upAt.p10.toFixed(0)}, half by ${u.upAt.p50.toFixed(0)}, 90% by ${u.upAt.p90.toFixed(0)} ms); ${u.failedAttempts} failed attempts; warren CPU ${u.upCpuMs.toFixed(0)} ms; load ${u.load}`),
    `  all links up: ${withRange(up.s, (x) => ms(x))} over ${r.ups.length} runs (goal <= ${UP_GOAL_MS} ms)`,
    `  RSS per idle link ${withRange(spread(r.ups.map((u) => u.rssPerLinkKiB)), (x) => `${x.toFixed(0)} KiB`)} over the runs, heap ${withRange(spread(r.ups.map((u) => u.heapPerLinkKiB)), (x) => `${x.toFixed(1)} KiB`)} (goal <= 1024 KiB)`,
    `  CPU while idle ${r.idleCpuPct.toFixed(1)}% of one core`,
    `  reconnect storm (every sshd killed, then restarted): all up again ${r.stormMs.toFixed(0)} ms after the restart (goal <= 10000 ms) ${r.stormMs <= 10_000 ? 'met' : 'NOT MET'};`
      + ` ${r.stormReconnects} reconnects, ${r.stormFailedAttempts} failed attempts while sshd was down or refusing;`
      + ` ${r.maxStartupsDrops} MaxStartups throttling lines in the sshd logs`,
    `the same ${j.n} workspaces behind one jump host (config with jumpHosts, through the loader):`,
    `  all links up in ${j.upMs.toFixed(0)} ms, ${j.loginsAtUp} login to the jump host`,
    `  storm (the jump host's sshd killed, then started): the jump link up again ${j.jumpBackMs.toFixed(0)} ms after the start, all up again ${j.stormMs.toFixed(0)} ms after it (goal <= 10000 ms) ${j.stormMs <= 10_000 ? 'met' : 'NOT MET'};`
      + ` ${j.loginsAfterStorm} new login, at most ${j.mostConnections} connection to it at once, ${j.stormFailedAttempts} failed attempts, ${j.maxStartupsLines} MaxStartups lines in its log`,
    'per-link cost curve (one broker per count, a fresh process each; links spread over the workspaces\' sshds):',
    formatCurve(r.curve, r.curveStop),
  ].join('\n');
}

// Run directly (as benchScaleIsolated does): node --expose-gc dist/bench/scale.js N, prints JSON.
if (process.argv[1] && SELF === path.resolve(process.argv[1])) {
  process.stdout.write(`${JSON.stringify(await benchScale(Number(process.argv[2] ?? 100)))}\n`);
}
