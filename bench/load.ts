// A closed-loop HTTP load generator on undici: `concurrency` workers each send one
// request after another until the time is up. The same code drives every path
// compared (direct, ssh -L, warren), so only the path differs.
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';

export interface LoadResult { requests: number; errors: number; seconds: number; rps: number; p50Ms: number; p99Ms: number }

export async function runLoad(url: string, o: { dispatcher: Dispatcher; concurrency: number; durationMs: number }): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + o.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await request(url, { dispatcher: o.dispatcher });
        await r.body.dump();
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { requests: latencies.length, errors, seconds, rps: latencies.length / seconds, p50Ms: pick(0.5), p99Ms: pick(0.99) };
}

/** Downloads `bytes` from url and returns MB/s (10^6 bytes per second). */
export async function runBulk(url: string, o: { dispatcher: Dispatcher; bytes: number }): Promise<number> {
  const t0 = performance.now();
  const r = await request(`${url}?n=${o.bytes}`, { dispatcher: o.dispatcher });
  let got = 0;
  for await (const chunk of r.body) got += (chunk as Buffer).length;
  if (got !== o.bytes) throw new Error(`bulk download got ${got} of ${o.bytes} bytes`);
  return o.bytes / 1e6 / ((performance.now() - t0) / 1000);
}
