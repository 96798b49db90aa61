// Messages: warren's warm round trip against today's approach of one
// `opencode run --session <id>` per message inside the workspace, and warren's
// cold first message against opencode's own start time, on the same session and
// fake model, in one run.
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkspace, type Workspace } from '../container/testbed/index.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';
import type { WorkspaceConfig } from '../src/config/schema.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function configOf(ws: Workspace): WorkspaceConfig {
  return {
    name: ws.name, host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint,
    importFrom: [], transport: { kind: 'tcp' }, keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
  };
}

export interface ChatBenchResult { warmMs: number; cliMs: number; coldMs: number; directColdMs: number; rounds: number }

const COLD_DIRECT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cold-direct.js');

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
      starts.push(await directCold(ws, 4097));
      rt = new WorkspaceRuntime(configOf(ws)).start();
      await rt.link.waitForUp(10_000);
      const t0 = performance.now();
      const s = await rt.createSession();
      await rt.chat(s.id, { text: 'cold hello' }, s);
      cold.push(performance.now() - t0);
      await rt.close({ stopServer: true });
      rt = undefined;
    }
    rt = new WorkspaceRuntime(configOf(ws)).start();
    await rt.link.waitForUp(10_000);
    const s = await rt.createSession({ directory: `${ws.home}/projects` });
    await rt.chat(s.id, { text: 'warm up' });
    const warm: number[] = [];
    const cli: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      let t0 = performance.now();
      await rt.chat(s.id, { text: `warm ${i}` });
      warm.push(performance.now() - t0);
      // Today's approach: one CLI process per message, on the same session.
      t0 = performance.now();
      const r = await ws.runAsUser(['opencode', 'run', '--session', s.id, `cli ${i}`], { cwd: `${ws.home}/projects`, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`opencode run failed: ${r.stderr.slice(-200)}`);
      cli.push(performance.now() - t0);
    }
    return { warmMs: median(warm), cliMs: median(cli), coldMs: median(cold), directColdMs: median(starts), rounds: o.rounds };
  } finally {
    await rt?.close({ stopServer: true });
    await ws.close();
  }
}

export function formatChatBench(r: ChatBenchResult): string {
  const speedup = r.cliMs / r.warmMs;
  const overhead = r.coldMs - r.directColdMs;
  return [
    `warm message round trip: warren ${r.warmMs.toFixed(0)} ms, opencode run --session ${r.cliMs.toFixed(0)} ms: ${speedup.toFixed(1)}x faster (goal >= 20x) ${speedup >= 20 ? 'met' : 'NOT MET'}`,
    `cold first message: warren ${r.coldMs.toFixed(0)} ms, the same done directly in the workspace ${r.directColdMs.toFixed(0)} ms: ${overhead >= 0 ? '+' : ''}${overhead.toFixed(0)} ms (goal <= +150 ms) ${overhead <= 150 ? 'met' : 'NOT MET'}`,
    `medians of ${r.rounds} rounds; a cold message = start opencode serve, create a session, send, wait for idle`,
  ].join('\n');
}
