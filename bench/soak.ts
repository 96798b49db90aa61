// `npm run bench -- --soak 10m`: steady traffic over several workspaces for a
// while, sampling this process (where warren runs: links, dispatchers, broker and
// gateway) for growth that would be a leak: RSS, heap used after a full GC,
// active handles and open file descriptors. Traffic per workspace: small GETs
// through the link dispatcher, small GETs and paced SSE streams through the
// gateway's pass-through, and a GET on a fresh channel every 200 ms (churn). And
// messages: on further workspaces with the real opencode and the fake model, two
// sessions each send message after message through the gateway's message API, so
// runs, their event logs and opencode's event streams are in what must stay flat.
// Finished runs are held for replay up to a bound (runs.ts: 15 min by default, which
// at ~1.5 messages a second a 10-minute soak would never reach, so the heap would
// climb by their ~3 KiB each to the end); here they are kept RUNS_KEEP_MS, and the
// warm-up lasts past it, so what is measured is the steady state a daemon reaches.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { createWorkspaces, type Workspace } from '../container/testbed/index.js';
import { Broker } from '../src/broker/broker.js';
import type { WarrenConfig, WorkspaceConfig } from '../src/config/schema.js';
import { createLinkDispatcher } from '../src/ssh/dispatcher.js';
import { startGateway, type Gateway } from '../src/gateway/server.js';
import { silentLogger } from '../src/log.js';
import { OPENCODE_PORT, installFakeOpencode } from './daemon.js';
import { median } from './report.js';

/** 30s, 10m, 1h; null when malformed or out of range (1 s to 24 h). */
export function parseDuration(s: string): number | null {
  const m = /^(\d{1,6})(s|m|h)$/.exec(s);
  if (!m) return null;
  const msValue = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
  return msValue >= 1000 && msValue <= 24 * 3_600_000 ? msValue : null;
}

/** Finished runs are kept this long in the soak (the bound it must reach and hold). */
const RUNS_KEEP_MS = 60_000;
/** The longest warm-up: a fifth of the soak, up to this. */
const WARMUP_MAX_MS = 120_000;

interface Sample { t: number; rssMiB: number; heapMiB: number; handles: number; fds: number; requests: number; errors: number; messages: number }

const MiB = 2 ** 20;

function sample(t: number, requests: number, errors: number, messages: number): Sample {
  global.gc?.();
  const mem = process.memoryUsage();
  return {
    t, rssMiB: mem.rss / MiB, heapMiB: mem.heapUsed / MiB,
    handles: process.getActiveResourcesInfo().length, fds: fs.readdirSync('/proc/self/fd').length, requests, errors, messages,
  };
}

/** One message through the gateway's message API, read to its end; the reply's text. */
async function gatewayMessage(base: string, headers: Record<string, string>, d: Dispatcher, ws: string, sessionID: string, text: string): Promise<string> {
  const r = await request(`${base}/v1/workspaces/${ws}/sessions/${sessionID}/messages`, {
    method: 'POST', dispatcher: d, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ text }), headersTimeout: 60_000, bodyTimeout: 60_000,
  });
  const body = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`a message answered ${r.statusCode}: ${body.slice(0, 200)}`);
  const done = /^event: done\ndata: (.*)$/m.exec(body.replace(/^id: .*\n/gm, ''));
  if (!done) throw new Error(`a message ended without done: ${body.slice(-200)}`);
  return (JSON.parse(done[1]!) as { text: string }).text;
}

/** Least-squares slope of y over t (ms), per minute. */
function slopePerMin(xs: Sample[], y: (s: Sample) => number): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mt = xs.reduce((a, s) => a + s.t, 0) / n;
  const my = xs.reduce((a, s) => a + y(s), 0) / n;
  const num = xs.reduce((a, s) => a + (s.t - mt) * (y(s) - my), 0);
  const den = xs.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60_000;
}

function configOf(wss: Workspace[], command: string[]): WarrenConfig {
  const workspaces = new Map<string, WorkspaceConfig>(wss.map((w, i) => [w.name, {
    name: w.name, host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprints: [w.hostKeyFingerprint],
    importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: OPENCODE_PORT, command: command[i]!, idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
  }]));
  return { workspaces, gateway: { listen: '127.0.0.1:0', token: null, tokenFile: null, stateDir: null, allowedOrigins: [] }, logLevel: 'silent', path: null };
}

export async function runSoak(o: { durationMs: number; out: NodeJS.WritableStream; workspaces?: number; messageWorkspaces?: number }): Promise<boolean> {
  const n = o.workspaces ?? 5;
  const m = o.messageWorkspaces ?? 2;
  const say = (s: string) => o.out.write(`${s}\n`);
  say(`soak: ${n} workspaces for ${Math.round(o.durationMs / 1000)} s: dispatcher GETs, gateway GETs and SSE streams, channel churn;`
    + ` ${m} more with opencode and the fake model, two sessions each sending messages through the gateway`);
  if (!global.gc) say('soak: no --expose-gc, so heap figures include garbage (npm run bench passes it)');
  const wss = [
    ...await createWorkspaces(n, { fakeModel: false, namePrefix: 'soak' }),
    ...await createWorkspaces(m, { namePrefix: 'soakmsg' }),
  ];
  const http = wss.slice(0, n);
  const chat = wss.slice(n);
  let broker: Broker | undefined;
  let gateway: Gateway | undefined;
  const dispatchers: Dispatcher[] = [];
  let stop = false;
  let requests = 0;
  let errors = 0;
  let messages = 0;
  let lastError = '';
  try {
    broker = new Broker(configOf(wss, [...http.map(installFakeOpencode), ...chat.map(() => 'opencode')]), { runs: { keepMs: RUNS_KEEP_MS } });
    const token = randomBytes(24).toString('base64url');
    gateway = await startGateway(broker, { listen: '127.0.0.1:0', token, logger: silentLogger });
    const headers = { authorization: `Bearer ${token}` };
    const client = new Agent({ keepAliveTimeout: 30_000 });
    dispatchers.push(client);
    const b = broker;
    await Promise.all(wss.map((w) => b.workspace(w.name).link.waitForUp(30_000)));
    const ok = async (url: string, d: Dispatcher, extra: { reset?: boolean } = {}) => {
      try {
        const r = await request(url, { dispatcher: d, headers, headersTimeout: 60_000, ...extra });
        await r.body.dump();
        if (r.statusCode !== 200) throw new Error(`${url} answered ${r.statusCode}`);
        requests++;
      } catch (err) {
        errors++;
        lastError = (err as Error).message;
        await delay(100);
      }
    };
    // The first pass-through request starts each workspace's fake opencode.
    await Promise.all(http.map((w) => ok(`http://${gateway!.address}/v1/workspaces/${w.name}/opencode/small`, client)));
    const base = `http://${gateway.address}`;
    const sessions = await Promise.all(chat.map(async (w) => Promise.all([1, 2].map(async () => {
      const s = await b.createSession(w.name, {});
      // The server's first prompt loads its code: paid before the clock starts.
      await gatewayMessage(base, headers, client, w.name, s.id, 'warm up');
      return s.id;
    }))));
    const loops: Array<Promise<void>> = [];
    const loop = (pauseMs: number, fn: () => Promise<void>) => loops.push((async () => {
      while (!stop) {
        await fn();
        if (pauseMs) await delay(pauseMs);
      }
    })());
    for (const [i, w] of chat.entries()) {
      for (const id of sessions[i]!) {
        let k = 0;
        loop(0, async () => {
          const text = `soak ${w.name} ${id.slice(-6)} ${k++}`;
          try {
            const reply = await gatewayMessage(base, headers, client, w.name, id, text);
            if (reply !== `echo: ${text}`) throw new Error(`a wrong reply: ${JSON.stringify(reply.slice(0, 80))}`);
            messages++;
          } catch (err) {
            errors++;
            lastError = (err as Error).message;
            await delay(100);
          }
        });
      }
    }
    for (const w of http) {
      const link = b.workspace(w.name).link;
      const d = createLinkDispatcher(link);
      dispatchers.push(d);
      const pass = `http://${gateway.address}/v1/workspaces/${w.name}/opencode`;
      const target = `http://127.0.0.1:${OPENCODE_PORT}`;
      loop(1, () => ok(`${target}/small`, d));
      loop(1, () => ok(`${target}/small`, d));
      loop(5, () => ok(`${pass}/small`, client));
      loop(0, () => ok(`${pass}/sse?count=100&intervalMs=20`, client));
      loop(200, () => ok(`${target}/small`, d, { reset: true }));
    }

    // Past the registry's bound and the first minute and a half of JIT, pools and
    // malloc arenas growing (a 10-minute soak: 2 minutes).
    const warmupMs = Math.min(WARMUP_MAX_MS, o.durationMs / 5);
    const everyMs = Math.max(1000, Math.min(10_000, o.durationMs / 30));
    const samples: Sample[] = [];
    const t0 = performance.now();
    say('    t     RSS MiB  heap MiB  handles  fds  req/s  msg/s  errors');
    let prev = { t: 0, requests: 0, messages: 0 };
    while (performance.now() - t0 < o.durationMs) {
      await delay(Math.min(everyMs, Math.max(0, o.durationMs - (performance.now() - t0))));
      const s = sample(performance.now() - t0, requests, errors, messages);
      if (s.t >= warmupMs) samples.push(s);
      const rps = (s.requests - prev.requests) / ((s.t - prev.t) / 1000);
      const mps = (s.messages - prev.messages) / ((s.t - prev.t) / 1000);
      prev = s;
      say(`${`${(s.t / 1000).toFixed(0)}s`.padStart(6)}  ${s.rssMiB.toFixed(1).padStart(7)}  ${s.heapMiB.toFixed(1).padStart(8)}  ${String(s.handles).padStart(7)}  ${String(s.fds).padStart(3)}  ${rps.toFixed(0).padStart(5)}  ${mps.toFixed(1).padStart(5)}  ${String(s.errors).padStart(6)}${s.t < warmupMs ? '  (warm-up)' : ''}`);
    }
    stop = true;
    await Promise.all(loops);
    if (samples.length < 2) {
      say('soak: too short to say anything about drift; give at least 30s');
      return errors === 0;
    }
    // Start and end: medians of the first and last three samples after warm-up.
    const k = Math.min(3, Math.floor(samples.length / 2));
    const at = (xs: Sample[], f: (s: Sample) => number) => median(xs.map(f));
    const first = samples.slice(0, k);
    const last = samples.slice(-k);
    const metrics: Array<{ name: string; f: (s: Sample) => number; unit: string; limit: (drift: number, start: number, slope: number) => boolean }> = [
      { name: 'RSS', f: (s) => s.rssMiB, unit: 'MiB', limit: (d, st) => d > Math.max(16, st * 0.1) },
      { name: 'heap used after GC', f: (s) => s.heapMiB, unit: 'MiB', limit: (d, _st, sl) => d > 4 && sl > 0.5 },
      { name: 'active handles', f: (s) => s.handles, unit: '', limit: (d) => d > 10 },
      { name: 'open fds', f: (s) => s.fds, unit: '', limit: (d) => d > 10 },
    ];
    let flat = true;
    say(`\nsoak summary (${samples.length} samples after ${(warmupMs / 1000).toFixed(0)} s warm-up; start/end = medians of the first/last ${k}):`);
    for (const mtr of metrics) {
      const start = at(first, mtr.f);
      const end = at(last, mtr.f);
      const slope = slopePerMin(samples, mtr.f);
      const bad = mtr.limit(end - start, start, slope);
      if (bad) flat = false;
      const u = mtr.unit ? ` ${mtr.unit}` : '';
      say(`  ${mtr.name.padEnd(19)} start ${start.toFixed(1)}${u}, end ${end.toFixed(1)}${u}, drift ${end - start >= 0 ? '+' : ''}${(end - start).toFixed(1)}${u}, slope ${slope >= 0 ? '+' : ''}${slope.toFixed(2)}${u}/min${bad ? '  DRIFTING' : ''}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    say(`  ${requests} requests (${(requests / seconds).toFixed(0)}/s) and ${messages} messages through the gateway (${(messages / seconds).toFixed(1)}/s, each its complete reply), ${errors} failed${errors ? ` (last: ${lastError})` : ''}`);
    say(flat && errors === 0 ? 'soak: flat, no failures' : 'soak: NOT flat or requests failed (see above)');
    return flat && errors === 0;
  } finally {
    stop = true;
    await Promise.all(dispatchers.map((d) => d.destroy()));
    await gateway?.close({ graceMs: 1000 });
    await broker?.close({ stopServers: true });
    await Promise.all(wss.map((w) => w.close()));
  }
}
