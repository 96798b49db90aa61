// A real `warren daemon` process for tests, on a free loopback port and its own
// control socket; stopped (SIGTERM, then SIGKILL past a deadline) by its test.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor, type Workspace } from '../../container/testbed/index.js';
import { readSse } from '../../src/opencode/sse-reader.js';

interface Teardown { teardown(fn: () => unknown): void }

export interface RunningDaemon {
  child: ChildProcess;
  base: string;
  token: string | null;
  socket: string;
  configPath: string;
  dir: string;
  log(): string;
  headers(extra?: Record<string, string>): Record<string, string>;
  /** Rewrites the config file (the same workspaces shape as start) for a SIGHUP. */
  writeConfig(wss: Array<Pick<Workspace, 'name' | 'host' | 'port' | 'user' | 'privateKeyPath' | 'hostKeyFingerprint'>>): void;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}


/**
 * `workspace`: more keys for every workspace's entry (importFrom, opencode, ...).
 * `env`: more environment for the daemon.
 * `config`: more top-level keys of the config file (jumpHosts, ...).
 * `waitUp`: the workspaces whose tunnels must be up before it returns (default: all).
 */
export async function startDaemon(t: Teardown, wss: Array<Pick<Workspace, 'name' | 'host' | 'port' | 'user' | 'privateKeyPath' | 'hostKeyFingerprint'>>, o: { token?: string | null; gateway?: Record<string, unknown>; workspace?: Record<string, unknown>; args?: string[]; waitUp?: string[]; env?: NodeJS.ProcessEnv; config?: Record<string, unknown> } = {}): Promise<RunningDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-daemon-'));
  const port = await freePort();
  const token = o.token === undefined ? 'test-token-for-the-gateway-0123' : o.token;
  const configPath = path.join(dir, 'config.json');
  const socket = path.join(dir, 'warren.sock');
  const writeConfig = (list: typeof wss) => fs.writeFileSync(configPath, JSON.stringify({
    workspaces: Object.fromEntries(list.map((w) => [w.name, { host: w.host, port: w.port, user: w.user, privateKeyPath: w.privateKeyPath, hostKeyFingerprint: w.hostKeyFingerprint, ...o.workspace }])),
    // Idempotency keys in the test's own directory, not the machine's /var/lib/warren.
    gateway: { listen: `127.0.0.1:${port}`, ...(token ? { token } : { tokenFile: path.join(dir, 'token') }), stateDir: path.join(dir, 'state'), ...o.gateway },
    logLevel: 'debug',
    ...o.config,
  }));
  writeConfig(wss);
  // No background usage reads unless a test asks (they open channels that tests count).
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'daemon', '--config', configPath, '--socket', socket, ...(o.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WARREN_USAGE_REFRESH_MS: '0', ...o.env } });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  t.teardown(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitFor('the daemon to be ready', () => {
    if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${log.slice(-500)}`);
    return log.includes('warren daemon ready');
  }, { timeoutMs: 15_000 });
  const theToken = token ?? fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const d: RunningDaemon = {
    child, base: `http://127.0.0.1:${port}`, token: theToken, socket, configPath, dir, log: () => log,
    headers: (extra = {}) => ({ authorization: `Bearer ${theToken}`, ...extra }),
    writeConfig, stop,
  };
  await waitFor('every tunnel up', async () => {
    const r = await fetch(`${d.base}/v1/workspaces`, { headers: d.headers() });
    const body = await r.json() as { workspaces: Array<{ name: string; tunnel: { state: string } }> };
    return body.workspaces.every((w) => w.tunnel.state === 'up' || (o.waitUp !== undefined && !o.waitUp.includes(w.name)));
  }, { timeoutMs: 15_000 });
  return d;
}

/** Reads a server-sent event stream into (event, data) pairs, with the project's own byte-exact SSE reader. */
export async function readEvents(res: Response, onEvent?: (e: { event: string; data: Record<string, unknown>; id: string | null }) => void): Promise<Array<{ event: string; data: Record<string, unknown>; id: string | null }>> {
  const out: Array<{ event: string; data: Record<string, unknown>; id: string | null }> = [];
  for await (const sse of readSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
    const e = { event: sse.event, data: JSON.parse(sse.data) as Record<string, unknown>, id: sse.id };
    out.push(e);
    onEvent?.(e);
  }
  return out;
}

/** The daemon process's resident memory, in bytes. */
export function rssOf(d: RunningDaemon): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${d.child.pid}/status`, 'utf8'))![1]) * 1024;
}

/** Whatever a test offered the daemon, its memory settles within 64 MiB of `before`: garbage, not kept. */
export async function expectMemorySettled(t: { comment(...m: unknown[]): void; pass(m: string): unknown }, d: RunningDaemon, before: number): Promise<void> {
  const after = await waitFor('memory to settle', () => {
    const now = rssOf(d);
    return now < before + 64 * 1024 * 1024 ? now : undefined;
  }, { timeoutMs: 10_000 });
  t.comment(`daemon RSS ${Math.round(before / 1048576)} MiB before, ${Math.round(after / 1048576)} MiB after`);
  t.pass('RSS grew by less than 64 MiB');
}

/**
 * A stream's last event, to compare whole: its SSE id left out, and `done`'s messageID
 * checked to be one (msg_…) and left out; a wrong one stays in, to show in the diff.
 */
export function ending(events: Array<{ event: string; data: Record<string, unknown> }>): { event: string; data: Record<string, unknown> } {
  const last = events.at(-1);
  if (!last) return { event: 'none', data: {} };
  const { messageID, ...data } = last.data;
  if (last.event === 'done' && !/^msg_[0-9a-zA-Z]+$/.test(String(messageID))) data.messageID = messageID;
  return { event: last.event, data };
}
