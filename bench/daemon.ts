// A real `warren daemon` (its own process, as deployed) serving one test-bed
// workspace whose "opencode" is bench/fake-opencode.ts, so the gateway's
// pass-through can be measured against the same HTTP target as the other paths.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort, waitFor, type Workspace } from '../container/testbed/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WARREN = path.resolve(here, '..', 'src', 'cli', 'main.js');
const FAKE_OPENCODE = path.join(here, 'fake-opencode.js');
export const OPENCODE_PORT = 4096;

export interface BenchDaemon {
  /** The gateway's base URL. */
  base: string;
  /** Base URL of the workspace's pass-through: append a path of the target. */
  passThrough: string;
  headers: Record<string, string>;
  pid: number;
  close(): Promise<void>;
}

/** Puts a `bench-opencode` command on the workspace user's PATH that runs the fake. */
export function installFakeOpencode(ws: Workspace): string {
  const bin = path.join(ws.home, '.local', 'bin', 'bench-opencode');
  fs.writeFileSync(bin, `#!/bin/sh\nexec '${process.execPath}' '${FAKE_OPENCODE}' "$@"\n`, { mode: 0o755 });
  fs.chownSync(bin, ws.uid, ws.gid);
  return 'bench-opencode';
}

/**
 * `env`: more environment for the daemon (WARREN_GATEWAY_FASTLANE for the A/B);
 * `opencodePort`: the server's port, for a second daemon beside the first.
 * `opencode: 'fake'` (the default) serves bench/fake-opencode.ts, the HTTP target the
 * link paths share; 'real' the workspace's own opencode, for messages.
 */
export async function startDaemon(ws: Workspace, o: { opencode?: 'fake' | 'real'; env?: NodeJS.ProcessEnv; opencodePort?: number } = {}): Promise<BenchDaemon> {
  const real = o.opencode === 'real';
  const command = real ? 'opencode' : installFakeOpencode(ws);
  const dir = fs.mkdtempSync(path.join(ws.dir, 'daemon-'));
  const token = randomBytes(24).toString('base64url');
  const port = await freePort();
  const config = {
    workspaces: {
      [ws.name]: {
        host: ws.host, port: ws.port, user: ws.user, privateKeyPath: ws.privateKeyPath, hostKeyFingerprint: ws.hostKeyFingerprint,
        opencode: { port: o.opencodePort ?? OPENCODE_PORT, command },
      },
    },
    gateway: { listen: `127.0.0.1:${port}`, token },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  let child: ChildProcess;
  try {
    // BENCH_DAEMON_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" profiles the daemon.
    const nodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
    child = spawn(process.execPath, [...nodeArgs, WARREN, 'daemon', '--config', path.join(dir, 'config.json'), '--socket', path.join(dir, 'control.sock')],
      { stdio: ['ignore', log, log], env: { ...process.env, ...o.env } });
  } finally {
    fs.closeSync(log);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const headers = { authorization: `Bearer ${token}` };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor('the daemon\'s tunnel to be up', async () => {
      if (child.exitCode !== null) throw new Error(`warren daemon exited: ${fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8').slice(-300)}`);
      const r = await request(`${base}/v1/workspaces`, { headers }).catch(() => undefined);
      if (!r) return false;
      const body = await r.body.json() as { workspaces?: Array<{ tunnel: { state: string } }> };
      return body.workspaces?.[0]?.tunnel.state === 'up';
    }, { timeoutMs: 20_000, intervalMs: 50 });
    // The first pass-through request starts (or adopts) the server.
    const passThrough = `${base}/v1/workspaces/${ws.name}/opencode`;
    const r = await request(`${passThrough}${real ? '/global/health' : '/small'}`, { headers, headersTimeout: 60_000 });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`gateway pass-through answered ${r.statusCode}: ${text.slice(0, 200)}`);
    return { base, passThrough, headers, pid: child.pid!, close };
  } catch (err) {
    await close();
    throw err;
  }
}
