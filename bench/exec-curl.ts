// The anchor Perry uses today to reach opencode inside a container: one
// `docker exec <container> curl ...` per API call, and an exec'd `curl -N` for the
// event stream. On the test bed ws.runAsUser / ws.spawnAsUser stand in for
// `docker exec` (a process started inside the workspace, as its user). A warm
// message takes the same steps as warren's (look the session up, subscribe to the
// directory's events, send, wait for the session's session.idle, read the
// history), each API call its own process; the event stream is one process, up
// (server.connected seen) before the prompt is sent and killed after idle.
//
// The password of the server warren started never goes into argv: every curl
// reads it from a config on its stdin (`-K -`).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import type { Workspace } from '../container/testbed/index.js';
import { readSse, type SseEvent } from '../src/opencode/sse-reader.js';

const CALL_MS = 30_000;
const CONNECT_MS = 10_000;
const IDLE_MS = 60_000;
const EXIT_MS = 5_000;

interface Event { type?: string; properties?: { sessionID?: string } }

/** A curl config string: quoted, with backslash and quote escaped. */
const configString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`exec curl: ${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** One exec'd `curl -sN` on the event stream, read incrementally. */
class ExecEventStream {
  private readonly child: ChildProcess;
  private readonly events: AsyncIterator<SseEvent>;
  private readonly exited: Promise<void>;
  private stderr = '';

  constructor(ws: Workspace, config: string, url: string) {
    this.child = ws.spawnAsUser(['curl', '-sSN', '--fail', '-K', '-', '-H', 'accept: text/event-stream', url], { input: config });
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.child.on('error', (err) => { this.stderr += String(err); });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.events = readSse(this.child.stdout!)[Symbol.asyncIterator]();
  }

  /** Reads events until one matches; the stream ending first, or the deadline, fails it. */
  async until(what: string, match: (ev: Event) => boolean, ms: number): Promise<void> {
    const reading = (async () => {
      for (;;) {
        const next = await this.events.next();
        if (next.done) throw new Error(`exec curl: the event stream ended before ${what}: ${this.stderr.trim().slice(-300)}`);
        let ev: Event;
        try {
          ev = JSON.parse(next.value.data) as Event;
        } catch {
          continue;
        }
        if (match(ev)) return;
      }
    })();
    reading.catch(() => {}); // after a deadline, its end (the kill) is nobody's error
    await withDeadline(reading, ms, `waiting for ${what}`);
  }

  /** Ends the stream without waiting: the caller goes on as Perry's would. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Ends it and waits until the process is gone. */
  async close(): Promise<void> {
    this.kill();
    await withDeadline(this.exited, EXIT_MS, 'the event stream\'s curl to exit');
  }
}

export interface ExecCurlMessage {
  /** Lookup to history read, as warren's warm round trip is timed. */
  totalMs: number;
  /** The session lookup alone: one exec'd curl call, the per-call floor. */
  callMs: number;
}

export interface ExecCurl {
  message(sessionID: string, directory: string, text: string): Promise<ExecCurlMessage>;
}

/** Perry's way against the server warren started on `port` in the workspace. */
export function execCurl(ws: Workspace, port: number): ExecCurl {
  const pw = fs.readFileSync(path.join(ws.home, '.local', 'state', 'warren', `opencode-${port}.password`), 'utf8').trim();
  const config = `user = ${configString(`opencode:${pw}`)}\n`;
  const base = `http://127.0.0.1:${port}`;

  const call = async (args: string[]): Promise<string> => {
    const r = await ws.runAsUser(['curl', '-sS', '--fail-with-body', '-K', '-', ...args], { input: config, timeoutMs: CALL_MS });
    if (r.code !== 0) throw new Error(`exec curl ${args.at(-1)}: ${r.signal ?? `exit ${r.code}`}: ${`${r.stderr} ${r.stdout}`.trim().slice(-300)}`);
    return r.stdout;
  };

  return {
    async message(sessionID, directory, text) {
      const dir = `directory=${encodeURIComponent(directory)}`;
      const t0 = performance.now();
      const s = JSON.parse(await call([`${base}/session/${sessionID}`])) as { id?: string };
      const callMs = performance.now() - t0;
      if (s.id !== sessionID) throw new Error(`exec curl: the lookup returned session ${s.id}, not ${sessionID}`);
      const events = new ExecEventStream(ws, config, `${base}/event?${dir}`);
      try {
        await events.until('server.connected', (ev) => ev.type === 'server.connected', CONNECT_MS);
        await call(['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', JSON.stringify({ parts: [{ type: 'text', text }] }),
          `${base}/session/${sessionID}/prompt_async?${dir}`]);
        await events.until(`session.idle of ${sessionID}`, (ev) => ev.type === 'session.idle' && ev.properties?.sessionID === sessionID, IDLE_MS);
        events.kill();
        const history = JSON.parse(await call([`${base}/session/${sessionID}/message?${dir}`])) as unknown;
        if (!Array.isArray(history)) throw new Error('exec curl: the history is not a list');
        return { totalMs: performance.now() - t0, callMs };
      } finally {
        await events.close();
      }
    },
  };
}
