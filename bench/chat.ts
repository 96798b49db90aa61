// Messages: warren's warm round trip against today's approaches, one
// `opencode run --session <id>` per message inside the workspace and Perry's exec'd
// curl per API call (bench/exec-curl.ts), and warren's cold first message against
// opencode's own start time, on the same session and fake model, in one run.
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkspace, type Workspace } from '../container/testbed/index.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';
import type { WorkspaceConfig } from '../src/config/schema.js';
import { differenceOf, judge, median, ms, ratioOf, signedMs, spread, withRange, x, type Row } from './report.js';
import { execCurl } from './exec-curl.js';

function configOf(ws: Workspace): WorkspaceConfig {
  return {
    name: ws.name, host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprints: [ws.hostKeyFingerprint],
    importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
  };
}

export interface ChatBenchResult {
  warmMs: number; cliMs: number; coldMs: number; directColdMs: number; rounds: number;
  /** The same steps as warren's warm message, done directly inside the workspace; and its send-to-idle part. */
  warmDirectMs: number; warmOpencodeMs: number;
  /** The same steps with each API call an exec'd curl (Perry's way); and one such call alone. */
  execCurlMs: number; execCallMs: number;
  /** Each round's figures, for the per-round verdicts: warren's warm and cold messages and their direct twins. */
  samples: { warm: number[]; warmDirect: number[]; cold: number[]; coldDirect: number[] };
}

const COLD_DIRECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cold-direct.js');
const WARM_DIRECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'warm-direct.js');

async function directWarm(ws: Workspace, sessionID: string, directory: string): Promise<{ totalMs: number; opencodeMs: number }> {
  const r = await ws.runAsUser([process.execPath, WARM_DIRECT, '4096', sessionID, directory, '1'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`direct warm message failed: ${r.stderr.slice(-300)}`);
  return JSON.parse(r.stdout) as { totalMs: number; opencodeMs: number };
}

/** The same cold first message done directly inside the workspace (bench/cold-direct.ts). */
async function directCold(ws: Workspace, port: number): Promise<number> {
  const r = await ws.runAsUser([process.execPath, COLD_DIRECT, String(port)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`direct cold start failed: ${r.stderr.slice(-300)}`);
  return Number(r.stdout.trim());
}

export async function benchChat(o: { rounds: number }): Promise<ChatBenchResult> {
  const ws = await createWorkspace({ name: 'bench-chat' });
  let rt: WorkspaceRuntime | undefined;
  try {
    const cold: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      // Which goes first alternates: the second of two cold starts finds the page cache warm.
      if (i % 2 === 0) starts.push(await directCold(ws, 4097));
      rt = new WorkspaceRuntime(configOf(ws)).start();
      await rt.link.waitForUp(10_000);
      const t0 = performance.now();
      const s = await rt.createSession();
      await rt.chat(s.id, { text: 'cold hello' }, s);
      cold.push(performance.now() - t0);
      await rt.close({ stopServer: true });
      rt = undefined;
      if (i % 2 === 1) starts.push(await directCold(ws, 4097));
    }
    rt = new WorkspaceRuntime(configOf(ws)).start();
    await rt.link.waitForUp(10_000);
    const s = await rt.createSession({ directory: `${ws.home}/projects` });
    await rt.chat(s.id, { text: 'warm up' });
    const perry = execCurl(ws, 4096);
    await perry.message(s.id, s.directory, 'exec warm up');
    const warm: number[] = [];
    const exec: number[] = [];
    const execCall: number[] = [];
    const cli: number[] = [];
    const dWarm: number[] = [];
    const dOc: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      let t0 = performance.now();
      await rt.chat(s.id, { text: `warm ${i}` });
      warm.push(performance.now() - t0);
      // Today's approach: one CLI process per message, on the same session.
      t0 = performance.now();
      const r = await ws.runAsUser(['opencode', 'run', '--session', s.id, `cli ${i}`], { cwd: `${ws.home}/projects`, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`opencode run failed: ${r.stderr.slice(-200)}`);
      cli.push(performance.now() - t0);
      const d = await directWarm(ws, s.id, s.directory);
      dWarm.push(d.totalMs);
      dOc.push(d.opencodeMs);
      const e = await perry.message(s.id, s.directory, `exec ${i}`);
      exec.push(e.totalMs);
      execCall.push(e.callMs);
    }
    return {
      warmMs: median(warm), cliMs: median(cli), coldMs: median(cold), directColdMs: median(starts), rounds: o.rounds,
      warmDirectMs: median(dWarm), warmOpencodeMs: median(dOc), execCurlMs: median(exec), execCallMs: median(execCall),
      samples: { warm, warmDirect: dWarm, cold, coldDirect: starts },
    };
  } finally {
    await rt?.close({ stopServer: true });
    await ws.close();
  }
}

/** value against anchor, as times: "3.1x faster" or "1.2x slower". */
function fasterThan(value: number, anchor: number): string {
  return anchor >= value ? `${(anchor / value).toFixed(1)}x faster` : `${(value / anchor).toFixed(1)}x slower`;
}

export function chatRows(r: ChatBenchResult): Row[] {
  const speedup = r.cliMs / r.warmMs;
  const { warm, warmDirect, cold, coldDirect } = r.samples;
  const like = judge(warm, warmDirect, ratioOf, (c) => c <= 1.05);
  const coldJ = judge(cold, coldDirect, differenceOf, (c) => c <= 150);
  return [
    // Like for like: the same API calls, over warren's tunnel or made inside the workspace.
    { what: 'warm message round trip, warren', value: withRange(spread(warm), (n) => ms(n)), anchor: `the same steps direct ${withRange(spread(warmDirect), (n) => ms(n))}`,
      ratio: withRange(like.compared, x), goal: '<= 1.05x', met: like.met },
    { what: 'warm message round trip, warren', value: ms(r.warmMs), anchor: `opencode run --session ${ms(r.cliMs)}`, ratio: `${speedup.toFixed(1)}x faster`, goal: '>= 20x faster', met: speedup >= 20,
      limit: `the same steps done directly inside the workspace take ${ms(r.warmDirectMs)}, of which opencode's own send-to-idle is ${ms(r.warmOpencodeMs)};`
        + ` even with no tunnel at all the ratio would be ${(r.cliMs / r.warmDirectMs).toFixed(1)}x` },
    // No goal: the test bed's exec is far cheaper than `docker exec`, so this anchor is Perry's floor, not its cost.
    { what: 'warm message round trip, warren', value: ms(r.warmMs), anchor: `exec'd curl per API call ${ms(r.execCurlMs)}`, ratio: fasterThan(r.warmMs, r.execCurlMs), goal: '', met: null },
    { what: 'cold first message, warren', value: withRange(spread(cold), (n) => ms(n)), anchor: `opencode's own start, directly ${withRange(spread(coldDirect), (n) => ms(n))}`,
      ratio: withRange(coldJ.compared, (n) => signedMs(n)), goal: '<= +150 ms', met: coldJ.met },
  ];
}

export function formatChatBench(r: ChatBenchResult): string {
  return [
    `warm message round trip: warren ${ms(r.warmMs)}, one opencode run --session per message ${ms(r.cliMs)}: ${x(r.cliMs / r.warmMs)} faster`,
    `  each API call an exec'd curl in the workspace, the event stream an exec'd curl -N (Perry's way; 4 processes per message): ${ms(r.execCurlMs)}: `
      + `warren ${fasterThan(r.warmMs, r.execCurlMs)}; one exec'd call alone (the session lookup): ${ms(r.execCallMs)}`,
    `  the same steps directly inside the workspace (lookup, subscribe, send, idle, history): ${ms(r.warmDirectMs)}; send to idle alone (opencode's work): ${ms(r.warmOpencodeMs)}`,
    `cold first message: warren ${ms(r.coldMs)}, the same done directly in the workspace ${ms(r.directColdMs)}: ${signedMs(r.coldMs - r.directColdMs)}`,
    `medians of ${r.rounds} rounds; a cold message = start opencode serve, create a session, send, wait for idle;`
      + ' a test-bed exec is ip netns exec + setpriv, no container runtime: a docker exec also goes through the Docker daemon and runc',
  ].join('\n');
}
