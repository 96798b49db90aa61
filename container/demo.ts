#!/usr/bin/env node
// The README's demo: stands up an embedded default workspace, creates a session
// there with OpenCode's interactive CLI (as a user of a workspace would), shows
// it, and removes everything again, also on Ctrl-C or failure.
import { createWorkspace, run, type Workspace } from './testbed/index.js';
import { quoteArg } from '../src/ssh/quote.js';
import { WorkspaceRuntime } from '../src/broker/workspace.js';

const PROMPT = 'Hello from the warren demo';

function say(line = ''): void { process.stdout.write(`${line}\n`); }

async function ssh(ws: Workspace, argv: string[], timeoutMs = 90_000): Promise<string> {
  const r = await run(ws.sshArgv(argv), { timeoutMs });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in the workspace failed (exit ${r.code}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

interface SessionRow { id: string; title: string; directory: string; updated: number }

interface Closable { close(): Promise<void> }

async function demo(track: (c: Closable) => void): Promise<void> {
  let t0 = Date.now();
  say('warren demo: standing up workspace "alpha" (network namespace, sshd, opencode, fake model)...');
  const ws = await createWorkspace({ name: 'alpha' });
  track(ws);
  workspaces.push(ws);
  say(`  up in ${Date.now() - t0} ms: ${ws.isolated ? 'isolated in its own network namespace' : 'NOT isolated (loopback fallback)'}`);
  say('  what warren needs to reach it (its config entry):');
  say(JSON.stringify({ alpha: {
    host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint,
  } }, null, 2).replace(/^/gm, '    '));

  const dir = '~/projects/demo';
  say();
  say(`Creating a session with the interactive CLI inside the workspace, in ${dir}:`);
  say(`  $ ssh ${ws.user}@${ws.host} 'cd ${dir} && opencode run "${PROMPT}"'`);
  t0 = Date.now();
  const reply = await ssh(ws, ['sh', '-c', `mkdir -p ${dir} && cd ${dir} && opencode run ${quoteArg(PROMPT)}`]);
  say(`  reply (${Date.now() - t0} ms, most of it opencode starting): ${reply.trim().split('\n').pop()}`);

  say();
  say('The session, as opencode lists it inside the workspace:');
  const rows = JSON.parse(await ssh(ws, ['sh', '-c', `cd ${dir} && opencode session list --format json`])) as SessionRow[];
  for (const s of rows) {
    say(`  id:        ${s.id}`);
    say(`  title:     ${s.title}`);
    say(`  directory: ${s.directory}`);
    say(`  updated:   ${new Date(s.updated).toISOString()}`);
  }
  if (rows.length === 0) throw new Error('opencode listed no session after opencode run');
  const exported = JSON.parse(await ssh(ws, ['opencode', 'export', rows[0]!.id])) as { messages: Array<{ info: { role: string }; parts: Array<{ type: string; text?: string }> }> };
  say('  messages:');
  for (const m of exported.messages) {
    const text = m.parts.filter((p) => p.type === 'text').map((p) => p.text ?? '').join(' ').trim();
    say(`    ${m.info.role.padEnd(9)} ${text}`);
  }
  say();
  say('This session lives in a directory no `opencode serve` was started in: the case that hangs');
  say('forever when a web UI resumes it through a server. warren resumes it through its SSH tunnel:');
  const rt = new WorkspaceRuntime({
    name: 'alpha', host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath,
    hostKeyFingerprint: ws.hostKeyFingerprint, importFrom: [], transport: { kind: 'tcp' },
    keepalive: { intervalMs: 1000, timeoutMs: 1800 },
    opencode: { port: 4096, command: 'opencode', idleTimeoutMs: 600_000, startTimeoutMs: 60_000 },
  });
  track({ close: () => rt.close({ stopServer: true }) });
  rt.server.on('progress', (line: string) => say(`  ${line}`));
  rt.start();
  await rt.link.waitForUp(15_000);
  const id = rows[0]!.id;
  for (const [i, text] of ['Resumed through warren', 'And once more, now that the server is warm'].entries()) {
    t0 = Date.now();
    say(`  > ${text}`);
    let first = true;
    await rt.chat(id, { text, onDelta: (d) => { process.stdout.write(`${first ? '  < ' : ''}${d}`); first = false; } });
    say(`   (${Date.now() - t0} ms${i === 0 ? ', starting opencode serve included' : ''})`);
  }
  const link = rt.link.snapshot();
  say(`  tunnel: ${link.state}, keepalive RTT ${link.keepaliveRttMs ?? '?'} ms, ${link.channelsOpened} channels over one SSH connection`);
}

const workspaces: Workspace[] = [];

async function mainDemo(): Promise<number> {
  const open: Closable[] = [];
  let closing: Promise<void> | undefined;
  // Newest first: warren's runtime goes before the workspace it talks to.
  const cleanup = () => (closing ??= (async () => { for (const c of [...open].reverse()) await c.close(); })().then(() => {
    const left = workspaces.flatMap((w) => w.leftovers());
    say(left.length ? `cleanup left: ${left.join(', ')}` : 'workspace removed: no namespace, process, user or file left behind.');
  }));
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nwarren demo: ${sig}, cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await demo((ws) => open.push(ws));
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
