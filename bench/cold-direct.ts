// The baseline for warren's cold first message, run inside the workspace's
// namespace as the workspace user: start `opencode serve`, wait for its listening
// line, create a session, send one message and wait for session.idle, over plain
// loopback HTTP. Prints the milliseconds. Same steps as warren, no SSH.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const port = Number(process.argv[2] ?? 4098);
const base = `http://127.0.0.1:${port}`;
const t0 = performance.now();
const serve = spawn('opencode', ['serve', '--port', String(port), '--hostname', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
try {
  await new Promise<void>((resolve, reject) => {
    let out = '';
    serve.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('listening on')) resolve(); });
    serve.on('exit', () => reject(new Error('opencode serve exited')));
  });
  const session = await (await fetch(`${base}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as { id: string; directory: string };
  const events = await fetch(`${base}/event?directory=${encodeURIComponent(session.directory)}`);
  const reader = events.body!.getReader();
  const idle = (async () => {
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buf += Buffer.from(value).toString();
      if (buf.includes('"session.idle"') && buf.includes(session.id)) return;
    }
  })();
  await fetch(`${base}/session/${session.id}/prompt_async`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parts: [{ type: 'text', text: 'cold hello' }] }) });
  await idle;
  process.stdout.write(`${Math.round(performance.now() - t0)}\n`);
  await reader.cancel();
} finally {
  serve.kill('SIGKILL');
}
process.exit(0);
