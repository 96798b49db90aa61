// Messages: warren's warm round trip against today's approaches, one
// `opencode run --session <id>` per message inside the workspace and Perry's exec'd
// curl per API call (bench/exec-curl.ts), and warren's cold first message against
// opencode's own start time, on the same session and fake model, in one run. The
// time to the first token is taken for the library and for the gateway (a `warren
// daemon` on the same workspace and server) against the same steps made directly
// inside the workspace, round by round.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkspace, type Workspace } from '../container/testbed/index.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';
import type { WorkspaceConfig } from '../src/config/schema.js';
import { differenceOf, judge, median, ms, ratioOf, signedMs, spread, withRange, x, type Row } from './report.js';
import { execCurl } from './exec-curl.js';
import { startDaemon, type BenchDaemon } from './daemon.js';

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
  samples: { warm: number[]; warmDirect: number[]; cold: number[]; coldDirect: number[]; gateway: number[]; fromNothing: number[]; handshake: number[]; cli: number[]; exec: number[] };
  /** Time to the first token, each round: the library, the gateway, and the same steps made directly. */
  ttft: { library: number[]; gateway: number[]; direct: number[] };
}

const COLD_DIRECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cold-direct.js');
const WARM_DIRECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'warm-direct.js');

async function directWarm(ws: Workspace, sessionID: string, directory: string): Promise<{ totalMs: number; opencodeMs: number; ttftMs: number }> {
  const r = await ws.runAsUser([process.execPath, WARM_DIRECT, '4096', sessionID, directory, '1'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`direct warm message failed: ${r.stderr.slice(-300)}`);
  return JSON.parse(r.stdout) as { totalMs: number; opencodeMs: number; ttftMs: number };
}

/** One message through the gateway's message API, as a host agent sends it: the whole and its first `text` event. */
async function gatewayMessage(d: BenchDaemon, ws: Workspace, sessionID: string, text: string): Promise<{ totalMs: number; ttftMs: number }> {
  const t0 = performance.now();
  const res = await request(`${d.base}/v1/workspaces/${ws.name}/sessions/${sessionID}/messages`, {
    method: 'POST', headers: { ...d.headers, 'content-type': 'application/json' }, body: JSON.stringify({ text }), headersTimeout: 60_000, bodyTimeout: 60_000,
  });
  if (res.statusCode !== 200) throw new Error(`the gateway answered ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
  let ttftMs = NaN;
  let buf = '';
  for await (const chunk of res.body) {
    buf += (chunk as Buffer).toString();
    if (Number.isNaN(ttftMs) && /^event: text$/m.test(buf)) ttftMs = performance.now() - t0;
    if (/^event: error$/m.test(buf)) throw new Error(`the gateway's run failed: ${buf.slice(-300)}`);
    if (/^event: done$/m.test(buf)) break;
  }
  res.body.destroy();
  return { totalMs: performance.now() - t0, ttftMs };
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
  let daemon: BenchDaemon | undefined;
  try {
    const cold: number[] = [];
    const fromNothing: number[] = [];
    const handshakes: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      // Which goes first alternates: the second of two cold starts finds the page cache warm.
      if (i % 2 === 0) starts.push(await directCold(ws, 4097));
      // From nothing: no link yet, so the SSH handshake is in it; the daemon's cold
      // message (the link already up) is the part after it.
      const t00 = performance.now();
      rt = new WorkspaceRuntime(configOf(ws)).start();
      await rt.link.waitForUp(10_000);
      const t0 = performance.now();
      const s = await rt.createSession();
      await rt.chat(s.id, { text: 'cold hello' }, s);
      cold.push(performance.now() - t0);
      fromNothing.push(performance.now() - t00);
      handshakes.push(t0 - t00);
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
    // A daemon on the same workspace: it adopts the server the library started.
    daemon = await startDaemon(ws, { opencode: 'real' });
    await gatewayMessage(daemon, ws, s.id, 'gateway warm up');
    const gw: number[] = [];
    const ttft = { library: [] as number[], gateway: [] as number[], direct: [] as number[] };
    const warm: number[] = [];
    const exec: number[] = [];
    const execCall: number[] = [];
    const cli: number[] = [];
    const dWarm: number[] = [];
    const dOc: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      let t0 = performance.now();
      let first = NaN;
      await rt.chat(s.id, { text: `warm ${i}`, onDelta: () => { if (Number.isNaN(first)) first = performance.now() - t0; } });
      warm.push(performance.now() - t0);
      ttft.library.push(first);
      const g = await gatewayMessage(daemon, ws, s.id, `gateway ${i}`);
      gw.push(g.totalMs);
      ttft.gateway.push(g.ttftMs);
      // Today's approach: one CLI process per message, on the same session.
      t0 = performance.now();
      const r = await ws.runAsUser(['opencode', 'run', '--session', s.id, `cli ${i}`], { cwd: `${ws.home}/projects`, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`opencode run failed: ${r.stderr.slice(-200)}`);
      cli.push(performance.now() - t0);
      const d = await directWarm(ws, s.id, s.directory);
      dWarm.push(d.totalMs);
      dOc.push(d.opencodeMs);
      ttft.direct.push(d.ttftMs);
      const e = await perry.message(s.id, s.directory, `exec ${i}`);
      exec.push(e.totalMs);
      execCall.push(e.callMs);
    }
    return {
      warmMs: median(warm), cliMs: median(cli), coldMs: median(cold), directColdMs: median(starts), rounds: o.rounds,
      warmDirectMs: median(dWarm), warmOpencodeMs: median(dOc), execCurlMs: median(exec), execCallMs: median(execCall),
      samples: { warm, warmDirect: dWarm, cold, coldDirect: starts, gateway: gw, fromNothing, handshake: handshakes, cli, exec }, ttft,
    };
  } finally {
    // The daemon first: its drain stops the server both share.
    await daemon?.close();
    await rt?.close({ stopServer: true });
    await ws.close();
  }
}

/** value against anchor, as times: "3.1x faster" or "1.2x slower". */
function fasterThan(value: number, anchor: number): string {
  return anchor >= value ? `${(anchor / value).toFixed(1)}x faster` : `${(value / anchor).toFixed(1)}x slower`;
}

export function chatRows(r: ChatBenchResult): Row[] {
  const { warm, warmDirect, cold, coldDirect } = r.samples;
  const like = judge(warm, warmDirect, ratioOf, (c) => c <= 1.05);
  const coldJ = judge(cold, coldDirect, differenceOf, (c) => c <= 150);
  const cliJ = judge(warm, r.samples.cli, (v, a) => a / v, (c) => c >= 20);
  const ttftRow = (who: string, xs: number[]): Row => {
    const j = judge(xs, r.ttft.direct, differenceOf, (c) => c <= 5);
    return { what: `time to first token, ${who}`, value: withRange(spread(xs), (n) => ms(n)), anchor: `the same steps direct ${withRange(spread(r.ttft.direct), (n) => ms(n))}`,
      ratio: withRange(j.compared, (n) => signedMs(n)), goal: '<= +5 ms', met: j.met };
  };
  const gwJ = judge(r.samples.gateway, warmDirect, ratioOf, () => true);
  const nothingJ = judge(r.samples.fromNothing, coldDirect, differenceOf, (c) => c <= 150);
  return [
    // Like for like: the same API calls, over warren's tunnel or made inside the workspace.
    { what: 'warm message round trip, warren', value: withRange(spread(warm), (n) => ms(n)), anchor: `the same steps direct ${withRange(spread(warmDirect), (n) => ms(n))}`,
      ratio: withRange(like.compared, x), goal: '<= 1.05x', met: like.met },
    { what: 'warm message round trip, warren', value: withRange(spread(warm), (n) => ms(n)), anchor: `opencode run --session ${withRange(spread(r.samples.cli), (n) => ms(n))}`,
      ratio: withRange(cliJ.compared, (n) => `${n.toFixed(1)}x faster`), goal: '>= 20x faster', met: cliJ.met,
      limit: `the same steps done directly inside the workspace take ${ms(r.warmDirectMs)}, of which opencode's own send-to-idle is ${ms(r.warmOpencodeMs)};`
        + ` even with no tunnel at all the ratio would be ${(r.cliMs / r.warmDirectMs).toFixed(1)}x` },
    // No goal: the test bed's exec is far cheaper than `docker exec`, so this anchor is Perry's floor, not its cost.
    { what: 'warm message round trip, warren', value: withRange(spread(warm), (n) => ms(n)), anchor: `exec'd curl per API call ${withRange(spread(r.samples.exec), (n) => ms(n))}`,
      ratio: fasterThan(r.warmMs, r.execCurlMs), goal: '', met: null },
    ttftRow('library', r.ttft.library),
    ttftRow('gateway', r.ttft.gateway),
    // No goal of its own: the gateway adds the HTTP hop and its run log to the library's steps.
    { what: 'warm message round trip, gateway', value: withRange(spread(r.samples.gateway), (n) => ms(n)), anchor: `the same steps direct ${withRange(spread(warmDirect), (n) => ms(n))}`,
      ratio: withRange(gwJ.compared, x), goal: '', met: null },
    { what: 'cold first message, warren', value: withRange(spread(cold), (n) => ms(n)), anchor: `opencode's own start, directly ${withRange(spread(coldDirect), (n) => ms(n))}`,
      ratio: withRange(coldJ.compared, (n) => signedMs(n)), goal: '<= +150 ms', met: coldJ.met },
    { what: 'cold first message from nothing (SSH handshake included)', value: withRange(spread(r.samples.fromNothing), (n) => ms(n)),
      anchor: `opencode's own start, directly ${withRange(spread(coldDirect), (n) => ms(n))}`,
      ratio: withRange(nothingJ.compared, (n) => signedMs(n)), goal: '<= +150 ms', met: nothingJ.met,
      limit: `the link coming up (TCP, key exchange, authentication) took ${withRange(spread(r.samples.handshake), (n) => ms(n))} of it` },
  ];
}

export function formatChatBench(r: ChatBenchResult): string {
  return [
    `warm message round trip: warren ${ms(r.warmMs)}, one opencode run --session per message ${ms(r.cliMs)}: ${x(r.cliMs / r.warmMs)} faster`,
    `  each API call an exec'd curl in the workspace, the event stream an exec'd curl -N (Perry's way; 4 processes per message): ${ms(r.execCurlMs)}: `
      + `warren ${fasterThan(r.warmMs, r.execCurlMs)}; one exec'd call alone (the session lookup): ${ms(r.execCallMs)}`,
    `  the same steps directly inside the workspace (lookup, subscribe, send, idle, history): ${ms(r.warmDirectMs)}; send to idle alone (opencode's work): ${ms(r.warmOpencodeMs)}`,
    `time to first token (from the call to the reply's first text): library ${ms(median(r.ttft.library))}, gateway ${ms(median(r.ttft.gateway))}, `
      + `the same steps directly in the workspace ${ms(median(r.ttft.direct))}; a warm message through the gateway ${ms(median(r.samples.gateway))}`,
    `cold first message: warren ${ms(r.coldMs)}, the same done directly in the workspace ${ms(r.directColdMs)}: ${signedMs(r.coldMs - r.directColdMs)};`
      + ` from nothing (the link's handshake first, ${ms(median(r.samples.handshake))}): ${ms(median(r.samples.fromNothing))}`,
    `medians of ${r.rounds} rounds; a cold message = start opencode serve, create a session, send, wait for idle;`
      + ' a test-bed exec is ip netns exec + setpriv, no container runtime: a docker exec also goes through the Docker daemon and runc',
  ].join('\n');
}
