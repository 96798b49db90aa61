#!/usr/bin/env node
// The README's demo, the whole story on one machine: two test-bed workspaces; a
// session created with OpenCode's interactive CLI in one of them, in a project
// directory no server runs in; `warren daemon` started; that session resumed
// through the gateway with the reply streaming; then `warren status`. Everything
// is removed again at the end, also on Ctrl-C or failure.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkspaces, freePort, run, waitFor, type Workspace } from './testbed/index.js';
import { quoteArg } from '../src/ssh/quote.js';

const PROMPT = 'Hello from the warren demo';
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function say(line = ''): void { process.stdout.write(`${line}\n`); }


async function ssh(ws: Workspace, argv: string[], timeoutMs = 90_000): Promise<string> {
  const r = await run(ws.sshArgv(argv), { timeoutMs });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in the workspace failed (exit ${r.code}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

interface Closable { close(): Promise<void> }

/** Sends a message through the gateway and prints the reply as its events stream in. */
async function streamMessage(base: string, token: string, ws: string, session: string, text: string): Promise<number> {
  const t0 = Date.now();
  say(`  > ${text}`);
  const res = await fetch(`${base}/v1/workspaces/${ws}/sessions/${session}/messages`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }),
  });
  if (res.status !== 200) throw new Error(`the gateway answered ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  let buf = '';
  let first = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString();
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? '{}') as { delta?: string; message?: string };
      if (event === 'text') {
        process.stdout.write(`${first ? '  < ' : ''}${data.delta ?? ''}`);
        first = false;
      } else if (event === 'error') {
        throw new Error(`the reply failed: ${data.message}`);
      }
    }
  }
  return Date.now() - t0;
}

async function demo(track: (c: Closable) => void, dir: string): Promise<void> {
  let t0 = Date.now();
  say('warren demo: standing up workspaces "alpha" and "beta" (network namespace, sshd, opencode, fake model each)...');
  const [alpha, beta] = await createWorkspaces(2, { namePrefix: 'demo' });
  for (const ws of [alpha!, beta!]) track(ws);
  say(`  up in ${Date.now() - t0} ms: ${alpha!.isolated ? 'each isolated in its own network namespace, only sshd reachable' : 'NOT isolated (loopback fallback)'}`);

  const project = '~/projects/demo';
  say();
  say(`In alpha, a session made with the interactive CLI, in ${project}:`);
  say(`  $ ssh ${alpha!.user}@${alpha!.host} 'cd ${project} && opencode run "${PROMPT}"'`);
  t0 = Date.now();
  const reply = await ssh(alpha!, ['sh', '-c', `mkdir -p ${project} && cd ${project} && opencode run ${quoteArg(PROMPT)}`]);
  say(`  ${reply.trim().split('\n').pop()}   (${Date.now() - t0} ms: one CLI process per message)`);
  const rows = JSON.parse(await ssh(alpha!, ['sh', '-c', `cd ${project} && opencode session list --format json`])) as Array<{ id: string; directory: string }>;
  const id = rows[0]?.id;
  if (!id) throw new Error('opencode listed no session after opencode run');
  say(`  session ${id} in ${rows[0]!.directory}`);
  say('  No opencode server runs in that directory: a web UI resuming it through a server waits forever.');

  const configPath = path.join(dir, 'config.json');
  const socket = path.join(dir, 'warren.sock');
  const token = 'demo-token-only-for-this-run';
  const port = await freePort();
  const names = ['alpha', 'beta'];
  fs.writeFileSync(configPath, JSON.stringify({
    workspaces: Object.fromEntries([alpha!, beta!].map((w, i) => [names[i], {
      host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprint: w.hostKeyFingerprint,
    }])),
    gateway: { listen: `127.0.0.1:${port}`, token },
  }, null, 2));
  say();
  say(`Starting the broker: warren daemon --config ${configPath}`);
  const logFile = path.join(dir, 'daemon.log');
  const log = fs.openSync(logFile, 'w');
  const daemon: ChildProcess = spawn(process.execPath, [MAIN, 'daemon', '--config', configPath, '--socket', socket], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => daemon.on('close', resolve));
  track({
    close: async () => {
      if (daemon.exitCode === null) daemon.kill('SIGTERM');
      const timer = setTimeout(() => daemon.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      say(`warren daemon stopped (exit ${code}): it stopped the opencode server it ran and closed its tunnels.`);
    },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the daemon to be ready', () => {
    const text = fs.readFileSync(logFile, 'utf8');
    if (daemon.exitCode !== null) throw new Error(`the daemon exited: ${text.trim().split('\n').pop()}`);
    return text.includes('warren daemon ready');
  }, { timeoutMs: 15_000 });
  await waitFor('both tunnels up', async () => {
    const r = await fetch(`${base}/v1/workspaces`, { headers: { authorization: `Bearer ${token}` } });
    return ((await r.json()) as { workspaces: Array<{ tunnel: { state: string } }> }).workspaces.every((w) => w.tunnel.state === 'up');
  }, { timeoutMs: 15_000 });
  say(`  gateway on ${base}, one SSH connection per workspace, no container port but sshd's`);

  say();
  say(`Resuming the CLI's session through the gateway (POST /v1/workspaces/alpha/sessions/${id}/messages):`);
  const cold = await streamMessage(base, token, 'alpha', id, 'Resumed through warren');
  say(`   (${cold} ms, starting opencode serve in alpha included)`);
  const warm = await streamMessage(base, token, 'alpha', id, 'And once more, now that the server is warm');
  say(`   (${warm} ms)`);

  say();
  say('$ warren status');
  const status = await run([process.execPath, MAIN, 'status', '--socket', socket], { timeoutMs: 15_000 });
  if (status.code !== 0) throw new Error(`warren status failed: ${status.stderr.trim()}`);
  say(status.stdout.trimEnd().replace(/^/gm, '  '));
}

async function mainDemo(): Promise<number> {
  const open: Closable[] = [];
  const workspaces: Workspace[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-demo-'));
  let closing: Promise<void> | undefined;
  // Newest first: the daemon goes before the workspaces it talks to.
  const cleanup = () => (closing ??= (async () => {
    for (const c of [...open].reverse()) await c.close().catch((err: Error) => say(`cleanup: ${err.message}`));
    fs.rmSync(dir, { recursive: true, force: true });
    const left = workspaces.flatMap((w) => w.leftovers());
    say(left.length ? `cleanup left: ${left.join(', ')}` : 'workspaces removed: no namespace, process, user or file left behind.');
  })());
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nwarren demo: ${sig}, cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await demo((c) => {
      open.push(c);
      if ('leftovers' in c) workspaces.push(c as Workspace);
    }, dir);
    return 0;
  } catch (err) {
    process.stderr.write(`warren demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    say();
    await cleanup();
  }
}

process.exitCode = await mainDemo();
