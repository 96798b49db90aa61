#!/usr/bin/env node
// The `warren` command: parses the command word, runs it, and turns any failure
// into one line on stderr and the exit code the spec fixes (0 ok, 1 runtime, 2 usage).
import { UsageError, isWarrenError } from '../errors.js';
import { warrenVersion } from '../version.js';
import { attachCommand } from './commands/attach.js';
import { chatCommand } from './commands/chat.js';
import { sessionsCommand } from './commands/sessions.js';
import { daemonCommand } from './commands/daemon.js';
import { reloadCommand } from './commands/reload.js';
import { statusCommand } from './commands/status.js';

const HELP = `warren: SSH-tunnel session broker for OpenCode workspaces

usage: warren <command> [options]

commands:
  chat <workspace> [--session <id>] [--directory D] [--config F] [--keep-server] [--auto] <message>
                   send a message and stream the reply; without --session a new
                   session is created and its id printed on stderr. A session the
                   server does not know is found and imported first.
  sessions <workspace> [--json] [--config F]
                   every session of the workspace, all projects and directories
  daemon [--config F] [--socket PATH] [--keep-servers]
                   run the broker: tunnels, opencode servers, the control socket and
                   the gateway. SIGHUP reloads the config; SIGTERM drains and exits.
  reload [--socket PATH]  make the running daemon re-read its config and show what changed
  status [--json] [--watch] [--socket PATH] [--interval MS]
                   ask the running daemon: tunnels, opencode servers, last errors
  attach <workspace> [--session <id>] [--dir <path>] [--socket PATH]
                   OpenCode's own TUI on this host, on the workspace's server through
                   the running daemon's gateway (needs opencode on PATH)
  help             show this help
  version          print warren's version

The config file is --config, else $WARREN_CONFIG, else /etc/warren/config.json.
Set WARREN_LOG_LEVEL=debug to see what happens underneath (on stderr).

options:
  -h, --help       show this help
  -v, --version    print warren's version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '-h' || cmd === '--help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd === 'version' || cmd === '-v' || cmd === '--version') {
    process.stdout.write(`${warrenVersion()}\n`);
    return 0;
  }
  if (cmd.startsWith('-')) throw new UsageError(`unknown option ${cmd}; see warren --help`);
  try {
    switch (cmd) {
      case 'chat': return await chatCommand(rest);
      case 'sessions': return await sessionsCommand(rest);
      case 'daemon': return await daemonCommand(rest);
      case 'status': return await statusCommand(rest);
      case 'reload': return await reloadCommand(rest);
      case 'attach': return await attachCommand(rest);
      default: throw new UsageError(`unknown command ${JSON.stringify(cmd)}; see warren --help`);
    }
  } catch (err) {
    // node:util parseArgs throws plain errors for unknown options: those are usage errors.
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(`${(err as Error).message}; see warren --help`);
    throw err;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`warren: ${message}\n`);
  process.exitCode = isWarrenError(err) ? err.exitCode : 1;
});
