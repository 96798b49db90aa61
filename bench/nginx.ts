// The peer an operator would build instead of warren's gateway: Debian's nginx
// checking the same bearer token and proxying, with keep-alive upstream, to an
// OpenSSH `ssh -L` into the workspace. Same client, same target, same URL shape as
// the gateway's pass-through, so the link benchmark can put the two side by side.
// nginx runs in the foreground with its own prefix and config under a temporary
// directory, one worker (the gateway is one Node process), on 127.0.0.1 only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../container/testbed/index.js';

export interface BenchNginx {
  /** Base URL mirroring the gateway's pass-through: append a path of the target. */
  passThrough: string;
  headers: Record<string, string>;
  /** The worker's pid (what forwards: its CPU is the comparable figure). */
  workerPid: number;
  close(): Promise<void>;
}

const NGINX = '/usr/sbin/nginx';

/** Debian's nginx, installed when missing, without starting the packaged service. */
export function ensureNginx(): void {
  if (fs.existsSync(NGINX)) return;
  if (process.getuid?.() !== 0) throw new Error('bench: nginx is not installed and installing it needs root (apt-get install nginx-light)');
  // The package would start a service on 0.0.0.0:80; policy-rc.d's 101 says "not now".
  const policy = '/usr/sbin/policy-rc.d';
  const had = fs.existsSync(policy);
  if (!had) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'nginx-light'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 300_000,
    });
    if (r.status !== 0) throw new Error(`bench: apt-get install nginx-light failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? r.status}`);
  } finally {
    if (!had) fs.rmSync(policy, { force: true });
  }
}

export async function startNginx(o: { upstreamPort: number; workspace: string; token: string }): Promise<BenchNginx> {
  ensureNginx();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-bench-nginx-'));
  const port = await freePort();
  const prefix = `/v1/workspaces/${o.workspace}/opencode/`;
  const conf = `
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream workspace { server 127.0.0.1:${o.upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 100000;
    location ${prefix} {
      if ($http_authorization != "Bearer ${o.token}") { return 401; }
      proxy_pass http://workspace/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_buffering off;
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf, { mode: 0o600 });
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const workerPid = await waitFor('nginx to start its worker', () => {
      if (child.exitCode !== null) throw new Error(`bench: nginx exited: ${stderr.trim()}`);
      const r = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' });
      const pid = Number(r.stdout.trim().split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    }, { timeoutMs: 10_000 });
    return { passThrough: `http://127.0.0.1:${port}${prefix.replace(/\/$/, '')}`, headers: { authorization: `Bearer ${o.token}` }, workerPid, close };
  } catch (err) {
    await close();
    throw err;
  }
}
