// The link benchmark: small GETs (p50/p99, req/s at c=1 and c=32) and bulk
// download MB/s through three paths to the same HTTP target in a test-bed
// workspace, measured in interleaved rounds of one run and reported as ratios:
//   direct  - the client inside the workspace's namespace (no SSH at all)
//   ssh -L  - OpenSSH `ssh -N -L`, the client on the host
//   warren  - warren's link dispatcher, the client on the host
// These machines are noisy: compare the ratios, never absolute times across runs.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, type Dispatcher } from 'undici';
import { createWorkspace, freePort, run, waitFor, type Workspace } from '../container/testbed/index.js';
import { Link } from '../src/ssh/link.js';
import { createLinkDispatcher } from '../src/http/dispatcher.js';
import { runBulk, runLoad, type LoadResult } from './load.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const LOAD_CLI = path.join(here, 'load-cli.js');
const CIPHER = 'aes128-gcm@openssh.com';

export interface LinkBenchOptions { rounds: number; durationMs: number; bulkBytes: number }
type PathName = 'direct' | 'ssh -L' | 'warren';
interface Figures { p50c1: number; p99c1: number; rpsc1: number; p50c32: number; p99c32: number; rpsc32: number; bulk: number }


async function sshL(ws: Workspace, targetPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const argv = ws.sshArgv([], ['-N', '-c', CIPHER, '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${port}:127.0.0.1:${targetPort}`]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  await waitFor('ssh -L to listen', () => new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 10_000 });
  return { port, child };
}

async function direct(ws: Workspace, args: string[]): Promise<unknown> {
  const r = await ws.runInside([process.execPath, LOAD_CLI, ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`direct load failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

export interface LinkBenchResult { figures: Record<PathName, Figures>; nativeCrypto: boolean; cipher: string | null; rounds: number }

export async function benchLink(o: LinkBenchOptions): Promise<LinkBenchResult> {
  const ws = await createWorkspace({ name: 'bench-link', fakeModel: false });
  let link: Link | undefined;
  let sshChild: ChildProcess | undefined;
  const dispatchers: Dispatcher[] = [];
  try {
    const target = await ws.startTarget();
    link = new Link({ name: ws.name, user: ws.user, transport: { kind: 'tcp', host: ws.host, port: ws.port },
      privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint });
    link.start();
    await link.waitForUp(10_000);
    const fwd = await sshL(ws, target.port);
    sshChild = fwd.child;
    const warrenD = createLinkDispatcher(link);
    const sshD = new Agent({ keepAliveTimeout: 30_000 });
    dispatchers.push(warrenD, sshD);
    const urls: Record<Exclude<PathName, 'direct'>, { url: string; d: Dispatcher }> = {
      'ssh -L': { url: `http://127.0.0.1:${fwd.port}`, d: sshD },
      warren: { url: `http://127.0.0.1:${target.port}`, d: warrenD },
    };
    const directUrl = `http://127.0.0.1:${target.port}`;
    const samples: Record<PathName, Figures[]> = { direct: [], 'ssh -L': [], warren: [] };
    const measure = async (p: PathName): Promise<Figures> => {
      const load = async (c: number): Promise<LoadResult> => (p === 'direct'
        ? direct(ws, ['load', `${directUrl}/small`, String(c), String(o.durationMs)]) as Promise<LoadResult>
        : runLoad(`${urls[p].url}/small`, { dispatcher: urls[p].d, concurrency: c, durationMs: o.durationMs }));
      const c1 = await load(1);
      const c32 = await load(32);
      const bulk = p === 'direct'
        ? ((await direct(ws, ['bulk', `${directUrl}/bytes`, String(o.bulkBytes)])) as { mbps: number }).mbps
        : await runBulk(`${urls[p].url}/bytes`, { dispatcher: urls[p].d, bytes: o.bulkBytes });
      if (c1.errors || c32.errors) throw new Error(`${p}: ${c1.errors + c32.errors} requests failed`);
      return { p50c1: c1.p50Ms, p99c1: c1.p99Ms, rpsc1: c1.rps, p50c32: c32.p50Ms, p99c32: c32.p99Ms, rpsc32: c32.rps, bulk };
    };
    // Warm every path once, then interleave rounds so drift hits all paths alike.
    for (const p of ['direct', 'ssh -L', 'warren'] as const) await measure(p);
    for (let r = 0; r < o.rounds; r++) {
      for (const p of ['direct', 'ssh -L', 'warren'] as const) samples[p].push(await measure(p));
    }
    const fold = (xs: Figures[]): Figures => ({
      p50c1: median(xs.map((x) => x.p50c1)), p99c1: median(xs.map((x) => x.p99c1)), rpsc1: median(xs.map((x) => x.rpsc1)),
      p50c32: median(xs.map((x) => x.p50c32)), p99c32: median(xs.map((x) => x.p99c32)), rpsc32: median(xs.map((x) => x.rpsc32)),
      bulk: median(xs.map((x) => x.bulk)),
    });
    const snap = link.snapshot();
    return {
      figures: { direct: fold(samples.direct), 'ssh -L': fold(samples['ssh -L']), warren: fold(samples.warren) },
      nativeCrypto: snap.nativeCrypto, cipher: snap.cipher, rounds: o.rounds,
    };
  } finally {
    await Promise.all(dispatchers.map((d) => d.destroy()));
    sshChild?.kill('SIGTERM');
    await link?.close();
    await ws.close();
  }
}

export interface GoalRow { what: string; value: string; goal: string; met: boolean }

export function linkGoals(r: LinkBenchResult): GoalRow[] {
  const w = r.figures.warren;
  const s = r.figures['ssh -L'];
  const d = r.figures.direct;
  const x = (n: number) => `${n.toFixed(2)}x`;
  return [
    { what: 'small GET p50 (c=1), warren / ssh -L', value: x(w.p50c1 / s.p50c1), goal: '<= 1.0x', met: w.p50c1 <= s.p50c1 },
    { what: 'small GET p50 (c=1), warren - direct', value: `+${(w.p50c1 - d.p50c1).toFixed(3)} ms`, goal: '<= +0.3 ms', met: w.p50c1 - d.p50c1 <= 0.3 },
    { what: 'small GET req/s (c=32), warren / ssh -L', value: x(w.rpsc32 / s.rpsc32), goal: '>= 1.2x', met: w.rpsc32 >= 1.2 * s.rpsc32 },
    { what: 'bulk MB/s, warren / ssh -L', value: x(w.bulk / s.bulk), goal: '>= 1.0x', met: w.bulk >= s.bulk },
  ];
}

export function formatLinkBench(r: LinkBenchResult): string {
  const rows: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  rows.push(`${pad('path', 8)} ${pad('p50 c=1', 10)} ${pad('p99 c=1', 10)} ${pad('req/s c=1', 10)} ${pad('p50 c=32', 10)} ${pad('p99 c=32', 10)} ${pad('req/s c=32', 11)} bulk MB/s`);
  for (const p of ['direct', 'ssh -L', 'warren'] as const) {
    const f = r.figures[p];
    rows.push(`${pad(p, 8)} ${pad(`${f.p50c1.toFixed(3)} ms`, 10)} ${pad(`${f.p99c1.toFixed(3)} ms`, 10)} ${pad(f.rpsc1.toFixed(0), 10)} ${pad(`${f.p50c32.toFixed(3)} ms`, 10)} ${pad(`${f.p99c32.toFixed(3)} ms`, 10)} ${pad(f.rpsc32.toFixed(0), 11)} ${f.bulk.toFixed(0)}`);
  }
  rows.push('');
  for (const g of linkGoals(r)) rows.push(`${pad(g.what, 42)} ${pad(g.value, 12)} goal ${pad(g.goal, 10)} ${g.met ? 'met' : 'NOT MET'}`);
  rows.push('');
  rows.push(`ssh2 native crypto: ${r.nativeCrypto ? 'loaded' : 'not loaded'}; cipher: ${r.cipher ?? '?'} (ssh -L forced to ${CIPHER}); medians of ${r.rounds} interleaved rounds`);
  return rows.join('\n');
}

// Run directly: node dist/bench/link.js [rounds] [durationMs]
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const rounds = Number(process.argv[2] ?? 3);
  const durationMs = Number(process.argv[3] ?? 1500);
  const r = await benchLink({ rounds, durationMs, bulkBytes: 128 * 1024 * 1024 });
  process.stdout.write(`${formatLinkBench(r)}\n`);
  void run;
}
