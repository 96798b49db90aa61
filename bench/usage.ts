// `node dist/bench/usage.js [--sessions N] [--rounds R]`: what `warren usage` costs on a
// workspace of N sessions (default 1000): one real session made by the CLI, cloned in
// opencode's database. Per round, interleaved:
//   warren cold  - a new ledger reads every session (WorkspaceRuntime.usage, 4 at a time)
//   ssh -L cold  - the same calls (the session list, then each session's newest 100
//                  messages, 4 at a time) with undici through OpenSSH `ssh -N -L`
//   warren warm  - the ledger asked again, nothing changed: the list call alone
//   ssh -L list  - the list call through ssh -L
// Prints medians with ranges over the rounds and the ratios, round by round.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { createWorkspace } from '../container/testbed/index.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';
import { workspaceConfig, cliSession } from '../test/helpers/runtime.js';
import { cloneSession } from '../test/helpers/clone-sessions.js';
import { OPENCODE_PORT } from './daemon.js';
import { sshL } from './link.js';
import { median, spread, withRange } from './report.js';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } } });
const N = Number(values.sessions);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(N) || N < 1 || N > 9999 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write('usage: node dist/bench/usage.js [--sessions 1-9999] [--rounds N]\n');
  process.exit(2);
}

const ws = await createWorkspace({ name: 'usagebench' });
const closers: Array<() => Promise<unknown>> = [() => ws.close()];
try {
  const template = await cliSession(ws, `${ws.home}/proj`, '[[fake:usage=100,20,5,10]] the template');
  await cloneSession(ws, template, N);
  const config = workspaceConfig(ws);
  const warm = new WorkspaceRuntime(config).start();
  closers.push(() => warm.close({ stopServer: true }));
  const since = Date.now() - 86_400_000;
  const q = { since, by: 'workspace' as const };
  await warm.usage(q); // starts the server and fills the warm ledger
  const fwd = await sshL(ws, OPENCODE_PORT);
  closers.push(async () => { fwd.child.kill(); });
  const agent = new Agent({ connections: 8 });
  closers.push(() => agent.close());
  const auth = warm.server.authorization();
  const get = async (path: string) => {
    const r = await request(`http://127.0.0.1:${fwd.port}${path}`, { dispatcher: agent, headers: { authorization: auth } });
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`);
    return JSON.parse(await r.body.text()) as unknown;
  };
  const listPath = `/experimental/session?start=${since}&limit=10000`;
  const plainCold = async () => {
    const sessions = await get(listPath) as Array<{ id: string; directory: string }>;
    let i = 0;
    const worker = async () => {
      while (i < sessions.length) {
        const s = sessions[i++]!;
        await get(`/session/${s.id}/message?limit=100&directory=${encodeURIComponent(s.directory)}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return sessions.length;
  };
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const f = { warrenCold: [] as number[], sshCold: [] as number[], warrenWarm: [] as number[], sshList: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    const rt = new WorkspaceRuntime(config).start();
    try {
      await rt.link.waitForUp(15_000);
      f.warrenCold.push(await time(() => rt.usage(q)));
    } finally {
      await rt.close({ stopServer: false });
    }
    f.sshCold.push(await time(plainCold));
    f.warrenWarm.push(await time(() => warm.usage(q)));
    f.sshList.push(await time(() => get(listPath)));
  }
  const ratio = (a: number[], b: number[]) => spread(a.map((v, i) => v / b[i]!));
  const msf = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
  const xf = (n: number) => `${n.toFixed(2)}x`;
  process.stdout.write([
    `usage over ${N} sessions (one assistant message each), ${ROUNDS} rounds:`,
    `  warren cold (new ledger, every session read): ${withRange(spread(f.warrenCold), msf)}, ${(median(f.warrenCold) / N).toFixed(1)} ms a session`,
    `  same reads with undici through ssh -L:        ${withRange(spread(f.sshCold), msf)}`,
    `    warren / ssh -L:                            ${withRange(ratio(f.warrenCold, f.sshCold), xf)}`,
    `  warren warm (nothing changed):                ${withRange(spread(f.warrenWarm), msf)}`,
    `  the list call alone through ssh -L:           ${withRange(spread(f.sshList), msf)}`,
    `    warren warm / ssh -L list:                  ${withRange(ratio(f.warrenWarm, f.sshList), xf)}`,
    `  ledger: ${warm.usageLedger.stats.records} records`,
    '',
  ].join('\n'));
} finally {
  for (const c of closers.reverse()) await c().catch(() => {});
}
