// A Docker engine for the Docker tests, on machines like this one (see
// ../shared/reference/docker.md): Debian's docker.io and debootstrap installed with
// apt-get when missing, and `dockerd --iptables=false --bridge=none` started when no
// engine answers (no iptables rules, no docker0 bridge: containers run with
// --network=none). Whoever starts the dockerd stops it; one that was already
// running is left alone. Every step has a deadline.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, runOk, waitFor } from '../../container/testbed/index.js';

/** Debian's client: the newer /usr/local/bin/docker here has no buildx, so BuildKit builds fail with it. */
export const DOCKER = '/usr/bin/docker';
/** What is kept between runs: the debootstrap tarball, dockerd's log. */
export const CACHE_DIR = process.env.WARREN_DOCKER_CACHE ?? '/var/cache/warren-docker';

const NEEDED: Array<[file: string, pkg: string]> = [[DOCKER, 'docker.io'], ['/usr/sbin/dockerd', 'docker.io'], ['/usr/sbin/debootstrap', 'debootstrap']];

/** apt-get install of what is missing; an update first only when the lists are stale. Returns what it installed. */
export async function ensurePackages(): Promise<string[]> {
  const missing = [...new Set(NEEDED.filter(([file]) => !fs.existsSync(file)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0) throw new Error(`the Docker tests need ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')}) or run as root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing];
  const first = await run(install, { env, timeoutMs: 600_000 });
  if (first.code !== 0) {
    await runOk(['apt-get', 'update', '-q'], { env, timeoutMs: 300_000 });
    await runOk(install, { env, timeoutMs: 600_000 });
  }
  return missing;
}

export async function engineAnswers(): Promise<boolean> {
  if (!fs.existsSync(DOCKER)) return false;
  const r = await run([DOCKER, 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 });
  return r.code === 0 && r.stdout.trim() !== '';
}

export interface Engine {
  /** The dockerd this process started, or null when one was already answering. */
  startedPid: number | null;
  logPath: string | null;
  /** Stops the dockerd this process started (SIGTERM, SIGKILL past a deadline); nothing otherwise. */
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** An engine that answers: the one running, or a dockerd started here. */
export async function ensureEngine(): Promise<Engine> {
  await ensurePackages();
  if (await engineAnswers()) return { startedPid: null, logPath: null, stop: async () => {} };
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const logPath = path.join(CACHE_DIR, 'dockerd.log');
  const fd = fs.openSync(logPath, 'a');
  let pid: number;
  try {
    // Its own process group, so that a test's Ctrl-C does not reach it halfway through a build.
    const child = spawn('/usr/sbin/dockerd', ['--iptables=false', '--bridge=none'], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error('dockerd did not start');
    pid = child.pid;
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(CACHE_DIR, 'dockerd.pid'), `${pid}\n`);
  const stop = async () => {
    if (alive(pid)) process.kill(pid, 'SIGTERM');
    try {
      await waitFor('dockerd to stop', () => !alive(pid), { timeoutMs: 30_000, intervalMs: 100 });
    } catch {
      process.kill(pid, 'SIGKILL');
      await waitFor('dockerd to die', () => !alive(pid), { timeoutMs: 5_000, intervalMs: 50 });
    }
    fs.rmSync(path.join(CACHE_DIR, 'dockerd.pid'), { force: true });
  };
  try {
    await waitFor('dockerd to answer', async () => {
      if (!alive(pid)) throw new Error(`dockerd exited; see ${logPath}`);
      return engineAnswers();
    }, { timeoutMs: 60_000, intervalMs: 250 });
  } catch (err) {
    await stop();
    throw err;
  }
  return { startedPid: pid, logPath, stop };
}

/** Runs the Docker client with a deadline; fails with its stderr's tail. */
export function docker(args: readonly string[], o: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return runOk([DOCKER, ...args], { timeoutMs: o.timeoutMs ?? 60_000, ...(o.input !== undefined ? { input: o.input } : {}), ...(o.env ? { env: o.env } : {}) });
}
