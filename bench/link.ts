// The link benchmark: small GETs (p50/p99, req/s at c=1 and c=32), bulk download
// MB/s and SSE events/s through four paths to the same HTTP target inside a
// test-bed workspace, in interleaved rounds of one run, reported as ratios:
//   direct   - the client inside the workspace's namespace (no SSH at all)
//   ssh -L   - OpenSSH `ssh -N -L`, the client on the host
//   warren   - warren's link dispatcher in the client's process (the library)
//   gateway  - a `warren daemon` process, its fast lane off; the client calls its pass-through
//              /v1/workspaces/:ws/opencode/*, whose "opencode" is the target
//              (bench/fake-opencode.ts), started by warren as it starts opencode
//   fast lane - the same daemon with its fast lane on (src/gateway/fastlane.ts), beside
//              the other on a fake opencode of its own (port 4097), for the A/B
//   nginx    - what an operator would build instead: nginx checking the same
//              bearer token on the same URL, proxying to the ssh -L (bench/nginx.ts)
//   warren -L - the library's link and local forward in a process of their own
//              (bench/forward-main.ts): bytes copied, no HTTP parsed, the floor of
//              any pass-through built on ssh2 in Node
// The same undici client code drives every path. CPU use of each process during
// the c=32 and bulk runs is recorded: on two cores it says what limits a path.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Agent, type Dispatcher } from 'undici';
import { createWorkspace, freePort, waitFor, type Workspace } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';
import { createLinkDispatcher } from '../src/ssh/dispatcher.js';
import { OPENCODE_PORT, startDaemon, type BenchDaemon } from './daemon.js';
import { startNginx, type BenchNginx } from './nginx.js';
import { procCpuMs, runBulk, runLoad, runSse, type ClientOptions, type LoadResult } from './load.js';
import { differenceOf, judge, median, ms, ratioOf, signedMs, spread, withRange, x, type Row } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const LOAD_CLI = path.join(here, 'load-cli.js');
const FORWARD_MAIN = path.join(here, 'forward-main.js');
const CIPHER = 'aes128-gcm@openssh.com';
export const PATHS = ['direct', 'ssh -L', 'warren', 'gateway', 'fast lane', 'nginx', 'warren -L'] as const;
/** The fast lane's daemon's fake opencode: a port of its own, so the two daemons never share a server. */
const FAST_OPENCODE_PORT = OPENCODE_PORT + 1;
type PathName = typeof PATHS[number];

export interface LinkBenchOptions { rounds: number; durationMs: number; bulkBytes: number; sseEvents: number }

interface Figures {
  p50c1: number; p99c1: number; rpsc1: number; p50c32: number; p99c32: number; rpsc32: number; bulk: number; sse: number;
  /** % of one core during the c=32 run: the client's process, the forwarding process (ssh or the daemon), the target. */
  cpuClient32: number; cpuForwarder32: number; cpuTarget32: number;
  /** The same during the bulk download (the client's is NaN for direct: measured inside the namespace). */
  cpuClientBulk: number; cpuForwarderBulk: number;
}

export async function sshL(ws: Workspace, targetPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const argv = ws.sshArgv([], ['-N', '-c', CIPHER, '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${port}:127.0.0.1:${targetPort}`]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  await waitFor('ssh -L to listen', () => new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 10_000 });
  return { port, child };
}

/** bench/forward-main.ts for this workspace: its port, once it listens. */
async function warrenL(ws: Workspace, targetPort: number): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [FORWARD_MAIN, ws.host, String(ws.port), ws.user, ws.privateKeyPath, ws.hostKeyFingerprint, String(targetPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    await waitFor('warren -L to listen', () => {
      if (child.exitCode !== null) throw new Error(`bench/forward-main exited ${child.exitCode}`);
      return out.includes('\n');
    }, { timeoutMs: 15_000 });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { port: Number(out.trim()), child };
}

async function direct(ws: Workspace, args: string[]): Promise<unknown> {
  const r = await ws.runInside([process.execPath, LOAD_CLI, ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`direct load failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/**
 * Runs fn and returns, beside its result, each group of pids' CPU over it in % of one
 * core (NaN for an empty group), and this process's own.
 */
async function withCpu<T>(groups: number[][], fn: () => Promise<T>): Promise<{ value: T; cpu: number[]; self: number }> {
  const cpuOf = (g: number[]) => g.reduce((sum, p) => sum + procCpuMs(p), 0);
  const before = groups.map(cpuOf);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = performance.now() - t0;
  const s = process.cpuUsage(self0);
  return {
    value,
    cpu: groups.map((g, i) => (g.length === 0 ? NaN : ((cpuOf(g) - before[i]!) / wall) * 100)),
    self: ((s.user + s.system) / 1000 / wall) * 100,
  };
}

export interface LinkBenchResult {
  /** Medians over the rounds, and each round's figures (for spreads and round-by-round verdicts). */
  figures: Record<PathName, Figures>; samples: Record<PathName, Figures[]>; nativeCrypto: boolean; cipher: string | null; rounds: number; sseEvents: number; bulkBytes: number;
}

export async function benchLink(o: LinkBenchOptions): Promise<LinkBenchResult> {
  const ws = await createWorkspace({ name: 'bench-link', fakeModel: false });
  let link: Link | undefined;
  let sshChild: ChildProcess | undefined;
  let daemon: BenchDaemon | undefined;
  let fastDaemon: BenchDaemon | undefined;
  let nginx: BenchNginx | undefined;
  let forwardChild: ChildProcess | undefined;
  const dispatchers: Dispatcher[] = [];
  try {
    daemon = await startDaemon(ws, { env: { WARREN_GATEWAY_FASTLANE: '0' } });
    fastDaemon = await startDaemon(ws, { env: { WARREN_GATEWAY_FASTLANE: '1' }, opencodePort: FAST_OPENCODE_PORT });
    const pidOf = (port: number) => Number(fs.readFileSync(path.join(ws.home, '.local', 'state', 'warren', `opencode-${port}.pid`), 'utf8'));
    const targetPid = pidOf(OPENCODE_PORT);
    const fastTargetPid = pidOf(FAST_OPENCODE_PORT);
    link = new Link({ name: ws.name, user: ws.user, transport: { kind: 'tcp', host: ws.host, port: ws.port },
      privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint] });
    link.start();
    await link.waitForUp(10_000);
    const fwd = await sshL(ws, OPENCODE_PORT);
    sshChild = fwd.child;
    const warrenD = createLinkDispatcher(link);
    const sshD = new Agent({ keepAliveTimeout: 30_000 });
    const gatewayD = new Agent({ keepAliveTimeout: 30_000 });
    const fastD = new Agent({ keepAliveTimeout: 30_000 });
    const nginxD = new Agent({ keepAliveTimeout: 30_000 });
    const forwardD = new Agent({ keepAliveTimeout: 30_000 });
    dispatchers.push(warrenD, sshD, gatewayD, fastD, nginxD, forwardD);
    const forward = await warrenL(ws, OPENCODE_PORT);
    forwardChild = forward.child;
    nginx = await startNginx({ upstreamPort: fwd.port, workspace: ws.name, token: daemon.headers.authorization!.replace(/^Bearer /, '') });
    // The forwarding processes of each path: their CPU, summed, is what the path costs.
    const viaHost: Record<Exclude<PathName, 'direct'>, { base: string; client: ClientOptions; forwarders: number[] }> = {
      'ssh -L': { base: `http://127.0.0.1:${fwd.port}`, client: { dispatcher: sshD }, forwarders: [fwd.child.pid!] },
      warren: { base: `http://127.0.0.1:${OPENCODE_PORT}`, client: { dispatcher: warrenD }, forwarders: [] },
      gateway: { base: daemon.passThrough, client: { dispatcher: gatewayD, headers: daemon.headers }, forwarders: [daemon.pid] },
      'fast lane': { base: fastDaemon.passThrough, client: { dispatcher: fastD, headers: fastDaemon.headers }, forwarders: [fastDaemon.pid] },
      nginx: { base: nginx.passThrough, client: { dispatcher: nginxD, headers: nginx.headers }, forwarders: [nginx.workerPid, fwd.child.pid!] },
      'warren -L': { base: `http://127.0.0.1:${forward.port}`, client: { dispatcher: forwardD }, forwarders: [forward.child.pid!] },
    };
    const directBase = `http://127.0.0.1:${OPENCODE_PORT}`;
    const samples: Record<PathName, Figures[]> = { direct: [], 'ssh -L': [], warren: [], gateway: [], 'fast lane': [], nginx: [], 'warren -L': [] };
    const measure = async (p: PathName): Promise<Figures> => {
      const h = p === 'direct' ? undefined : viaHost[p];
      const load = async (c: number) => withCpu([h?.forwarders ?? [], [p === 'fast lane' ? fastTargetPid : targetPid]], async () => (h
        ? runLoad(`${h.base}/small`, { ...h.client, concurrency: c, durationMs: o.durationMs })
        : direct(ws, ['load', `${directBase}/small`, String(c), String(o.durationMs)]) as Promise<LoadResult>));
      const c1 = (await load(1)).value;
      const c32 = await load(32);
      const bulk = await withCpu([h?.forwarders ?? []], async () => (h
        ? runBulk(`${h.base}/bytes`, { ...h.client, bytes: o.bulkBytes })
        : ((await direct(ws, ['bulk', `${directBase}/bytes`, String(o.bulkBytes)])) as { mbps: number }).mbps));
      const sse = h
        ? await runSse(`${h.base}/sse-burst`, { ...h.client, count: o.sseEvents })
        : ((await direct(ws, ['sse', `${directBase}/sse-burst`, String(o.sseEvents)])) as { eps: number }).eps;
      if (c1.errors || c32.value.errors) throw new Error(`${p}: ${c1.errors + c32.value.errors} requests failed`);
      return {
        p50c1: c1.p50Ms, p99c1: c1.p99Ms, rpsc1: c1.rps, p50c32: c32.value.p50Ms, p99c32: c32.value.p99Ms, rpsc32: c32.value.rps,
        bulk: bulk.value, sse,
        cpuClient32: h ? c32.self : c32.value.cpuPct, cpuForwarder32: c32.cpu[0]!, cpuTarget32: c32.cpu[1]!,
        cpuClientBulk: h ? bulk.self : NaN, cpuForwarderBulk: bulk.cpu[0]!,
      };
    };
    // Warm every path once, then interleave rounds so drift hits all paths alike, the
    // order reversed every other round so that no path always runs first or last.
    for (const p of PATHS) await measure(p);
    for (let r = 0; r < o.rounds; r++) {
      for (const p of r % 2 === 0 ? PATHS : [...PATHS].reverse()) samples[p].push(await measure(p));
    }
    const fold = (xs: Figures[]): Figures => Object.fromEntries(
      (Object.keys(xs[0]!) as Array<keyof Figures>).map((k) => [k, median(xs.map((f) => f[k]))]),
    ) as unknown as Figures;
    const snap = link.snapshot();
    // BENCH_LINK_SAMPLES=FILE keeps every round's figures, for ranges of derived numbers (CPU per request).
    if (process.env.BENCH_LINK_SAMPLES) fs.writeFileSync(process.env.BENCH_LINK_SAMPLES, JSON.stringify(samples));
    return {
      figures: Object.fromEntries(PATHS.map((p) => [p, fold(samples[p])])) as Record<PathName, Figures>, samples,
      nativeCrypto: snap.nativeCrypto, cipher: snap.cipher, rounds: o.rounds, sseEvents: o.sseEvents, bulkBytes: o.bulkBytes,
    };
  } finally {
    await Promise.all(dispatchers.map((d) => d.destroy()));
    await nginx?.close();
    sshChild?.kill('SIGTERM');
    forwardChild?.kill('SIGTERM');
    await daemon?.close();
    await fastDaemon?.close();
    await link?.close();
    await ws.close();
  }
}

const pct = (n: number) => (Number.isNaN(n) ? '-' : `${n.toFixed(0)}%`);

/**
 * One row comparing a path's figure with another path's, round by round: the
 * medians with their ranges, the comparison's median and range, and a verdict
 * only when every round agrees (report.ts, judge).
 */
function compareRow(r: LinkBenchResult, what: string, p: PathName, anchor: PathName, key: keyof Figures,
  fmt: (n: number) => string, how: 'ratio' | 'difference', goal?: { text: string; pass: (c: number) => boolean; limit?: string }): Row {
  const v = r.samples[p].map((f) => f[key]);
  const a = r.samples[anchor].map((f) => f[key]);
  const j = judge(v, a, how === 'ratio' ? ratioOf : differenceOf, goal?.pass ?? (() => true));
  const cfmt = how === 'ratio' ? x : (n: number) => signedMs(n, 3);
  return {
    what, value: withRange(spread(v), fmt), anchor: `${anchor} ${withRange(spread(a), fmt)}`, ratio: withRange(j.compared, cfmt),
    goal: goal?.text ?? '', met: goal ? j.met : null, ...(goal?.limit ? { limit: goal.limit } : {}),
  };
}

export function linkRows(r: LinkBenchResult): Row[] {
  const s = r.figures['ssh -L'];
  const rows: Row[] = [];
  // CPU per request at c=32, in microseconds: what each forwarding process pays.
  const usPer = (cpuPct: number, rps: number) => `${((cpuPct / 100) * 1e6 / rps).toFixed(0)} us`;
  const ms3 = (n: number) => ms(n, 3);
  const count = (n: number) => n.toFixed(0);
  for (const p of ['warren', 'gateway'] as const) {
    const w = r.figures[p];
    const who = p === 'warren' ? 'warren dispatcher' : 'warren gateway';
    const cpuNote = p === 'warren'
      ? `at c=32 the one warren process (undici client + SSH framing and crypto) used ${pct(w.cpuClient32)} of a core (${usPer(w.cpuClient32, w.rpsc32)} per request), the target ${pct(w.cpuTarget32)};`
        + ` with ssh -L the client used ${pct(s.cpuClient32)} (${usPer(s.cpuClient32, s.rpsc32)} per request) and ssh ${pct(s.cpuForwarder32)} (${usPer(s.cpuForwarder32, s.rpsc32)}) on the other core`
      : `at c=32 the daemon (HTTP server, undici client and SSH in one process) used ${pct(w.cpuForwarder32)} of a core, ${usPer(w.cpuForwarder32, w.rpsc32)} per request,`
        + ` where ssh -L's ssh used ${usPer(s.cpuForwarder32, s.rpsc32)} per request; the client ${pct(w.cpuClient32)}, the target ${pct(w.cpuTarget32)}`;
    const p50Note = p === 'warren' ? undefined
      : `the gateway is a second HTTP hop, parsed and written again in JS: the daemon spends ${usPer(w.cpuForwarder32, w.rpsc32)} of CPU per request (measured at c=32) where ssh spends ${usPer(s.cpuForwarder32, s.rpsc32)}`;
    // The dispatcher's goals are issue 6's; the gateway's are issue 15's (a second HTTP hop may cost 1.2x in latency, not throughput).
    const p50Goal = p === 'warren' ? { text: '<= 1.0x', pass: (c: number) => c <= 1.0 } : { text: '<= 1.2x', pass: (c: number) => c <= 1.2, ...(p50Note ? { limit: p50Note } : {}) };
    const rpsGoal = p === 'warren' ? { text: '>= 1.2x', pass: (c: number) => c >= 1.2, limit: cpuNote } : { text: '>= 1.0x', pass: (c: number) => c >= 1.0, limit: cpuNote };
    rows.push(
      compareRow(r, `small GET p50 c=1, ${who}`, p, 'ssh -L', 'p50c1', ms3, 'ratio', p50Goal),
      compareRow(r, `small GET p50 c=1, ${who}`, p, 'direct', 'p50c1', ms3, 'difference', { text: '<= +0.3 ms', pass: (c) => c <= 0.3 }),
      compareRow(r, `small GET p99 c=1, ${who}`, p, 'ssh -L', 'p99c1', ms3, 'ratio'),
      compareRow(r, `small GET req/s c=1, ${who}`, p, 'ssh -L', 'rpsc1', count, 'ratio'),
      compareRow(r, `small GET p50 c=32, ${who}`, p, 'ssh -L', 'p50c32', ms3, 'ratio'),
      compareRow(r, `small GET p99 c=32, ${who}`, p, 'ssh -L', 'p99c32', ms3, 'ratio'),
      compareRow(r, `small GET req/s c=32, ${who}`, p, 'ssh -L', 'rpsc32', count, 'ratio', rpsGoal),
    );
  }
  // The operator's own build (nginx + ssh -L), same token check, same URL: the gateway's other anchor.
  const g = r.figures.gateway;
  const n = r.figures.nginx;
  const f = r.figures['warren -L'];
  const floorNote = `a forward on ssh2 in Node that parses no HTTP at all (warren -L) reaches ${x(f.rpsc32 / s.rpsc32)} of ssh -L's req/s at c=32, spending ${usPer(f.cpuForwarder32, f.rpsc32)} of CPU per request`;
  const nginxNote = `per request at c=32 the daemon spent ${usPer(g.cpuForwarder32, g.rpsc32)} of CPU; nginx and ssh together ${usPer(n.cpuForwarder32, n.rpsc32)}; ${floorNote}`;
  rows.push(
    compareRow(r, 'small GET p50 c=1, warren gateway', 'gateway', 'nginx', 'p50c1', ms3, 'ratio', { text: '<= 1.0x', pass: (c) => c <= 1.0, limit: nginxNote }),
    compareRow(r, 'small GET req/s c=32, warren gateway', 'gateway', 'nginx', 'rpsc32', count, 'ratio', { text: '>= 1.0x', pass: (c) => c >= 1.0, limit: nginxNote }),
  );
  // The fast lane's A/B: the same daemon with it on, against it off, ssh -L and nginx.
  const fl = r.figures['fast lane'];
  const flNote = `per request at c=32 the daemon with its fast lane spent ${usPer(fl.cpuForwarder32, fl.rpsc32)} of CPU, without it ${usPer(g.cpuForwarder32, g.rpsc32)}; ssh ${usPer(s.cpuForwarder32, s.rpsc32)}; nginx and ssh ${usPer(n.cpuForwarder32, n.rpsc32)}; warren -L ${usPer(f.cpuForwarder32, f.rpsc32)}`;
  rows.push(
    compareRow(r, 'small GET p50 c=1, gateway fast lane', 'fast lane', 'gateway', 'p50c1', ms3, 'ratio'),
    compareRow(r, 'small GET req/s c=32, gateway fast lane', 'fast lane', 'gateway', 'rpsc32', count, 'ratio', { text: '>= 1.2x', pass: (c) => c >= 1.2, limit: flNote }),
    compareRow(r, 'small GET p50 c=1, gateway fast lane', 'fast lane', 'ssh -L', 'p50c1', ms3, 'ratio', { text: '<= 1.2x', pass: (c) => c <= 1.2 }),
    compareRow(r, 'small GET req/s c=32, gateway fast lane', 'fast lane', 'ssh -L', 'rpsc32', count, 'ratio', { text: '>= 1.0x', pass: (c) => c >= 1.0, limit: flNote }),
    compareRow(r, 'small GET p50 c=1, gateway fast lane', 'fast lane', 'nginx', 'p50c1', ms3, 'ratio', { text: '<= 1.0x', pass: (c) => c <= 1.0 }),
    compareRow(r, 'small GET req/s c=32, gateway fast lane', 'fast lane', 'nginx', 'rpsc32', count, 'ratio', { text: '>= 1.0x', pass: (c) => c >= 1.0, limit: flNote }),
    compareRow(r, 'bulk MB/s, gateway fast lane', 'fast lane', 'gateway', 'bulk', count, 'ratio'),
    compareRow(r, 'SSE events/s, gateway fast lane', 'fast lane', 'gateway', 'sse', count, 'ratio'),
  );
  const w = r.figures.warren;
  rows.push(
    compareRow(r, 'bulk MB/s, warren dispatcher', 'warren', 'ssh -L', 'bulk', count, 'ratio', { text: '>= 1.0x', pass: (c) => c >= 1.0,
      limit: `during the download the warren process used ${pct(w.cpuClientBulk)} of a core (client + decrypt); with ssh -L the client used ${pct(s.cpuClientBulk)} and ssh ${pct(s.cpuForwarderBulk)}` }),
    compareRow(r, 'bulk MB/s, warren gateway', 'gateway', 'ssh -L', 'bulk', count, 'ratio'),
    compareRow(r, 'SSE events/s, warren gateway', 'gateway', 'direct', 'sse', count, 'ratio'),
    compareRow(r, 'SSE events/s, warren dispatcher', 'warren', 'direct', 'sse', count, 'ratio'),
    // No goal: the floor a pass-through on ssh2 in Node could reach, to size the gateway's limit.
    compareRow(r, 'small GET p50 c=1, warren -L (bytes only, no HTTP)', 'warren -L', 'ssh -L', 'p50c1', ms3, 'ratio'),
    compareRow(r, 'small GET req/s c=32, warren -L (bytes only, no HTTP)', 'warren -L', 'ssh -L', 'rpsc32', count, 'ratio'),
  );
  return rows;
}

export function formatLinkBench(r: LinkBenchResult): string {
  const head = ['path', 'p50 c=1', 'p99 c=1', 'req/s c=1', 'p50 c=32', 'p99 c=32', 'req/s c=32', 'bulk MB/s', 'SSE ev/s', 'CPU c=32 client/fwd/target'];
  const cells = PATHS.map((p) => {
    const f = r.figures[p];
    return [p, ms(f.p50c1, 3), ms(f.p99c1, 3), f.rpsc1.toFixed(0), ms(f.p50c32, 3), ms(f.p99c32, 3), f.rpsc32.toFixed(0), f.bulk.toFixed(0), f.sse.toFixed(0),
      `${pct(f.cpuClient32)}/${pct(f.cpuForwarder32)}/${pct(f.cpuTarget32)}`];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    line(head), ...cells.map(line), '',
    `ssh2 native crypto: ${r.nativeCrypto ? 'loaded' : 'not loaded'}; cipher negotiated by warren: ${r.cipher ?? '?'} (ssh -L forced to ${CIPHER});`
      + ` bulk ${r.bulkBytes / 2 ** 20} MiB, SSE ${r.sseEvents} events per stream; medians of ${r.rounds} interleaved rounds (order reversed every other round);`
      + ' "fwd" is the forwarding process: ssh for ssh -L, the daemon for gateway and fast lane, nginx\'s worker and ssh together for nginx, bench/forward-main for warren -L, none for warren (in the client\'s process)',
  ].join('\n');
}

// Run directly: node dist/bench/link.js [rounds] [durationMs]
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const rounds = Number(process.argv[2] ?? 10);
  const durationMs = Number(process.argv[3] ?? 1500);
  const r = await benchLink({ rounds, durationMs, bulkBytes: 128 * 1024 * 1024, sseEvents: 500_000 });
  process.stdout.write(`${formatLinkBench(r)}\n`);
}
