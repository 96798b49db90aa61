#!/usr/bin/env node
// The `warren` command: parses the command word, runs it, and turns any failure
// into one line on stderr and the exit code the spec fixes (0 ok, 1 runtime, 2 usage).
import { UsageError, isWarrenError } from '../errors.js';
import { warrenVersion } from '../version.js';
import { asksForHelp, commandHelp, COMMANDS, mainHelp } from './help.js';

// Each command is loaded when it runs: ssh2, undici and the SDK take most of a
// start, and help, version and usage errors need none of them (`warren --help`
// went from 0.5 s of CPU to about a fifth of that).
const COMMAND_MODULES: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  chat: async () => (await import('./commands/chat.js')).chatCommand,
  sessions: async () => (await import('./commands/sessions.js')).sessionsCommand,
  daemon: async () => (await import('./commands/daemon.js')).daemonCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  reload: async () => (await import('./commands/reload.js')).reloadCommand,
  attach: async () => (await import('./commands/attach.js')).attachCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  add: async () => (await import('./commands/add.js')).addCommand,
  usage: async () => (await import('./commands/usage.js')).usageCommand,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || (cmd === 'help' && rest.length === 0)) {
    process.stdout.write(mainHelp());
    return 0;
  }
  if (cmd === 'help') {
    const [topic, ...more] = rest;
    if (more.length > 0 || !Object.hasOwn(COMMANDS, topic!)) throw new UsageError(`no help for ${JSON.stringify(topic)}: the commands are ${Object.keys(COMMANDS).join(', ')}`);
    process.stdout.write(commandHelp(topic!));
    return 0;
  }
  if (cmd === 'version' || cmd === '-v' || cmd === '--version') {
    process.stdout.write(`${warrenVersion()}\n`);
    return 0;
  }
  if (cmd.startsWith('-')) throw new UsageError(`unknown option ${cmd}; see warren --help`);
  if (Object.hasOwn(COMMANDS, cmd) && asksForHelp(rest)) {
    process.stdout.write(commandHelp(cmd));
    return 0;
  }
  try {
    const load = Object.hasOwn(COMMAND_MODULES, cmd) ? COMMAND_MODULES[cmd] : undefined;
    if (!load) throw new UsageError(`unknown command ${JSON.stringify(cmd)}; see warren --help`);
    return await (await load())(rest);
  } catch (err) {
    // node:util parseArgs throws plain errors for unknown options: those are usage errors.
    const code = (err as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(`${parseArgsProblem(code, (err as Error).message)}; see warren ${cmd} --help`);
    throw err;
  }
}

/** Node's words for a bad option, without its advice about "--", which is not what a person meant. */
function parseArgsProblem(code: string, message: string): string {
  const option = /'([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  return message.split('. ')[0]!;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`warren: ${message}\n`);
  process.exitCode = isWarrenError(err) ? err.exitCode : 1;
});
