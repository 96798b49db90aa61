// `warren attach <workspace> [--session <id>] [--dir <path>] [--socket PATH]`:
// OpenCode's own TUI on this host, on a workspace's server, through the running
// daemon's gateway: no container port, and the session found and imported first
// like `warren chat`. The daemon hands over the gateway and its token (attach.ts
// in the broker); the TUI gets the token in its environment, never in argv, where
// every local user could read it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AttachInfo } from '../../broker/attach.js';
import { askDaemon } from '../../broker/control-client.js';
import { defaultSocketPath } from '../../broker/control-path.js';
import { checkDirectory } from '../../broker/workspace.js';
import { ClientVersionError, NoOpencodeClientError, UsageError } from '../../errors.js';
import { checkSessionId } from '../../opencode/locate.js';

export const ATTACH_USAGE = 'usage: warren attach <workspace> [--session <id>] [--dir <path>] [--socket PATH]';
/** Starting the workspace's server and importing the session can take this long. */
const ATTACH_ASK_MS = 120_000;
const VERSION_TIMEOUT_MS = 15_000;

export async function attachCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { session: { type: 'string' }, dir: { type: 'string' }, socket: { type: 'string' } },
  });
  const [name, ...extra] = positionals;
  if (!name || extra.length) throw new UsageError(ATTACH_USAGE);
  if (values.session !== undefined) checkSessionId(values.session);
  if (values.dir !== undefined) checkDirectory(values.dir);
  const client = findOnPath('opencode');
  const info = await askDaemon(values.socket ?? defaultSocketPath(), { cmd: 'attach', workspace: name, ...(values.session !== undefined ? { session: values.session } : {}) }, ATTACH_ASK_MS) as AttachInfo;
  if (!client) throw new NoOpencodeClientError(info.opencodeVersion);
  checkVersion(name, versionOf(client), info.opencodeVersion);
  const dir = values.dir ?? info.directory;
  const args = ['attach', info.url, ...(values.session !== undefined ? ['--session', values.session] : []), ...(dir ? ['--dir', dir] : [])];
  const env: NodeJS.ProcessEnv = { ...process.env, OPENCODE_SERVER_PASSWORD: info.token };
  delete env.OPENCODE_SERVER_USERNAME;
  return run(client, args, env);
}

/** The TUI owns the terminal until it exits; a signal meant for warren is passed on to it. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit', env });
    // Ctrl-C reaches the TUI from the terminal itself; warren must not die of it first.
    const ignore = () => {};
    const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const done = () => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
    // It was on PATH a moment ago; gone or not executable now.
    child.once('error', () => {
      done();
      reject(new NoOpencodeClientError(null));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** The first executable named `name` on PATH, as the shell would find it. */
export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      if (fs.statSync(file).isFile()) {
        fs.accessSync(file, fs.constants.X_OK);
        return file;
      }
    } catch {
      // not here
    }
  }
  return null;
}

function versionOf(file: string): string | null {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: VERSION_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
  return /(\d+\.\d+\.\d+\S*)/.exec(r.stdout ?? '')?.[1] ?? null;
}

/**
 * Patch releases keep the API the TUI and the server share; a different minor or
 * major release may not (OpenCode moves routes between them), so that is refused
 * with the version to install rather than left to fail inside the TUI.
 */
export function checkVersion(workspace: string, host: string | null, remote: string): void {
  const [hm, hn] = (host ?? '').split('.');
  const [rm, rn] = remote.split('.');
  if (host === null || hm !== rm || hn !== rn) throw new ClientVersionError(workspace, host ?? 'of unknown version', remote);
  if (host !== remote) process.stderr.write(`warren: note: opencode on this host is ${host}, workspace ${workspace} runs ${remote}\n`);
}
