// A closed-loop HTTP load generator on undici: `concurrency` workers each send one
// request after another until the time is up. The same code drives every path
// compared (direct, ssh -L, warren, gateway), so only the path differs.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';

export interface LoadResult {
  requests: number; errors: number; seconds: number; rps: number; p50Ms: number; p99Ms: number;
  /** CPU time of this (the client's) process over the run, in % of one core. */
  cpuPct: number;
}

export interface ClientOptions { dispatcher: Dispatcher; headers?: Record<string, string> }

/** CPU time a process has used so far, in ms (utime + stime from /proc; 0 if it is gone). */
export function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms (CLK_TCK 100)
  } catch {
    return 0;
  }
}

export async function runLoad(url: string, o: ClientOptions & { concurrency: number; durationMs: number }): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + o.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await request(url, { dispatcher: o.dispatcher, ...(o.headers ? { headers: o.headers } : {}) });
        await r.body.dump();
        if (r.statusCode !== 200) errors++;
        else latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requests: latencies.length, errors, seconds, rps: latencies.length / seconds, p50Ms: pick(0.5), p99Ms: pick(0.99),
    cpuPct: (cpu.user + cpu.system) / 1e4 / seconds,
  };
}

/** Downloads `bytes` from url and returns MB/s (10^6 bytes per second). */
export async function runBulk(url: string, o: ClientOptions & { bytes: number }): Promise<number> {
  const t0 = performance.now();
  const r = await request(`${url}?n=${o.bytes}`, { dispatcher: o.dispatcher, ...(o.headers ? { headers: o.headers } : {}) });
  let got = 0;
  for await (const chunk of r.body) got += (chunk as Buffer).length;
  if (got !== o.bytes) throw new Error(`bulk download got ${got} of ${o.bytes} bytes`);
  return o.bytes / 1e6 / ((performance.now() - t0) / 1000);
}

/**
 * Reads `count` events from the target's /sse-burst (as fast as they come) and
 * returns events per second, counting frames by their blank-line ends.
 */
export async function runSse(url: string, o: ClientOptions & { count: number }): Promise<number> {
  const t0 = performance.now();
  const r = await request(`${url}?count=${o.count}`, { dispatcher: o.dispatcher, ...(o.headers ? { headers: o.headers } : {}) });
  if (r.statusCode !== 200) throw new Error(`SSE answered ${r.statusCode}`);
  let frames = 0;
  let lastWasNewline = false;
  for await (const chunk of r.body) {
    const buf = chunk as Buffer;
    let i = buf.indexOf(10);
    if (i === 0 && lastWasNewline) frames++;
    while (i !== -1) {
      if (buf[i + 1] === 10) frames++;
      i = buf.indexOf(10, i + 1);
    }
    lastWasNewline = buf[buf.length - 1] === 10;
  }
  // Every data event plus the end marker.
  if (frames !== o.count + 1) throw new Error(`SSE stream had ${frames - 1} of ${o.count} events`);
  return o.count / ((performance.now() - t0) / 1000);
}
