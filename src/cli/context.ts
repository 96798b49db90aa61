// What every command needs: the config, one workspace out of it, a logger for the
// command line (quiet unless WARREN_LOG_LEVEL says otherwise: a person reads the
// one-line error; the detail is for when they ask for it), and for the commands
// that work on a workspace themselves, its link up or the line that says why not.
import { WorkspaceRuntime } from '../broker/workspace.js';
import { loadConfig, defaultConfigPath, type WarrenConfig, type WorkspaceConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';

/** How long a one-shot command waits for its link, while its attempts fail in ways that may heal. */
export const UP_WAIT_MS = 15_000;

/** Readable lines on a terminal, JSON lines otherwise (for a file or a collector); both on stderr. */
export function cliLogger(): Logger {
  return createLogger({ level: process.env.WARREN_LOG_LEVEL ?? 'silent', pretty: Boolean(process.stderr.isTTY) });
}

/** Progress lines on stderr when a person watches it (a terminal); nothing otherwise. */
export function progressOnTerminal(): ((line: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (line) => { process.stderr.write(`${line}\n`); };
}

/**
 * A one-shot command's workspace, its link up. A first attempt refused, unreachable
 * or rejected (key, host key) ends it at once with that error: trying again would
 * not help (the link's failFast). Failures that may heal are retried up to UP_WAIT_MS.
 */
export async function openWorkspace(ws: WorkspaceConfig, logger: Logger): Promise<WorkspaceRuntime> {
  const onProgress = progressOnTerminal();
  const rt = new WorkspaceRuntime(ws, { logger, failFast: true, ...(onProgress ? { onProgress } : {}) });
  try {
    rt.start();
    await rt.link.waitForUp(UP_WAIT_MS);
    return rt;
  } catch (err) {
    await rt.close({ stopServer: false });
    throw err;
  }
}

export function loadFor(configPath: string | undefined): WarrenConfig {
  return loadConfig(configPath ?? defaultConfigPath());
}

export function pickWorkspace(config: WarrenConfig, name: string | undefined): WorkspaceConfig {
  if (!name) throw new UsageError('name a workspace; see warren --help');
  const ws = config.workspaces.get(name);
  if (!ws) {
    const known = [...config.workspaces.keys()].join(', ');
    const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
    throw new UsageError(`no workspace ${shown} in ${config.path ?? 'the config'} (it has: ${known})`);
  }
  return ws;
}
