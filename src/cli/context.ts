// What every command needs: the config, one workspace out of it, a logger for the
// command line (quiet unless WARREN_LOG_LEVEL says otherwise: a person reads the
// one-line error; the detail is for when they ask for it).
import { loadConfig, defaultConfigPath, type WarrenConfig, type WorkspaceConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';

export function cliLogger(): Logger {
  return createLogger({ level: process.env.WARREN_LOG_LEVEL ?? 'silent' });
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
