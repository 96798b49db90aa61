// Every command's help, in one table: `warren --help` lists them, `warren <cmd> --help`
// and `warren help <cmd>` print one. An operator with OpenSSH and kubectl habits types
// -h first; it must answer with the usage, the options and an example, and exit 0.

export interface CommandHelp {
  usage: string;
  /** One line for the command list. */
  summary: string;
  /** What it does, a few lines. */
  about: string;
  options: Array<[flag: string, what: string]>;
  examples: string[];
}

const CONFIG: [string, string] = ['--config F', 'the config file (default: $WARREN_CONFIG, else /etc/warren/config.json)'];
const SOCKET: [string, string] = ['--socket PATH', 'the daemon\'s control socket (default: $WARREN_SOCKET, else the daemon\'s default)'];

export const COMMANDS: Record<string, CommandHelp> = {
  chat: {
    usage: 'warren chat <workspace> [--session <id>] [--directory D] [--config F] [--keep-server] [--auto] <message>',
    summary: 'send a message and stream the reply',
    about: `Sends the message and streams the assistant's reply to stdout; exits 0 when the
session goes idle. Without --session a new session is created and its id printed on
stderr. A session the server does not know is found and imported first. Works without
a daemon: it opens its own ssh link and stops a server it started when done.`,
    options: [
      ['--session <id>', 'continue this session (ses_...)'],
      ['--directory D', 'the new session\'s project directory inside the workspace'],
      CONFIG,
      ['--keep-server', 'leave an opencode server this command started running'],
      ['--auto', 'answer opencode\'s permission prompts "once" and its questions with their first option, without asking'],
    ],
    examples: ['warren chat alpha "summarise the README"', 'warren chat alpha --session ses_0123456789abcdefABCDEFGHIJ "and now the tests"'],
  },
  sessions: {
    usage: 'warren sessions <workspace> [--json] [--config F]',
    summary: 'list every session of a workspace, all projects and directories',
    about: 'Lists every session the workspace has (its server\'s and the CLI\'s), with id, title,\ndirectory and the time it was last updated.',
    options: [['--json', 'print JSON for scripts'], CONFIG, ['--keep-server', 'leave an opencode server this command started running']],
    examples: ['warren sessions alpha', 'warren sessions alpha --json | jq -r \'.[].id\''],
  },
  check: {
    usage: 'warren check [--config F] [--json] [workspace...]',
    summary: 'validate the config and prove each workspace end to end',
    about: `Reports every problem of the config file at once, then for each workspace (all, or
the ones named) tries each step a link needs: reach sshd, the host key against its
pin (on a mismatch it shows the key the host presents), key authentication, port
forwarding, opencode and its version, the importFrom directories. Starts nothing and
changes nothing. Exit 0 all good, 1 a workspace fails, 2 config errors.`,
    options: [CONFIG, ['--json', 'print the report as JSON']],
    examples: ['warren check', 'warren check --config ./config.json alpha'],
  },
  add: {
    usage: 'warren add <name> --docker <container> [--user U] [--key FILE] [--keys-dir DIR] [--config F] [--docker-bin B]',
    summary: 'add a running Docker container as a workspace, no port needed',
    about: `Writes the workspace's entry into the config file from a running container of
warren's image: transport \`docker exec -i <container> sshd -i\` (no port), the user, the
host key fingerprint read from the container, and a client key (a new ed25519 pair in
DIR/<name>, or --key) installed as the container's authorized key, limited to forwards
to opencode's port. Then it proves the workspace as warren check does; the file is
changed only when that passes. Exit 2 for bad input, 1 when the check fails.
The container: docker run -d --name alpha --network=none warren-workspace`,
    options: [
      ['--docker <container>', 'the running container (name or id); its name goes into the entry'],
      ['--user U', 'the workspace user (default: the container\'s WARREN_WORKSPACE_USER, else workspace)'],
      ['--key FILE', 'log in with this private key instead of generating one'],
      ['--keys-dir DIR', 'where a generated key goes (default: keys/ next to the config file)'],
      CONFIG,
      ['--docker-bin B', 'the Docker client to run, also in the entry (default: $WARREN_DOCKER, else docker)'],
    ],
    examples: ['warren add alpha --docker alpha', 'warren add beta --docker beta --config ./config.json --key ~/.ssh/warren_beta'],
  },
  daemon: {
    usage: 'warren daemon [--config F] [--socket PATH] [--keep-servers]',
    summary: 'run the broker: tunnels, opencode servers, control socket, gateway',
    about: `Holds one ssh link per workspace, starts opencode servers on demand and stops them
when idle, and serves the control socket (for status, reload, attach) and the HTTP
gateway for the host agent. SIGHUP or \`warren reload\` re-reads the config; SIGTERM
drains and exits.`,
    options: [CONFIG, ['--socket PATH', 'where to put the control socket (mode 0600)'], ['--keep-servers', 'leave the opencode servers running at exit']],
    examples: ['warren daemon --config /etc/warren/config.json'],
  },
  reload: {
    usage: 'warren reload [--socket PATH]',
    summary: 'make the running daemon re-read its config and show what changed',
    about: `Asks the running daemon to re-read its config file. It prints the workspaces added,
removed, changed and unchanged, and exits 0. A config with problems is refused: the
daemon keeps its running config, every problem is printed on stderr, exit 2. The
systemd unit's ExecReload runs this, so \`systemctl reload warren\` fails visibly.`,
    options: [SOCKET],
    examples: ['warren reload', 'systemctl reload warren'],
  },
  status: {
    usage: 'warren status [workspace] [--json | -o wide|json] [--watch [SECONDS]] [--socket PATH]',
    summary: 'ask the running daemon: tunnels, opencode servers, last errors',
    about: `Shows what the running daemon knows of each workspace, in a table that fits the
terminal (80 columns off a terminal, or $COLUMNS); a named workspace is shown in full,
with its last errors and their times. Starts nothing itself.`,
    options: [
      ['--json, -o json', 'print the status as JSON (the gateway\'s /v1/workspaces objects)'],
      ['-o wide', 'every column: target, uptime, channels, bytes, reconnects, version...'],
      ['--watch [SECONDS]', 'redraw every SECONDS (default 2) until interrupted'],
      SOCKET,
    ],
    examples: ['warren status', 'warren status alpha', 'warren status -o wide --watch 5', 'warren status --json | jq \'.workspaces[].tunnel.state\''],
  },
  usage: {
    usage: 'warren usage [workspace] [--since 24h] [--by session|model|day] [--json] [--config F | --socket PATH]',
    summary: 'tokens and cost of the agents, per workspace, session, model or day',
    about: `Tokens (input, output, reasoning, cache read and write) and cost as OpenCode
recorded them for each assistant message in the window, every session of the
workspace included (the CLI's inside it too); all workspaces without a name. Asks
the running daemon, which keeps what it read; without one (or with --config) it
reads the workspaces itself. CREAD and CWRITE are cache read and cache write.`,
    options: [
      ['--since D', 'the window: a duration back from now (90m, 24h, 7d) or an ISO time (2026-12-01T08:00:00Z); default 24h'],
      ['--by K', 'one row per session, model or day (UTC); default one row per workspace'],
      ['--json', 'print {"since", "rows": [...]} for scripts (the gateway\'s GET /v1/workspaces/:ws/usage)'],
      CONFIG,
      SOCKET,
    ],
    examples: ['warren usage', 'warren usage alpha --since 7d --by model', 'warren usage alpha --by day --json | jq \'.rows[].cost\''],
  },
  attach: {
    usage: 'warren attach <workspace> [--session <id>] [--dir <path>] [--socket PATH]',
    summary: 'OpenCode\'s own TUI on this host, on a workspace\'s server',
    about: `Runs \`opencode attach\` on this host against the workspace's server, through the
running daemon's gateway; the token goes through the environment, never argv.
--session opens that session (found and imported first) in its own directory unless
--dir names another. Needs opencode on PATH, of the workspace's version.`,
    options: [['--session <id>', 'open this session'], ['--dir <path>', 'the directory inside the workspace'], SOCKET],
    examples: ['warren attach alpha', 'warren attach alpha --session ses_0123456789abcdefABCDEFGHIJ'],
  },
};

export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  if (!c) throw new Error(`no help for ${name}`);
  const width = Math.max(...c.options.map(([f]) => f.length)) + 2;
  return [
    `usage: ${c.usage}`,
    '',
    c.about,
    '',
    'options:',
    ...c.options.map(([f, w]) => `  ${f.padEnd(width)}${w}`),
    `  ${'-h, --help'.padEnd(width)}show this help`,
    '',
    c.examples.length === 1 ? 'example:' : 'examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

export function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length), 'version'.length) + 3;
  return [
    'warren: SSH-tunnel session broker for OpenCode workspaces',
    '',
    'usage: warren <command> [options]',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n]!.summary}`),
    `  ${'help'.padEnd(width)}this help, or \`warren help <command>\` for one command`,
    `  ${'version'.padEnd(width)}print warren's version`,
    '',
    'Every command takes -h / --help.',
    'The config file is --config, else $WARREN_CONFIG, else /etc/warren/config.json.',
    'Set WARREN_LOG_LEVEL=debug to see what happens underneath (on stderr).',
    '',
    'Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.',
    '',
  ].join('\n');
}

/** Whether the command's arguments ask for help: -h or --help before a "--". */
export function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}
