// `warren chat` as a person uses it: the reply on stdout, the new session's id on
// stderr, progress only on a terminal, Ctrl-C aborts the run, nothing left running.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createWorkspace, run, waitFor } from '../container/testbed/index.js';
import { quoteCommand } from '../src/ssh/quote.js';
import { configFile } from './helpers/runtime.js';

const ws = await createWorkspace({ name: 'clichat' });
t.teardown(() => ws.close());
const main = 'dist/src/cli/main.js';
const serverCount = async () => (await ws.runAsUser(['pgrep', '-c', '-u', ws.user, '-f', 'opencode serve'])).stdout.trim();

t.test('off a terminal: reply on stdout, session id on stderr, nothing else', async (t) => {
  const cfg = configFile(t, [ws]);
  const r = await run([process.execPath, main, 'chat', ws.name, '--config', cfg, 'plain', 'output'], { timeoutMs: 60_000 });
  t.equal(r.code, 0);
  t.equal(r.stdout, 'echo: plain output\n');
  t.match(r.stderr, /^session: ses_[0-9a-f]{12}[0-9A-Za-z]{14}\n$/);
  t.equal(await serverCount(), '0', 'the server it started is stopped again');
});

t.test('on a terminal: progress while opencode starts', async (t) => {
  const cfg = configFile(t, [ws]);
  const cmd = quoteCommand([process.execPath, main, 'chat', ws.name, '--config', cfg, 'with a tty']);
  const r = await run(['script', '-q', '-e', '-c', cmd, '/dev/null'], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stdout);
  t.match(r.stdout, /starting opencode in clichat…/);
  t.match(r.stdout, /echo: with a tty/);
});

t.test('Ctrl-C aborts the run: one line, exit 1, no server left', async (t) => {
  const cfg = configFile(t, [ws]);
  const child = spawn(process.execPath, [main, 'chat', ws.name, '--config', cfg, `[[fake:slow=300]] ${'slowly '.repeat(20)}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  // A cold start and a first prompt: 35 s on a loaded machine (two burners beside the suite).
  await waitFor('the reply to start', () => out.length > 0, { timeoutMs: 90_000 });
  child.kill('SIGINT');
  t.equal(await exited, 1);
  t.match(err, /warren: the caller went away; the run in session ses_\w+ \(workspace clichat\) was aborted\n$/);
  t.equal(err.trim().split('\n').length, 2, 'the session line and one error line');
  await waitFor('no server left', async () => (await serverCount()) === '0', { timeoutMs: 10_000 });
  t.pass('the server it started is stopped');
});
