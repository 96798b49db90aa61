// What limits the warm message round trip, measured: the same steps warren takes
// per message (look the session up, subscribe to the directory's events, send,
// wait for session.idle, read the history), done directly against the running
// server inside the workspace over loopback HTTP, as the workspace user. Prints
// JSON: the median of the whole, of the send-to-idle part (opencode's own work) and
// of the time to the first token (from the lookup to the reply's first text delta,
// as warren's caller counts it), after one message not counted.
// usage: warm-direct PORT SESSION_ID DIRECTORY ROUNDS
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

const [port, sessionID, directory, rounds] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const pw = fs.readFileSync(path.join(os.homedir(), '.local', 'state', 'warren', `opencode-${port}.password`), 'utf8').trim();
const headers = { authorization: `Basic ${Buffer.from(`opencode:${pw}`).toString('base64')}` };
const dir = `directory=${encodeURIComponent(directory!)}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function once(i: number): Promise<{ total: number; opencode: number; ttft: number }> {
  const t0 = performance.now();
  const s = await fetch(`${base}/session/${sessionID}`, { headers });
  await s.text();
  const events = await fetch(`${base}/event?${dir}`, { headers: { ...headers, accept: 'text/event-stream' } });
  const reader = events.body!.getReader();
  let buf = '';
  let ttft = NaN;
  let scanned = 0;
  /** The reply's first text delta, as soon as its line has arrived. */
  const seeFirstDelta = () => {
    const end = buf.lastIndexOf('\n');
    if (end <= scanned) return;
    for (const line of buf.slice(scanned, end).split('\n')) {
      if (!line.startsWith('data: ') || !line.includes('message.part.delta')) continue;
      const ev = JSON.parse(line.slice(6)) as { type: string; properties: { sessionID?: string; field?: string } };
      if (ev.type === 'message.part.delta' && ev.properties.sessionID === sessionID && ev.properties.field === 'text') { ttft = performance.now() - t0; break; }
    }
    scanned = end;
  };
  const until = async (needle: (b: string) => boolean) => {
    while (!needle(buf)) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buf += Buffer.from(value).toString();
      if (Number.isNaN(ttft)) seeFirstDelta();
    }
  };
  await until((b) => b.includes('server.connected'));
  const t1 = performance.now();
  const r = await fetch(`${base}/session/${sessionID}/prompt_async?${dir}`, {
    method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ parts: [{ type: 'text', text: `direct ${i}` }] }),
  });
  await r.text();
  await until((b) => /"session\.idle"/.test(b) && b.includes(sessionID!));
  const t2 = performance.now();
  await reader.cancel();
  const h = await fetch(`${base}/session/${sessionID}/message?${dir}`, { headers });
  await h.text();
  return { total: performance.now() - t0, opencode: t2 - t1, ttft };
}

// One message first, not counted: a fresh process's first requests pay for JIT and connections.
await once(-1);
const all: Array<{ total: number; opencode: number; ttft: number }> = [];
for (let i = 0; i < Number(rounds); i++) all.push(await once(i));
process.stdout.write(`${JSON.stringify({ totalMs: median(all.map((a) => a.total)), opencodeMs: median(all.map((a) => a.opencode)), ttftMs: median(all.map((a) => a.ttft)) })}\n`);
process.exit(0);
