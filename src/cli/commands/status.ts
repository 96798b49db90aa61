// `warren status [<workspace>] [--json | -o wide|json] [--watch [SECONDS]] [--socket PATH]`:
// asks the running daemon over its control socket and shows what it says. Never
// starts anything itself. `--interval MS` is kept, unlisted, for scripts of before.
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { ControlError, UsageError, WarrenError } from '../../errors.js';
import { askDaemon } from '../../broker/control-client.js';
import { defaultSocketPath } from '../../broker/control-path.js';
import type { BrokerStatus } from '../../broker/status.js';
import { formatStatusTable } from '../status-view.js';
import { formatStatusDetail } from '../status-detail.js';
import { terminalWidth } from '../text-width.js';

export { askDaemon, noDaemonError } from '../../broker/control-client.js';

const USAGE = 'usage: warren status [<workspace>] [--json | -o wide|json] [--watch [SECONDS]] [--socket PATH]';
const DEFAULT_INTERVAL_MS = 2000;
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CLEAR = '\x1b[H\x1b[2J';

/** Where the command writes and what it knows of its surroundings; tests pass their own. */
export interface StatusIo {
  out: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  err: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Ends --watch like SIGINT/SIGTERM do. */
  signal?: AbortSignal;
}

export async function statusCommand(argv: string[], io: StatusIo = processIo()): Promise<number> {
  const { args, watch: watchArg, wordAfterWatch } = takeWatch(argv);
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { json: { type: 'boolean', default: false }, output: { type: 'string', short: 'o' }, socket: { type: 'string' }, interval: { type: 'string' } },
  });
  if (positionals.length > 1) throw new UsageError(USAGE);
  if (values.socket === '') throw new UsageError('--socket needs a path');
  if (values.output !== undefined && values.output !== 'wide' && values.output !== 'json') {
    throw new UsageError(`-o takes wide or json, not ${JSON.stringify(values.output)}; ${USAGE}`);
  }
  const json = values.json || values.output === 'json';
  const intervalMs = intervalOf(watchArg, values.interval);
  const socketPath = values.socket ?? defaultSocketPath(io.env);
  const tty = io.out.isTTY === true;
  const color = tty && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  const name = positionals[0];
  const render = (s: BrokerStatus) => {
    const width = terminalWidth(io.out, io.env);
    if (name === undefined) {
      return json ? `${JSON.stringify(s, null, 2)}\n` : formatStatusTable(s, { color, width, view: values.output === 'wide' ? 'wide' : 'default' });
    }
    const w = s.workspaces.find((x) => x.name === name);
    if (!w) {
      const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
      const hint = name === wordAfterWatch ? '; --watch takes seconds: --watch 5' : '';
      throw new UsageError(`the daemon on ${socketPath} has no workspace ${shown} (it has: ${s.workspaces.map((x) => x.name).join(', ') || 'none'})${hint}`);
    }
    return json ? `${JSON.stringify(w, null, 2)}\n` : formatStatusDetail(w, { width });
  };

  if (watchArg === undefined) {
    io.out.write(render(await fetchStatus(socketPath)));
    return 0;
  }
  return watch(io, socketPath, intervalMs, render, json);
}

/** One request, the shape checked so a foreign reply fails with a message rather than a TypeError. */
export async function fetchStatus(socketPath: string, signal?: AbortSignal): Promise<BrokerStatus> {
  const reply = await askDaemon(socketPath, { cmd: 'status' }, undefined, signal);
  if (!isBrokerStatus(reply)) {
    throw new ControlError(`the daemon on ${socketPath} answered something that is not a status; is it a warren daemon of this version?`);
  }
  return reply;
}

async function watch(io: StatusIo, socketPath: string, intervalMs: number, render: (s: BrokerStatus) => string, json: boolean): Promise<number> {
  const tty = io.out.isTTY === true;
  const stop = new AbortController();
  const quit = () => stop.abort();
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  io.signal?.addEventListener('abort', quit);
  // A closed pipe (`warren status --watch | head`) ends the watch instead of crashing it.
  const outIsStdout = io.out === process.stdout;
  if (outIsStdout) process.stdout.on('error', quit);
  // Whatever ends the process, the terminal gets its cursor back.
  const restore = () => { io.out.write(SHOW_CURSOR); };
  if (tty) {
    io.out.write(HIDE_CURSOR);
    process.on('exit', restore);
  }
  try {
    let printed = false;
    for (let first = true; !stop.signal.aborted; first = false) {
      const started = Date.now();
      let frame: string;
      try {
        frame = render(await fetchStatus(socketPath, stop.signal));
      } catch (err) {
        if (!(err instanceof WarrenError)) throw err;
        // A workspace the daemon does not have is a mistake in the command, not a passing state.
        if (first && err instanceof UsageError) throw err;
        if (stop.signal.aborted) break;
        // The daemon may be restarting: say so in the frame and keep asking.
        if (json && !tty) {
          io.err.write(`warren: ${err.message}\n`);
          frame = '';
        } else {
          frame = `warren: ${err.message}\n`;
        }
      }
      if (tty) {
        const when = new Date().toTimeString().slice(0, 8);
        io.out.write(`${CLEAR}warren status, every ${intervalMs / 1000}s, at ${when} (Ctrl-C quits)\n\n${frame}`);
      } else if (frame !== '') {
        // Frames in a pipe or file are separated by one blank line.
        io.out.write(printed ? `\n${frame}` : frame);
        printed = true;
      }
      await delay(Math.max(0, intervalMs - (Date.now() - started)), undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    io.signal?.removeEventListener('abort', quit);
    if (outIsStdout) process.stdout.off('error', quit);
    if (tty) {
      process.off('exit', restore);
      restore();
    }
  }
  return 0;
}

/**
 * `--watch` and its optional seconds taken out of argv: `--watch`, `--watch 5`,
 * `--watch=0.5`. A following word that does not look like a number is left alone
 * (it is the workspace: `warren status --watch alpha`).
 */
function takeWatch(argv: string[]): { args: string[]; watch: string | true | undefined; wordAfterWatch?: string } {
  const args: string[] = [];
  let watch: string | true | undefined;
  let wordAfterWatch: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { args.push(...argv.slice(i)); break; }
    if (a.startsWith('--watch=')) {
      watch = a.slice('--watch='.length);
    } else if (a === '--watch') {
      const next = argv[i + 1];
      watch = next !== undefined && /^[-+]?[\d.]+$/.test(next) ? (i++, next) : true;
      if (watch === true && next !== undefined && !next.startsWith('-')) wordAfterWatch = next;
    } else {
      args.push(a);
    }
  }
  return { args, watch, ...(wordAfterWatch !== undefined ? { wordAfterWatch } : {}) };
}

function intervalOf(watch: string | true | undefined, interval: string | undefined): number {
  if (typeof watch === 'string') {
    if (interval !== undefined) throw new UsageError('give the watch interval once: --watch SECONDS');
    const n = /^\d*\.?\d+$/.test(watch) ? Number(watch) : NaN;
    if (!(n >= 0.1 && n <= 86_400)) throw new UsageError(`--watch takes seconds from 0.1 to 86400 (--watch 5, --watch=0.5), not ${JSON.stringify(watch)}`);
    return Math.round(n * 1000);
  }
  if (interval === undefined) return DEFAULT_INTERVAL_MS;
  const n = /^\d+$/.test(interval) ? Number(interval) : NaN;
  if (!(n >= 100 && n <= 3_600_000)) throw new UsageError(`--interval must be a whole number of milliseconds from 100 to 3600000, not ${JSON.stringify(interval)}`);
  return n;
}

function isBrokerStatus(v: unknown): v is BrokerStatus {
  if (typeof v !== 'object' || v === null) return false;
  const wss = (v as { workspaces?: unknown }).workspaces;
  return Array.isArray(wss) && wss.every((w: unknown) => {
    const x = w as Partial<Record<'name' | 'target' | 'tunnel' | 'opencode' | 'messages', unknown>> | null;
    return typeof x === 'object' && x !== null && typeof x.name === 'string' && typeof x.target === 'string'
      && typeof x.tunnel === 'object' && x.tunnel !== null && typeof x.opencode === 'object' && x.opencode !== null
      && typeof x.messages === 'object' && x.messages !== null;
  });
}

function processIo(): StatusIo {
  return { out: process.stdout, err: process.stderr, env: process.env };
}
